// Package sandbox runs a bundle's handlers, compiled to WebAssembly, inside
// wazero: with no file system, network or environment, datasets read-only
// through host functions, memory capped per instance and every call bounded
// in time. A trap, an exit or a time-out fails that one call and discards
// the instance; other calls carry on.
package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/codes"
	"github.com/papi-dev/papi/internal/guestabi"
)

// Limits bound what a module may take. Zero fields take the defaults.
type Limits struct {
	MemoryBytes   uint64        // memory of one instance; default 256 MiB
	CallTimeout   time.Duration // longest call, whatever the caller's deadline; default 10 s
	ModuleBytes   int64         // largest module; default 64 MiB
	ResponseBytes int           // largest response; default 64 MiB
	Instances     int           // instances per bundle, each running one call at a time; default GOMAXPROCS
}

// Defaults of Limits.
const (
	DefaultMemoryBytes   = 256 << 20
	DefaultCallTimeout   = 10 * time.Second
	DefaultModuleBytes   = 64 << 20
	DefaultResponseBytes = 64 << 20
)

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MemoryBytes == 0 {
		l.MemoryBytes = DefaultMemoryBytes
	}
	if l.CallTimeout == 0 {
		l.CallTimeout = DefaultCallTimeout
	}
	if l.ModuleBytes == 0 {
		l.ModuleBytes = DefaultModuleBytes
	}
	if l.ResponseBytes == 0 {
		l.ResponseBytes = DefaultResponseBytes
	}
	if l.Instances == 0 {
		l.Instances = runtime.GOMAXPROCS(0)
	}
	return l
}

// Enforcement is how a runtime stops a call that runs past its time.
type Enforcement int

const (
	// LoopCheck adds a check of a global at the head of every loop of the
	// module when it is loaded; the host sets the global at the deadline.
	LoopCheck Enforcement = iota
	// ContextDone is wazero's WithCloseOnContextDone, for comparison.
	ContextDone
	// Unbounded does not stop calls at all, for comparison only.
	Unbounded
)

// Config configures a Runtime.
type Config struct {
	Limits Limits
	// CacheDir keeps compiled code across processes; empty keeps it in memory.
	CacheDir string
	Enforce  Enforcement
}

// Error is how a call fails: a code, a message and, for instances of papi's
// sentinels, the sentinel's wire name.
type Error struct {
	Code    codes.Code
	Message string
	Reason  string
}

func (e *Error) Error() string { return e.Code.String() + ": " + e.Message }

func errorf(code codes.Code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Runtime compiles and runs modules. One serves every bundle of a peer.
type Runtime struct {
	rt     wazero.Runtime
	cache  wazero.CompilationCache
	limits Limits
	cfg    Config

	mu      sync.Mutex
	modules map[[32]byte]*compiling
}

type compiling struct {
	done chan struct{}
	mod  *Module
	err  error
}

// DataSource is the datasets of the bundle a call is served from.
type DataSource interface {
	Size(name string) (int64, bool)
	ReadAt(name string, p []byte, off int64) (int, error)
}

type dataKey struct{}

// New starts a runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg.Limits = cfg.Limits.WithDefaults()
	pages := cfg.Limits.MemoryBytes / 65536
	if pages < 1 || pages > 65536 {
		return nil, fmt.Errorf("sandbox: memory limit %d bytes out of range", cfg.Limits.MemoryBytes)
	}
	rc := wazero.NewRuntimeConfig().WithMemoryLimitPages(uint32(pages)).WithCloseOnContextDone(cfg.Enforce == ContextDone)
	r := &Runtime{limits: cfg.Limits, cfg: cfg, modules: map[[32]byte]*compiling{}}
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("sandbox: compilation cache: %w", err)
		}
		r.cache = c
		rc = rc.WithCompilationCache(c)
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("sandbox: wasi: %w", err)
	}
	_, err := r.rt.NewHostModuleBuilder(guestabi.ImportModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(datasetSize), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}).Export(guestabi.ImportDatasetSize).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(datasetRead), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).Export(guestabi.ImportDatasetRead).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(tick), nil, nil).Export(guestabi.ImportTick).
		Instantiate(ctx)
	if err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("sandbox: host functions: %w", err)
	}
	return r, nil
}

// Limits returns the runtime's limits, defaults filled in.
func (r *Runtime) Limits() Limits { return r.limits }

