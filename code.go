package papi

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"lukechampine.com/blake3"

	"github.com/papi-dev/papi/internal/codes"
	"github.com/papi-dev/papi/internal/sandbox"
)

// SandboxLimits bound what the WebAssembly handlers of a bundle may take on
// this peer. Zero fields keep their defaults.
type SandboxLimits struct {
	// Memory is the most memory one instance of a module may use; 256 MiB
	// by default. A module that needs more fails that call with
	// CodeResourceExhausted.
	Memory uint64
	// CallTimeout is the longest a call may run, whatever the caller's
	// deadline (which also applies); 10 seconds by default.
	CallTimeout time.Duration
	// ModuleSize is the largest module the peer compiles; 64 MiB by default.
	ModuleSize int64
	// ResponseSize is the largest response a module may return; 64 MiB by default.
	ResponseSize int
	// Instances is how many instances of a bundle's module run calls at
	// once; GOMAXPROCS by default. Each holds its own memory.
	Instances int
}

// Sandbox sets the limits of the WebAssembly handlers the peer runs.
func Sandbox(l SandboxLimits) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error { c.sandbox.Limits = l.internal(); c.ownSandbox = true; return nil })
}

// CompileCache sets the directory where compiled modules are kept across
// runs, so that a process serving a bundle it compiled before starts in
// milliseconds rather than seconds. The default is "compiled" under the
// default store directory; "" keeps compiled code in memory only.
func CompileCache(dir string) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		c.sandbox.CacheDir = dir
		c.cacheSet = true
		c.ownSandbox = true
		return nil
	})
}

func (l SandboxLimits) internal() sandbox.Limits {
	return sandbox.Limits{MemoryBytes: l.Memory, CallTimeout: l.CallTimeout, ModuleBytes: l.ModuleSize, ResponseBytes: l.ResponseSize, Instances: l.Instances}
}

var (
	sharedSandboxOnce sync.Once
	sharedSandbox     *sandbox.Runtime
	sharedSandboxErr  error
)

// defaultSandbox is the runtime every peer without sandbox options shares, so
// a module compiles once per process.
func defaultSandbox() (*sandbox.Runtime, error) {
	sharedSandboxOnce.Do(func() {
		var cfg sandbox.Config
		if dir, err := DefaultStoreDir(); err == nil {
			cfg.CacheDir = filepath.Join(dir, "compiled")
		}
		sharedSandbox, sharedSandboxErr = sandbox.New(context.Background(), cfg)
	})
	return sharedSandbox, sharedSandboxErr
}

// runtime returns the sandbox the peer runs modules in, starting it on first use.
func (p *Peer) runtime() (*sandbox.Runtime, error) {
	if !p.ownSandbox {
		return defaultSandbox()
	}
	p.sandboxOnce.Do(func() {
		cfg := p.sandboxConfig
		if !p.cacheSet {
			if dir, err := DefaultStoreDir(); err == nil {
				cfg.CacheDir = filepath.Join(dir, "compiled")
			}
		}
		p.sandbox, p.sandboxErr = sandbox.New(context.Background(), cfg)
	})
	return p.sandbox, p.sandboxErr
}

// CodeHash returns the content address of the bundle's handlers, a
// WebAssembly module, and false if the bundle carries none.
func (b *Bundle) CodeHash() (Hash, bool) {
	if b.code == nil {
		return Hash{}, false
	}
	return newHash(codecRaw, b.code.digest), true
}

// Code returns the bundle's WebAssembly module, verified against its hash,
// or nil if the bundle carries none.
func (b *Bundle) Code() ([]byte, error) {
	if b.code == nil {
		return nil, nil
	}
	return b.code.Bytes()
}

// BuildModule compiles the Go main package pkg (an import path, or a
// directory such as ./module) for GOOS=wasip1 GOARCH=wasm with the go
// command, for a bundle's handlers. The package declares its API with package
// guest in init. The build is reproducible (-trimpath, no VCS stamp): the
// same source and Go version give the same module, and so the same hash.
func BuildModule(ctx context.Context, pkg string) ([]byte, error) {
	wasm, err := sandbox.Build(ctx, ".", pkg)
	if err != nil {
		return nil, err
	}
	return wasm, nil
}

