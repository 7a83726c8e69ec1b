package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/codes"
	"lukechampine.com/blake3"
)

// testModules are the modules in testdata, each with the enforcements the
// tests compile it under.
var testModules = map[string][]Enforcement{
	"hostile":   {LoopCheck, ContextDone, Unbounded},
	"badimport": {LoopCheck},
	"initloop":  {LoopCheck},
}

var (
	built     = map[string][]byte{}
	buildErrs = map[string]error{}
	// cacheDir is one compilation cache for the tests, kept across runs:
	// compiling one of the test modules takes seconds, and about a minute
	// under the race detector.
	cacheDir string
)

// precompileEnv, set, makes the test binary fill the compilation cache and
// exit; see precompile.
const precompileEnv = "PAPI_SANDBOX_PRECOMPILE"

func TestMain(m *testing.M) {
	buildModules()
	dir, cleanup, err := testCacheDir()
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	if os.Getenv(precompileEnv) != "" {
		compileAll(dir)
		os.Exit(0)
	}
	if raceEnabled {
		precompile(dir)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// buildModules builds every module in testdata once per test binary, all at
// once: each build is a go command of its own.
func buildModules() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name := range testModules {
		wg.Go(func() {
			b, err := Build(context.Background(), ".", "./testdata/"+name)
			mu.Lock()
			defer mu.Unlock()
			built[name], buildErrs[name] = b, err
		})
	}
	wg.Wait()
}

// module returns the test module built from testdata/name.
func module(t testing.TB, name string) []byte {
	t.Helper()
	b, ok := built[name]
	if !ok {
		t.Fatalf("no test module %s: add it to testModules", name)
	}
	if err := buildErrs[name]; err != nil {
		t.Fatal(err)
	}
	return b
}

// testCacheDir returns the compilation cache for this version of the test
// modules and of wazero, under the user's cache directory, and a function
// that removes it if it had to be made in a temporary directory instead.
// One directory per version keeps the compiled code of modules since changed
// from piling up: others not used for a day are removed, while one in use
// by a test process of another work tree stays.
//
// wazero keeps its own cache apart per version, but knows its version from
// the binary's build information, which a test binary lacks ("dev" for
// every version): the directory's name has the version from go.mod.
func testCacheDir() (string, func(), error) {
	base, err := os.UserCacheDir()
	if err != nil {
		dir, err := os.MkdirTemp("", "papi-sandbox-test-")
		return dir, func() { os.RemoveAll(dir) }, err
	}
	base = filepath.Join(base, "papi", "test-sandbox")
	h := blake3.New(32, nil)
	v, _ := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/tetratelabs/wazero").Output()
	fmt.Fprintf(h, "wazero %s\n", bytes.TrimSpace(v))
	for _, name := range slices.Sorted(maps.Keys(testModules)) {
		fmt.Fprintf(h, "%s %x\n", name, blake3.Sum256(built[name]))
	}
	dir := filepath.Join(base, fmt.Sprintf("%x", h.Sum(nil)[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	now := time.Now()
	os.Chtimes(dir, now, now)
	if old, err := os.ReadDir(base); err == nil {
		for _, e := range old {
			if info, err := e.Info(); err == nil && e.Name() != filepath.Base(dir) && now.Sub(info.ModTime()) > 24*time.Hour {
				os.RemoveAll(filepath.Join(base, e.Name()))
			}
		}
	}
	return dir, func() {}, nil
}

// precompile fills the cache, once per version of the test modules, with
// this package's test binary built without the race detector, under which
// wazero's compiler runs about ten times slower: about ten seconds in all
// where the tests would take minutes. The tests then load what it compiled
// through the same Runtime.Compile as they would load what they had
// compiled themselves: wazero's cache is keyed by the module and the
// enforcement, not by how the process was built. If the child fails the
// tests compile what they need themselves.
func precompile(dir string) {
	marker := filepath.Join(dir, "precompiled")
	if _, err := os.Stat(marker); err == nil {
		return
	}
	tmp, err := os.MkdirTemp("", "papi-precompile-")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "sandbox.test")
	if out, err := exec.Command("go", "test", "-c", "-race=false", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox tests: building the test binary without the race detector: %v: %s\n", err, out)
		return
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), precompileEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox tests: precompiling without the race detector: %v: %s\n", err, out)
		return
	}
	os.WriteFile(marker, nil, 0o644)
}

// compileAll compiles every test module under each of its enforcements
// into the cache in dir, each in a goroutine of its own: wazero compiles a
// module on one core, and the machine may have others.
func compileAll(dir string) {
	var wg sync.WaitGroup
	for name, enforce := range testModules {
		for _, e := range enforce {
			wg.Go(func() {
				ctx := context.Background()
				r, err := New(ctx, Config{Enforce: e, CacheDir: dir})
				if err != nil {
					return
				}
				defer r.Close(ctx)
				// Errors are the tests' to judge: a module refused after it
				// compiled (one importing what papi does not provide) is in
				// the cache all the same.
				r.Compile(ctx, blake3.Sum256(built[name]), built[name])
			})
		}
	}
	wg.Wait()
}

type memData map[string][]byte

func (m memData) Size(name string) (int64, bool) {
	b, ok := m[name]
	return int64(len(b)), ok
}

func (m memData) ReadAt(name string, p []byte, off int64) (int, error) {
	return bytes.NewReader(m[name]).ReadAt(p, off)
}

func newRuntime(t testing.TB, l Limits) *Runtime {
	t.Helper()
	r, err := New(context.Background(), Config{Limits: l, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func newPool(t testing.TB, r *Runtime, wasm []byte, data DataSource) *Pool {
	t.Helper()
	m, err := r.Compile(t.Context(), blake3.Sum256(wasm), wasm)
	if err != nil {
		t.Fatal(err)
	}
	p, spec, err := m.NewPool(t.Context(), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec) == 0 {
		t.Fatal("empty spec")
	}
	t.Cleanup(p.Close)
	return p
}

type in struct {
	S string `cbor:"s"`
	N int    `cbor:"n"`
}

type out struct {
	S string `cbor:"s"`
}

func call(t *testing.T, p *Pool, ctx context.Context, method string, req in) (out, error) {
	t.Helper()
	b, err := canon.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Call(ctx, method, b)
	if err != nil {
		return out{}, err
	}
	var o out
	if err := canon.NewDecoder(canon.Limits{MaxBytes: 1 << 30, MaxDepth: 4, MaxElements: 16}).Unmarshal(resp, &o); err != nil {
		t.Fatal(err)
	}
	return o, nil
}

func wantCode(t *testing.T, err error, code codes.Code, text string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a sandbox error with code %v", err, err, code)
	}
	if e.Code != code || !strings.Contains(e.Message, text) {
		t.Fatalf("error %v, want code %v and a message with %q", err, code, text)
	}
}

// TestHostileModule runs every attack of the hostile module, each followed
// by an honest call: the attack fails alone, and the pool keeps serving.
func TestHostileModule(t *testing.T) {
	t.Parallel()
	data, _ := canon.Marshal([]string{"a", "b"})
	r := newRuntime(t, Limits{MemoryBytes: 32 << 20, CallTimeout: 5 * time.Second, ResponseBytes: 1 << 20, Instances: 2})
	p := newPool(t, r, module(t, "hostile"), memData{"letters": data, "raw": []byte("0123456789")})

	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()

	tests := []struct {
		name   string
		method string
		req    in
		ctx    func() (context.Context, context.CancelFunc)
		code   codes.Code
		text   string
	}{
		{"infinite loop", "Loop", in{N: 1}, nil, codes.DeadlineExceeded, "time limit"}, // the server's limit
		{"infinite loop, caller deadline", "Loop", in{N: 1}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, codes.DeadlineExceeded, "time limit"},
		{"infinite loop, caller gone", "Loop", in{N: 1}, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, codes.Canceled, "caller went away"},
		{"memory bomb", "Bomb", in{}, nil, codes.ResourceExhausted, "out of memory"},
		{"read a host file", "ReadFile", in{S: secret}, nil, codes.NotFound, ""},
		{"read /etc/passwd", "ReadFile", in{S: "/etc/passwd"}, nil, codes.NotFound, ""},
		{"dial the network", "Dial", in{S: ln.Addr().String()}, nil, codes.Unavailable, ""},
		{"huge response", "Huge", in{N: 2 << 20}, nil, codes.ResourceExhausted, "limit"},
		{"panic", "Panic", in{S: "x"}, nil, codes.Internal, "handler panicked"},
		{"exit", "Exit", in{}, nil, codes.Internal, "exited with code 3"},
		{"unknown method", "Nope", in{}, nil, codes.Unimplemented, "no method"},
		{"missing dataset", "Data", in{S: "nope"}, nil, codes.NotFound, "no dataset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			_, err := call(t, p, ctx, tt.method, tt.req)
			wantCode(t, err, tt.code, tt.text)
			got, err := call(t, p, t.Context(), "Echo", in{S: "still here"})
			if err != nil || got.S != "still here" {
				t.Fatalf("honest call after %s: %v, %v", tt.name, got, err)
			}
		})
	}
	select {
	case <-accepted:
		t.Fatal("the module reached a host socket")
	default:
	}
	env, err := call(t, p, t.Context(), "Env", in{})
	if err != nil || env.S != "" {
		t.Fatalf("environment seen by the module: %q, %v", env.S, err)
	}
	got, err := call(t, p, t.Context(), "Data", in{S: "letters"})
	if err != nil || got.S != "a,b" {
		t.Fatalf("Data: %v, %v", got, err)
	}
	got, err = call(t, p, t.Context(), "Range", in{S: "raw", N: 3})
	if err != nil || got.S != "3456" {
		t.Fatalf("Range: %v, %v", got, err)
	}
}

func TestModulesRefused(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, Limits{CallTimeout: time.Second, ModuleBytes: 32 << 20})
	good := module(t, "hostile")
	tests := []struct {
		name string
		wasm []byte
		code codes.Code
		text string
	}{
		{"unknown import", module(t, "badimport"), codes.FailedPrecondition, "env.steal"},
		{"truncated", good[:len(good)/2], codes.InvalidArgument, "module"},
		{"corrupted", corrupt(good), codes.InvalidArgument, "module"},
		{"not wasm", []byte("#!/bin/sh\nrm -rf /\n"), codes.InvalidArgument, "not a WebAssembly module"},
		{"over the size cap", append(bytes.Clone(good), make([]byte, 32<<20)...), codes.ResourceExhausted, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Compile(t.Context(), blake3.Sum256(tt.wasm), tt.wasm)
			wantCode(t, err, tt.code, tt.text)
		})
	}
	t.Run("never finishes initialising", func(t *testing.T) {
		wasm := module(t, "initloop")
		m, err := r.Compile(t.Context(), blake3.Sum256(wasm), wasm)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = m.NewPool(t.Context(), memData{}, nil)
		wantCode(t, err, codes.DeadlineExceeded, "time limit")
	})
}

// corrupt flips bytes in the middle of the code section's function bodies.
func corrupt(b []byte) []byte {
	c := bytes.Clone(b)
	for i := len(c) / 3; i < len(c)/3+64; i++ {
		c[i] = 0xFF
	}
	return c
}

func TestInstrumentKeepsBehaviour(t *testing.T) {
	t.Parallel()
	for enforce, name := range map[Enforcement]string{LoopCheck: "loop check", ContextDone: "context done", Unbounded: "unbounded"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := New(t.Context(), Config{Enforce: enforce, CacheDir: cacheDir})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close(context.Background()) })
			p := newPool(t, r, module(t, "hostile"), memData{})
			got, err := call(t, p, t.Context(), "Huge", in{N: 1000})
			if err != nil || got.S != strings.Repeat("x", 1000) {
				t.Fatalf("enforcement %d: %v", enforce, err)
			}
		})
	}
}