// Close releases the runtime and every instance.
func (r *Runtime) Close(ctx context.Context) error {
	err := r.rt.Close(ctx)
	if r.cache != nil {
		r.cache.Close(ctx)
	}
	return err
}

func callData(ctx context.Context) DataSource {
	d, _ := ctx.Value(dataKey{}).(DataSource)
	return d
}

func datasetSize(ctx context.Context, m api.Module, stack []uint64) {
	name, ok := m.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	src := callData(ctx)
	if !ok || src == nil {
		stack[0] = api.EncodeI64(-1)
		return
	}
	n, ok := src.Size(string(name))
	if !ok {
		n = -1
	}
	stack[0] = api.EncodeI64(n)
}

// maxRead bounds one host read: the guest reads large datasets in pieces.
const maxRead = 16 << 20

func datasetRead(ctx context.Context, m api.Module, stack []uint64) {
	mem := m.Memory()
	name, ok := mem.Read(uint32(stack[0]), uint32(stack[1]))
	off := int64(stack[2])
	buf, bufOK := mem.Read(uint32(stack[3]), min(uint32(stack[4]), maxRead))
	src := callData(ctx)
	if !ok || !bufOK || src == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	size, ok := src.Size(string(name))
	switch {
	case !ok:
		stack[0] = api.EncodeI32(-1)
		return
	case off < 0 || off > size:
		stack[0] = api.EncodeI32(-2)
		return
	}
	n, err := src.ReadAt(string(name), buf[:min(int64(len(buf)), size-off)], off)
	if err != nil && !errors.Is(err, io.EOF) {
		stack[0] = api.EncodeI32(-2)
		return
	}
	stack[0] = api.EncodeI32(int32(n))
}

// Module is a compiled module, ready to instantiate.
type Module struct {
	r        *Runtime
	compiled wazero.CompiledModule
}

// Compile compiles a module, once per digest however often it is asked for.
// digest must be the BLAKE3 hash of wasm, which the caller verified.
func (r *Runtime) Compile(ctx context.Context, digest [32]byte, wasm []byte) (*Module, error) {
	r.mu.Lock()
	c, ok := r.modules[digest]
	if !ok {
		c = &compiling{done: make(chan struct{})}
		r.modules[digest] = c
		go func() {
			defer close(c.done)
			c.mod, c.err = r.compile(context.WithoutCancel(ctx), wasm)
		}()
	}
	r.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if c.err != nil {
		r.mu.Lock()
		if r.modules[digest] == c {
			delete(r.modules, digest) // a later try may have other limits or a fixed cache
		}
		r.mu.Unlock()
	}
	return c.mod, c.err
}

var wantExports = map[string]struct{ params, results []api.ValueType }{
	guestabi.ExportBuffer: {[]api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}},
	guestabi.ExportCall:   {[]api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}},
	guestabi.ExportSpec:   {nil, []api.ValueType{api.ValueTypeI64}},
	"_initialize":         {nil, nil},
}

func (r *Runtime) compile(ctx context.Context, wasm []byte) (*Module, error) {
	if int64(len(wasm)) > r.limits.ModuleBytes {
		return nil, errorf(codes.ResourceExhausted, guestabi.ReasonTooLarge, "module of %d bytes, limit %d", len(wasm), r.limits.ModuleBytes)
	}
	code := wasm
	if r.cfg.Enforce == LoopCheck {
		var err error
		if code, err = instrument(wasm); err != nil {
			return nil, errorf(codes.InvalidArgument, guestabi.ReasonMalformed, "module: %v", err)
		}
	}
	cm, err := r.rt.CompileModule(ctx, code)
	if err != nil {
		return nil, errorf(codes.InvalidArgument, guestabi.ReasonMalformed, "module: %v", err)
	}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != guestabi.ImportModule && mod != wasi_snapshot_preview1.ModuleName {
			cm.Close(ctx)
			return nil, errorf(codes.FailedPrecondition, "", "module imports %s.%s, which papi does not provide (only %s and %s)", mod, name, guestabi.ImportModule, wasi_snapshot_preview1.ModuleName)
		}
	}
	exports := cm.ExportedFunctions()
	for name, want := range wantExports {
		f, ok := exports[name]
		if !ok || !slices.Equal(f.ParamTypes(), want.params) || !slices.Equal(f.ResultTypes(), want.results) {
			cm.Close(ctx)
			return nil, errorf(codes.FailedPrecondition, "", "module does not export %s as papi's guest package does (build it with papi build)", name)
		}
	}
	return &Module{r: r, compiled: cm}, nil
}

