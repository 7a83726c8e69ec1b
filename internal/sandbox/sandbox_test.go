package sandbox

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/codes"
	"lukechampine.com/blake3"
)

var (
	builtMu sync.Mutex
	built   = map[string][]byte{}
	// cacheDir is one compilation cache for the test binary: a module
	// compiled once (seconds under the race detector) loads from it after.
	cacheDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "papi-sandbox-test-")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// module builds the test module in testdata/name once per test binary.
func module(t testing.TB, name string) []byte {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if b, ok := built[name]; ok {
		return b
	}
	b, err := Build(context.Background(), ".", "./testdata/"+name)
	if err != nil {
		t.Fatal(err)
	}
	built[name] = b
	return b
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
	for _, enforce := range []Enforcement{LoopCheck, ContextDone, Unbounded} {
		r, err := New(t.Context(), Config{Enforce: enforce, CacheDir: cacheDir})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(context.Background())
		p := newPool(t, r, module(t, "hostile"), memData{})
		got, err := call(t, p, t.Context(), "Huge", in{N: 1000})
		if err != nil || got.S != strings.Repeat("x", 1000) {
			t.Fatalf("enforcement %d: %v", enforce, err)
		}
	}
}