// Build compiles pkg with BuildModule and bundles the module with its spec
// and the datasets: see BundleModule.
func Build(ctx context.Context, pkg string, datasets ...*Dataset) (*Bundle, error) {
	wasm, err := BuildModule(ctx, pkg)
	if err != nil {
		return nil, err
	}
	return BundleModule(ctx, wasm, datasets...)
}

// BundleModule makes a bundle whose handlers are the WebAssembly module
// wasm: its spec is the one the module declares (it is asked, in a sandbox),
// and its manifest names the module by hash beside the spec and the
// datasets. So the bundle hash covers code, spec and data, while the API
// hash is still the spec's alone: a native implementation of the same
// interface (papi.Handle with the same types) has the same API hash.
//
// Serve runs the module when no Implement is given, on any peer, with no
// Go code of that peer's own.
func BundleModule(ctx context.Context, wasm []byte, datasets ...*Dataset) (*Bundle, error) {
	rt, err := defaultSandbox()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	digest := blake3.Sum256(wasm)
	m, err := rt.Compile(ctx, digest, wasm)
	if err != nil {
		return nil, sandboxError(err)
	}
	sb, err := m.Spec(ctx)
	if err != nil {
		return nil, sandboxError(err)
	}
	s, err := decodeSpec(sb, blake3.Sum256(sb))
	if err != nil {
		return nil, fmt.Errorf("module's spec: %w", err)
	}
	code := &Dataset{name: codeFile}
	code.setBytes(wasm)
	return newBundle(s, sb, datasets, Hash{}, nil, code, nil)
}

// WithCode returns a bundle of b's spec and datasets served by another
// module, which must declare the same spec: an improved implementation of
// the same interface. Its parent is b, so lineage records the code it was
// derived from.
func (b *Bundle) WithCode(ctx context.Context, wasm []byte) (*Bundle, error) {
	nb, err := BundleModule(ctx, wasm, b.datasets...)
	if err != nil {
		return nil, err
	}
	if nb.apiHash != b.apiHash {
		return nil, errorf(ErrSpecMismatch, "module declares API %s, the bundle's is %s", nb.apiHash, b.apiHash)
	}
	return newBundle(b.spec, b.specBytes, b.datasets, b.hash, b.api, nb.code, b.lineage)
}

// loadCode compiles b's module (once per process and hash; from the
// compilation cache when it was compiled before), starts its instances and
// checks that the module declares exactly the bundle's spec.
func (p *Peer) loadCode(ctx context.Context, b *Bundle) (*sandbox.Pool, error) {
	rt, err := p.runtime()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if lim := rt.Limits().ModuleBytes; b.code.size > lim {
		return nil, errorf(ErrTooLarge, "bundle %s: module of %d bytes, this peer runs at most %d", b.hash, b.code.size, lim)
	}
	wasm, err := b.code.Bytes()
	if err != nil {
		return nil, fmt.Errorf("bundle %s: code: %w", b.hash, err)
	}
	m, err := rt.Compile(ctx, b.code.digest, wasm)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", b.hash, sandboxError(err))
	}
	pool, sb, err := m.NewPool(ctx, bundleData{b}, p.log.Warn)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", b.hash, sandboxError(err))
	}
	if !bytes.Equal(sb, b.specBytes) {
		pool.Close()
		return nil, errorf(ErrSpecMismatch, "bundle %s: its module declares API %s, its manifest names API %s", b.hash, hashBytes(codecCBOR, sb), b.apiHash)
	}
	return pool, nil
}

// precompile compiles a cloned bundle's module in the background, so that
// serving it later starts from the compilation cache.
func (p *Peer) precompile(b *Bundle) {
	if b.code == nil {
		return
	}
	go func() {
		rt, err := p.runtime()
		if err != nil {
			return
		}
		wasm, err := b.code.Bytes()
		if err != nil {
			return
		}
		if _, err := rt.Compile(p.ctx, b.code.digest, wasm); err != nil {
			p.log.Warn("papi: compile cloned module", "bundle", b.hash.String(), "err", err)
		}
	}()
}

// sandboxError turns the sandbox's errors into papi's, code and sentinel kept.
func sandboxError(err error) error {
	if se, ok := err.(*sandbox.Error); ok {
		return remoteError(Code(se.Code), se.Message, se.Reason)
	}
	if err == context.DeadlineExceeded || err == context.Canceled {
		return NewError(CodeOf(err), err)
	}
	return Errorf(Code(codes.Internal), "%w", err)
}