// instance is one instantiated module; it runs one call at a time.
type instance struct {
	mod          api.Module
	buffer, call api.Function
	fuel         api.MutableGlobal // nil unless the runtime enforces by LoopCheck
	stderr       *tail
	memLimit     uint64
	stack        [2]uint64
}

func (m *Module) instantiate(ctx context.Context, data DataSource) (*instance, error) {
	r := m.r
	in := &instance{stderr: &tail{max: 4 << 10}, memLimit: r.limits.MemoryBytes}
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithStderr(in.stderr).WithStdout(io.Discard).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	mod, err := r.rt.InstantiateModule(ctx, m.compiled, cfg)
	if err != nil {
		return nil, errorf(codes.FailedPrecondition, "", "instantiate module: %v", err)
	}
	in.mod = mod
	in.buffer = mod.ExportedFunction(guestabi.ExportBuffer)
	in.call = mod.ExportedFunction(guestabi.ExportCall)
	if g, ok := mod.ExportedGlobal(guestabi.ExportFuel).(api.MutableGlobal); ok && r.cfg.Enforce == LoopCheck {
		in.fuel = g
	}
	// The module's own initialisation (Go's runtime and its init functions)
	// runs under the same time limit as a call.
	err = in.bounded(ctx, r.limits.CallTimeout, func(ctx context.Context) error {
		_, err := mod.ExportedFunction("_initialize").Call(ctx)
		return err
	})
	if err != nil {
		mod.Close(context.WithoutCancel(ctx))
		return nil, in.failure("initialise module", err)
	}
	return in, nil
}

// fuelPerTick is how many loop iterations a module runs between two ticks:
// enough that ticks cost nothing measurable, few enough that a tick comes
// every millisecond or so.
const fuelPerTick = 200_000

// callState is what tick checks: the call's deadline and its caller.
type callState struct {
	ctx      context.Context
	deadline time.Time
	fuel     api.MutableGlobal
	stopped  error // why tick stopped the call
}

type stateKey struct{}

// errStopped is what tick panics with; wazero turns it into the error of the
// call, and the state says why.
var errStopped = errors.New("stopped by the host")

func tick(ctx context.Context, m api.Module, _ []uint64) {
	st, _ := ctx.Value(stateKey{}).(*callState)
	if st == nil {
		return
	}
	if err := st.ctx.Err(); err != nil {
		st.stopped = err
		panic(errStopped)
	}
	if !time.Now().Before(st.deadline) {
		st.stopped = context.DeadlineExceeded
		panic(errStopped)
	}
	st.fuel.Set(fuelPerTick)
}

// bounded runs f, stopping the module when ctx ends or limit passes.
func (in *instance) bounded(ctx context.Context, limit time.Duration, f func(context.Context) error) error {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < limit {
		limit = time.Until(d)
	}
	if limit <= 0 {
		return &stopError{cause: context.DeadlineExceeded}
	}
	if in.fuel == nil {
		// ContextDone and Unbounded: wazero stops the call, or nothing does.
		cctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		err := f(cctx)
		if err != nil && cctx.Err() != nil {
			return &stopError{cause: cctx.Err()}
		}
		return err
	}
	st := &callState{ctx: ctx, deadline: time.Now().Add(limit), fuel: in.fuel}
	in.fuel.Set(fuelPerTick)
	err := f(context.WithValue(ctx, stateKey{}, st))
	if st.stopped != nil {
		return &stopError{cause: st.stopped, err: err}
	}
	return err
}

type stopError struct {
	cause error // context.DeadlineExceeded or the caller's cancellation
	err   error
}

func (e *stopError) Error() string { return "stopped: " + e.cause.Error() }

// failure turns an error of a call into the module into an *Error.
func (in *instance) failure(what string, err error) *Error {
	var se *stopError
	if errors.As(err, &se) {
		if errors.Is(se.cause, context.Canceled) {
			return errorf(codes.Canceled, "", "%s: caller went away", what)
		}
		return errorf(codes.DeadlineExceeded, "", "%s: time limit reached", what)
	}
	msg := in.stderr.String()
	if strings.Contains(msg, "out of memory") {
		return errorf(codes.ResourceExhausted, guestabi.ReasonTooLarge, "%s: module ran out of memory (limit %d bytes): %s", what, in.memLimit, lastLine(msg))
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return errorf(codes.Internal, "", "%s: module exited with code %d: %s", what, exit.ExitCode(), lastLine(msg))
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	if msg != "" {
		first += ": " + lastLine(msg)
	}
	return errorf(codes.Internal, "", "%s: module trapped: %s", what, first)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "fatal error") || strings.HasPrefix(line, "panic") || strings.HasPrefix(line, "runtime:") {
			return line
		}
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	if s == "" {
		return "no message"
	}
	return s
}

// tail keeps the first and the last bytes written to it: a module's stderr,
// for the message of a crash (Go prints the cause first and a stack after),
// without letting a module fill the host's memory.
type tail struct {
	mu   sync.Mutex
	max  int
	head []byte
	b    []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if room := t.max - len(t.head); room > 0 {
		k := min(room, len(p))
		t.head = append(t.head, p[:k]...)
		p = p[k:]
	}
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return n, nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.head) + string(t.b)
}

// invoke runs one call on in. It returns whether in is still usable.
func (in *instance) invoke(ctx context.Context, limits Limits, method string, req []byte) ([]byte, bool, error) {
	var out []byte
	var callErr *Error
	err := in.bounded(ctx, limits.CallTimeout, func(ctx context.Context) error {
		stack := in.stack[:]
		stack[0] = uint64(len(method) + len(req))
		if err := in.buffer.CallWithStack(ctx, stack); err != nil {
			return err
		}
		addr := uint32(stack[0])
		mem := in.mod.Memory()
		if !mem.WriteString(addr, method) || !mem.Write(addr+uint32(len(method)), req) {
			callErr = errorf(codes.Internal, "", "module gave a buffer outside its memory")
			return nil
		}
		stack[0], stack[1] = uint64(len(method)), uint64(len(req))
		if err := in.call.CallWithStack(ctx, stack); err != nil {
			return err
		}
		faddr, n := guestabi.Unpack(stack[0])
		if int64(n) > int64(limits.ResponseBytes)+1 {
			callErr = errorf(codes.ResourceExhausted, guestabi.ReasonTooLarge, "%s response: %d bytes, limit %d", method, n-1, limits.ResponseBytes)
			return nil
		}
		frame, ok := mem.Read(faddr, n)
		if !ok || n == 0 {
			callErr = errorf(codes.Internal, "", "module answered outside its memory")
			return nil
		}
		switch frame[0] {
		case guestabi.StatusOK:
			out = append([]byte(nil), frame[1:]...)
		case guestabi.StatusError:
			var ef guestabi.ErrorFrame
			if err := frameDecoder.UnmarshalExact(frame[1:], &ef); err != nil {
				callErr = errorf(codes.Internal, "", "%s: module sent a malformed error: %v", method, err)
				return nil
			}
			code := codes.Code(ef.Code)
			if code == codes.OK || code > codes.Unauthenticated {
				code = codes.Unknown
			}
			callErr = &Error{Code: code, Message: ef.Message, Reason: ef.Reason}
		default:
			callErr = errorf(codes.Internal, "", "%s: module answered with status %d", method, frame[0])
		}
		return nil
	})
	if err != nil {
		return nil, false, in.failure(method, err)
	}
	if callErr != nil {
		return nil, true, callErr
	}
	return out, true, nil
}

var frameDecoder = canon.NewDecoder(canon.Limits{MaxBytes: 1 << 20, MaxDepth: 4, MaxElements: 16})

// Spec returns the spec the module declares, from a fresh instance.
func (m *Module) Spec(ctx context.Context) ([]byte, error) {
	in, err := m.instantiate(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer in.mod.Close(context.WithoutCancel(ctx))
	return in.spec(ctx, m.r.limits)
}

func (in *instance) spec(ctx context.Context, limits Limits) ([]byte, error) {
	var out []byte
	var specErr error
	err := in.bounded(ctx, limits.CallTimeout, func(ctx context.Context) error {
		res, err := in.mod.ExportedFunction(guestabi.ExportSpec).Call(ctx)
		if err != nil {
			return err
		}
		addr, n := guestabi.Unpack(res[0])
		frame, ok := in.mod.Memory().Read(addr, n)
		switch {
		case !ok || n == 0 || n > 8<<20+1:
			specErr = errorf(codes.InvalidArgument, guestabi.ReasonMalformed, "module answered its spec with %d bytes outside its memory or over 8 MiB", n)
		case frame[0] == guestabi.StatusOK:
			out = append([]byte(nil), frame[1:]...)
		default:
			var ef guestabi.ErrorFrame
			frameDecoder.UnmarshalExact(frame[1:], &ef)
			specErr = errorf(codes.FailedPrecondition, "", "module's spec: %s", ef.Message)
		}
		return nil
	})
	if err != nil {
		return nil, in.failure("spec", err)
	}
	return out, specErr
}

// Pool is a set of instances of one module serving one bundle's data.
type Pool struct {
	m      *Module
	data   DataSource
	limits Limits
	ctx    context.Context
	cancel context.CancelFunc
	log    func(msg string, args ...any)

	idle chan *instance
	mu   sync.Mutex
	live int
	err  error // why the last instance could not be made
	wg   sync.WaitGroup
}

// NewPool starts a pool: it makes one instance now, so that a module that
// cannot start fails here, and returns the spec that instance declares; the
// other instances start in the background.
func (m *Module) NewPool(ctx context.Context, data DataSource, log func(msg string, args ...any)) (*Pool, []byte, error) {
	limits := m.r.limits
	p := &Pool{m: m, data: data, limits: limits, idle: make(chan *instance, limits.Instances), log: log}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	in, err := m.instantiate(ctx, data)
	if err != nil {
		return nil, nil, err
	}
	spec, err := in.spec(ctx, limits)
	if err != nil {
		in.mod.Close(ctx)
		return nil, nil, err
	}
	p.live = 1
	p.idle <- in
	for range limits.Instances - 1 {
		p.grow()
	}
	return p, spec, nil
}

// grow starts one more instance in the background.
func (p *Pool) grow() {
	p.mu.Lock()
	if p.live >= p.limits.Instances || p.ctx.Err() != nil {
		p.mu.Unlock()
		return
	}
	p.live++
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		in, err := p.m.instantiate(p.ctx, p.data)
		if err != nil {
			p.mu.Lock()
			p.live--
			p.err = err
			p.mu.Unlock()
			if p.log != nil && p.ctx.Err() == nil {
				p.log("papi: module instance failed to start", "err", err)
			}
			return
		}
		select {
		case p.idle <- in:
		default:
			in.mod.Close(context.Background())
		}
	}()
}

// Call runs one call on an idle instance, waiting for one if all are busy.
func (p *Pool) Call(ctx context.Context, method string, req []byte) ([]byte, error) {
	var in *instance
	select {
	case in = <-p.idle:
	default:
		p.mu.Lock()
		live, err := p.live, p.err
		p.mu.Unlock()
		if live == 0 {
			p.grow()
			if err != nil {
				return nil, errorf(codes.Unavailable, "", "no module instance: %v", err)
			}
		}
		select {
		case in = <-p.idle:
		case <-ctx.Done():
			return nil, errorf(codes.DeadlineExceeded, "", "waiting for a module instance: %v", ctx.Err())
		case <-p.ctx.Done():
			return nil, errorf(codes.Unavailable, "", "module pool closed")
		}
	}
	out, ok, err := in.invoke(context.WithValue(ctx, dataKey{}, p.data), p.limits, method, req)
	if !ok {
		// A trapped, exited or stopped instance is not used again.
		in.mod.Close(context.Background())
		p.mu.Lock()
		p.live--
		p.mu.Unlock()
		p.grow()
		return nil, err
	}
	if p.ctx.Err() != nil {
		in.mod.Close(context.Background())
		return out, err
	}
	select {
	case p.idle <- in:
	default:
		in.mod.Close(context.Background())
	}
	return out, err
}

// Close closes every idle instance; a call in flight finishes and closes its
// own.
func (p *Pool) Close() {
	p.cancel()
	p.wg.Wait()
	for {
		select {
		case in := <-p.idle:
			in.mod.Close(context.Background())
		default:
			return
		}
	}
}
