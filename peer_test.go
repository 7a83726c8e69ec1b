package papi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/papi-dev/papi/internal/canon"
)

// newTestPeer starts a peer on loopback TCP only.
func newTestPeer(t testing.TB, opts ...PeerOption) *Peer {
	t.Helper()
	p, err := NewPeer(context.Background(), append([]PeerOption{ListenAddrs("/ip4/127.0.0.1/tcp/0")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func serveTest(t testing.TB, p *Peer, b *Bundle, opts ...ServeOption) *Server {
	t.Helper()
	s, err := p.Serve(context.Background(), b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// serveAndDial serves b from a peer of its own and returns a client of it
// on another.
func serveAndDial(t testing.TB, b *Bundle) *Client {
	t.Helper()
	server := newTestPeer(t)
	serveTest(t, server, b)
	return dialTest(t, newTestPeer(t), b.Hash(), server)
}

func dialTest(t testing.TB, p *Peer, h Hash, from *Peer) *Client {
	t.Helper()
	c, err := p.Dial(context.Background(), h, Provider(from.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServeDialCall(t *testing.T) {
	server, client := newTestPeer(t), newTestPeer(t)
	b := boothsBundle(t)
	serveTest(t, server, b)

	for _, h := range []Hash{b.Hash(), b.APIHash()} {
		c := dialTest(t, client, h, server)
		if c.Hash() != b.Hash() || c.APIHash() != b.APIHash() || c.Spec().Name != "booths" {
			t.Fatalf("dialed %s: client for %s/%s", h, c.Hash(), c.APIHash())
		}
		resp, err := Call[NearestReq, NearestResp](t.Context(), c, "Nearest", NearestReq{Lat: 41.39, Lon: 2.165, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Stations) != 2 || resp.Stations[0].ID != "bcn-002" {
			t.Errorf("Nearest = %+v", resp.Stations)
		}
		out, err := c.CallJSON(t.Context(), "Count", []byte(`{}`))
		if err != nil || strings.TrimSpace(string(out)) != `{"n":3}` {
			t.Errorf("CallJSON Count = %s, %v", out, err)
		}
	}
}

func TestDialAPIHashReachesAnyData(t *testing.T) {
	orig, mine, client := newTestPeer(t), newTestPeer(t), newTestPeer(t)
	b := boothsBundle(t)
	own, err := b.WithData(Data("stations", otherStations))
	if err != nil {
		t.Fatal(err)
	}
	serveTest(t, orig, b)
	serveTest(t, mine, own)

	c := dialTest(t, client, b.APIHash(), mine)
	if c.Hash() != own.Hash() {
		t.Fatalf("dialed API hash at own-data peer: bundle %s, want %s", c.Hash(), own.Hash())
	}
	resp, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{})
	if err != nil || resp.N != len(otherStations) {
		t.Fatalf("Count = %d, %v; want %d", resp.N, err, len(otherStations))
	}
	// A bundle hash needs exactly that data: the own-data peer does not answer for it.
	if _, err := client.Dial(t.Context(), b.Hash(), Provider(mine.Addrs()...)); !errors.Is(err, ErrNoProvider) {
		t.Fatalf("dial original bundle at own-data peer: %v, want ErrNoProvider", err)
	}
}

type probeReq struct {
	Code  uint32 `cbor:"code"`
	Panic bool   `cbor:"panic"`
	Sleep int64  `cbor:"sleep"` // ms, ignoring cancellation
	Bad   bool   `cbor:"bad"`   // break the response's postcondition
}

type probeResp struct {
	Caller string `cbor:"caller"`
	Name   string `cbor:"name" papi:"maxLength=4"`
}

func probeAPI(t testing.TB) *API {
	t.Helper()
	api := New("probe", "1")
	err := Handle(api, "Probe", func(ctx context.Context, req probeReq) (probeResp, error) {
		if req.Panic {
			panic("probe asked for it")
		}
		if req.Sleep > 0 {
			time.Sleep(time.Duration(req.Sleep) * time.Millisecond)
		}
		if req.Code != 0 {
			return probeResp{}, Errorf(Code(req.Code), "probe code %d", req.Code)
		}
		caller, _ := CallerFromContext(ctx)
		name := "ok"
		if req.Bad {
			name = "far too long"
		}
		return probeResp{Caller: caller.String(), Name: name}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func TestErrorsCrossTheWire(t *testing.T) {
	server, client := newTestPeer(t), newTestPeer(t)
	b, err := probeAPI(t).Bundle()
	if err != nil {
		t.Fatal(err)
	}
	serveTest(t, server, b)
	c := dialTest(t, client, b.Hash(), server)
	ctx := t.Context()

	resp, err := Call[probeReq, probeResp](ctx, c, "Probe", probeReq{})
	if err != nil || resp.Caller != client.ID().String() {
		t.Fatalf("caller seen by the handler = %q, %v; want %s", resp.Caller, err, client.ID())
	}
	for code := CodeCanceled; code <= CodeUnauthenticated; code++ {
		_, err := Call[probeReq, probeResp](ctx, c, "Probe", probeReq{Code: uint32(code)})
		var e *Error
		if !errors.As(err, &e) || e.Code() != code || !strings.Contains(e.Message(), fmt.Sprint("probe code ", uint32(code))) {
			t.Errorf("code %s: got %v", code, err)
		}
	}
	tests := []struct {
		name string
		call func() error
		want error
		code Code
	}{
		{"panicking handler", func() error {
			_, err := Call[probeReq, probeResp](ctx, c, "Probe", probeReq{Panic: true})
			return err
		}, nil, CodeInternal},
		{"postcondition", func() error {
			_, err := Call[probeReq, probeResp](ctx, c, "Probe", probeReq{Bad: true})
			return err
		}, ErrPostcondition, CodeInternal},
		{"unknown method", func() error {
			_, err := c.CallCBOR(ctx, "Nope", []byte{0xa0})
			return err
		}, ErrUnknownMethod, CodeUnimplemented},
		{"malformed request", func() error {
			_, err := c.CallCBOR(ctx, "Probe", []byte{0xa1, 0x64})
			return err
		}, ErrMalformed, CodeInvalidArgument},
		{"deadline, handler ignores cancellation", func() error {
			ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, err := Call[probeReq, probeResp](ctx, c, "Probe", probeReq{Sleep: 2000})
			return err
		}, context.DeadlineExceeded, CodeDeadlineExceeded},
		{"spec mismatch", func() error {
			_, err := Call[probeReq, CountResp](ctx, c, "Probe", probeReq{})
			return err
		}, ErrSpecMismatch, CodeFailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := tt.call()
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if CodeOf(err) != tt.code {
				t.Errorf("code = %s (%v), want %s", CodeOf(err), err, tt.code)
			}
			if time.Since(start) > 1500*time.Millisecond {
				t.Errorf("took %v", time.Since(start))
			}
			// The server keeps serving after every failure.
			if _, err := Call[probeReq, probeResp](ctx, c, "Probe", probeReq{}); err != nil {
				t.Errorf("call after failure: %v", err)
			}
		})
	}
}

func TestPreconditionNeverReachesHandler(t *testing.T) {
	server, client := newTestPeer(t), newTestPeer(t)
	var calls int
	var mu sync.Mutex
	api := New("booths", "1.0.0")
	Handle(api, "Nearest", func(ctx context.Context, req NearestReq) (NearestResp, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return NearestResp{}, nil
	})
	b, _ := api.Bundle()
	serveTest(t, server, b)
	c := dialTest(t, client, b.Hash(), server)

	// Refused by the caller's own check, and by the server for a raw request.
	_, err := Call[NearestReq, NearestResp](t.Context(), c, "Nearest", NearestReq{Lat: 91, Limit: 1})
	if !errors.Is(err, ErrPrecondition) || !strings.Contains(err.Error(), "lat") {
		t.Errorf("typed call: %v, want ErrPrecondition naming lat", err)
	}
	payload, _ := canon.Marshal(map[string]any{"lat": 0.0, "lon": 0.0, "limit": 99})
	_, err = c.CallCBOR(t.Context(), "Nearest", payload)
	if !errors.Is(err, ErrPrecondition) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("raw call: %v, want ErrPrecondition naming limit", err)
	}
	_, err = c.CallJSON(t.Context(), "Nearest", []byte(`{"lat": 0, "lon": 0, "limit": 0}`))
	if !errors.Is(err, ErrPrecondition) {
		t.Errorf("JSON call: %v, want ErrPrecondition", err)
	}
	if calls != 0 {
		t.Errorf("handler ran %d times", calls)
	}
}

func TestConcurrentCallersGetTheirOwnAnswers(t *testing.T) {
	server, client := newTestPeer(t), newTestPeer(t)
	api := New("echo", "1")
	Handle(api, "Echo", func(ctx context.Context, req CountResp) (CountResp, error) {
		time.Sleep(time.Duration(req.N%7) * time.Millisecond) // answers come back out of order
		return CountResp{N: req.N * 2}, nil
	})
	b, _ := api.Bundle()
	serveTest(t, server, b)
	c := dialTest(t, client, b.Hash(), server)
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 20 {
				n := g*1000 + i
				resp, err := Call[CountResp, CountResp](t.Context(), c, "Echo", CountResp{N: n})
				if err != nil || resp.N != 2*n {
					t.Errorf("caller %d call %d: %d, %v", g, i, resp.N, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLyingProviderIsDropped(t *testing.T) {
	honest, liar, client := newTestPeer(t), newTestPeer(t), newTestPeer(t)
	b := boothsBundle(t)
	serveTest(t, honest, b)
	// The liar answers for b's hash with another bundle's manifest and spec.
	other, _ := probeAPI(t).Bundle()
	serveTest(t, liar, other)
	liar.mu.Lock()
	liar.bundle[b.Hash()] = liar.bundle[other.Hash()]
	liar.mu.Unlock()

	_, err := client.Dial(t.Context(), b.Hash(), Provider(liar.Addrs()...))
	if !errors.Is(err, ErrNoProvider) || !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("dial the liar alone: %v, want ErrNoProvider and ErrHashMismatch", err)
	}
	c, err := client.Dial(t.Context(), b.Hash(), Provider(liar.Addrs()...), Provider(honest.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	if c.RemotePeer() != honest.ID() {
		t.Fatalf("dialed %s, want the honest peer %s", c.RemotePeer(), honest.ID())
	}
}

func TestCloseDrainsCallsInFlight(t *testing.T) {
	server, client := newTestPeer(t), newTestPeer(t)
	b, _ := probeAPI(t).Bundle()
	srv, err := server.Serve(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	c := dialTest(t, client, b.Hash(), server)
	done := make(chan error, 1)
	go func() {
		_, err := Call[probeReq, probeResp](t.Context(), c, "Probe", probeReq{Sleep: 300})
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // the call is in flight
	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("Close returned after %v, before the handler (200 ms more) could finish", waited)
	}
	if err := <-done; err != nil {
		t.Fatalf("call in flight during Close: %v", err)
	}
	if _, err := Call[probeReq, probeResp](t.Context(), c, "Probe", probeReq{}); CodeOf(err) != CodeNotFound {
		t.Fatalf("call after Close: %v, want not_found", err)
	}
}

func TestImplementChecksHandlersAgainstTheSpec(t *testing.T) {
	dir := t.TempDir()
	if err := boothsBundle(t).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := newTestPeer(t)
	if _, err := p.Serve(t.Context(), b); !errors.Is(err, ErrSpecMismatch) {
		t.Errorf("serve without handlers: %v, want ErrSpecMismatch", err)
	}
	missing := New("booths", "1.0.0")
	Handle(missing, "Nearest", nearest)
	if _, err := p.Serve(t.Context(), b, Implement(missing)); !errors.Is(err, ErrSpecMismatch) || !strings.Contains(err.Error(), "Count") {
		t.Errorf("serve with a missing handler: %v, want ErrSpecMismatch naming Count", err)
	}
	type otherReq struct {
		Lat   float64 `cbor:"lat"`
		Lon   float64 `cbor:"lon"`
		Limit int     `cbor:"limit"`
	}
	wrong := New("booths", "1.0.0")
	Handle(wrong, "Nearest", func(context.Context, otherReq) (NearestResp, error) { return NearestResp{}, nil })
	Handle(wrong, "Count", count)
	if _, err := p.Serve(t.Context(), b, Implement(wrong)); !errors.Is(err, ErrSpecMismatch) || !strings.Contains(err.Error(), "lat") {
		t.Errorf("serve with different conditions: %v, want ErrSpecMismatch naming lat", err)
	}
	serveTest(t, p, b, Implement(boothsAPI(t)))
	c := dialTest(t, newTestPeer(t), b.Hash(), p)
	if resp, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{}); err != nil || resp.N != 3 {
		t.Fatalf("Count on a bundle read from disk = %d, %v", resp.N, err)
	}
}

// TestServeInAnotherProcess runs the server in a child OS process: this
// test binary again, told by an environment variable to serve and print
// its hash and address.
func TestServeInAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestChildServer$")
	cmd.Env = append(os.Environ(), "PAPI_TEST_CHILD_SERVER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	var hash, addr string
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "SERVING" {
			hash, addr = f[1], f[2]
			break
		}
	}
	h, err := ParseHash(hash)
	if err != nil {
		t.Fatalf("child printed no hash: %v", err)
	}
	if h != boothsBundle(t).Hash() {
		t.Fatalf("child serves %s, this process computes %s for the same API and data", h, boothsBundle(t).Hash())
	}
	client := newTestPeer(t)
	c, err := client.Dial(t.Context(), h, Provider(addr))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := Call[NearestReq, NearestResp](t.Context(), c, "Nearest", NearestReq{Lat: 41.98, Lon: 2.82, Limit: 1})
	if err != nil || len(resp.Stations) != 1 || resp.Stations[0].ID != "gir-001" {
		t.Fatalf("Nearest across processes = %+v, %v", resp, err)
	}
}

func TestChildServer(t *testing.T) {
	if os.Getenv("PAPI_TEST_CHILD_SERVER") != "1" {
		t.Skip("run by TestServeInAnotherProcess")
	}
	p := newTestPeer(t)
	srv := serveTest(t, p, boothsBundle(t))
	fmt.Printf("SERVING %s %s\n", srv.Hash(), srv.Addrs()[0])
	time.Sleep(time.Minute) // until the parent kills this process
}

func TestAccessPolicies(t *testing.T) {
	server, friend, stranger := newTestPeer(t), newTestPeer(t), newTestPeer(t)
	var reached sync.Map
	api := New("guarded", "1")
	Handle(api, "Open", func(ctx context.Context, r CountReq) (CountResp, error) {
		reached.Store("Open", true)
		return CountResp{N: 1}, nil
	})
	Handle(api, "Secret", func(ctx context.Context, r CountResp) (CountResp, error) {
		reached.Store("Secret", true)
		return CountResp{N: 2}, nil
	})
	b, _ := api.Bundle()
	serveTest(t, server, b, Access(PerMethod(map[string]Policy{
		"Secret": func(ctx context.Context, c CallInfo) error {
			var req CountResp
			if err := c.Decode(&req); err != nil || req.N > 10 {
				return fmt.Errorf("n over 10")
			}
			return AllowPeers(friend.ID())(ctx, c)
		},
	}, nil)))
	tests := []struct {
		name string
		from *Peer
		call func(*Client) error
		deny bool
	}{
		{"open method, stranger", stranger, func(c *Client) error {
			_, err := Call[CountReq, CountResp](t.Context(), c, "Open", CountReq{})
			return err
		}, false},
		{"guarded method, stranger", stranger, func(c *Client) error {
			_, err := Call[CountResp, CountResp](t.Context(), c, "Secret", CountResp{N: 1})
			return err
		}, true},
		{"guarded method, friend", friend, func(c *Client) error {
			_, err := Call[CountResp, CountResp](t.Context(), c, "Secret", CountResp{N: 1})
			return err
		}, false},
		{"guarded method, friend, request the policy refuses", friend, func(c *Client) error {
			_, err := Call[CountResp, CountResp](t.Context(), c, "Secret", CountResp{N: 11})
			return err
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached.Clear()
			err := tt.call(dialTest(t, tt.from, b.Hash(), server))
			if tt.deny {
				if !errors.Is(err, ErrPermissionDenied) || CodeOf(err) != CodePermissionDenied {
					t.Fatalf("err = %v, want permission denied", err)
				}
				if _, ok := reached.Load("Secret"); ok {
					t.Fatal("a denied call reached its handler")
				}
			} else if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDialPrefersAProviderWithHandlers: a bundle served with handlers by
// one peer and seeded without them by another. Every dial for calls gets
// the one with handlers, whichever answers first; with only the seeder, the
// dial still succeeds (its spec is there to read) and a call fails with
// ErrNoHandlers, not ErrUnknownMethod.
func TestDialPrefersAProviderWithHandlers(t *testing.T) {
	b := boothsBundle(t)
	server, seeder := newTestPeer(t), newTestPeer(t)
	serveTest(t, server, b)
	serveTest(t, seeder, b, SeedOnly())

	client := newTestPeer(t)
	for i := range 6 {
		c, err := client.Dial(t.Context(), b.Hash(), Provider(append(seeder.Addrs(), server.Addrs()...)...))
		if err != nil {
			t.Fatal(err)
		}
		if c.RemotePeer() != server.ID() {
			t.Errorf("dial %d: got %s, want the peer with handlers %s", i, c.RemotePeer(), server.ID())
		}
		if _, err := Call[NearestReq, NearestResp](t.Context(), c, "Nearest", NearestReq{Lat: 41.4, Lon: 2.2, Limit: 1}); err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}

	alone := newTestPeer(t)
	c, err := alone.Dial(t.Context(), b.Hash(), Provider(seeder.Addrs()...))
	if err != nil {
		t.Fatalf("dial a seeder alone: %v", err)
	}
	if c.Spec().Name != "booths" {
		t.Errorf("seeder's spec: %q", c.Spec().Name)
	}
	_, err = Call[NearestReq, NearestResp](t.Context(), c, "Nearest", NearestReq{Lat: 41.4, Lon: 2.2, Limit: 1})
	if !errors.Is(err, ErrNoHandlers) || errors.Is(err, ErrUnknownMethod) || CodeOf(err) != CodeUnavailable {
		t.Fatalf("call to a seeder: %v, want ErrNoHandlers (unavailable)", err)
	}
}

// TestServeEndsWithItsContext: a server stops when the context given to
// Serve ends, as by Close; another bundle on the same peer is still served.
func TestServeEndsWithItsContext(t *testing.T) {
	server, client := newTestPeer(t), newTestPeer(t)
	ctx, cancel := context.WithCancel(t.Context())
	b := boothsBundle(t)
	if _, err := server.Serve(ctx, b); err != nil {
		t.Fatal(err)
	}
	other, _ := probeAPI(t).Bundle()
	serveTest(t, server, other)
	c := dialTest(t, client, b.Hash(), server)
	if _, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{}); err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{})
		if errors.Is(err, ErrNotServed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("call after Serve's context ended: %v, want ErrNotServed", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	dialTest(t, client, other.Hash(), server)
}

// TestDefaultPeerStartsAgainAfterClose: the default peer can be closed, and
// the next package-level call starts a new one; a start that fails is not
// remembered.
func TestDefaultPeerStartsAgainAfterClose(t *testing.T) {
	saved := defaultPeerOptions
	t.Cleanup(func() {
		defaultPeerMu.Lock()
		defer defaultPeerMu.Unlock()
		if defaultPeer != nil {
			defaultPeer.Close()
		}
		defaultPeerOptions = saved
	})
	defaultPeerOptions = []PeerOption{ListenAddrs("/ip4/127.0.0.1/tcp/0")}
	first, err := DefaultPeer()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := DefaultPeer(); again != first {
		t.Fatal("a second DefaultPeer is another peer while the first is open")
	}
	first.Close()

	defaultPeerOptions = []PeerOption{ListenAddrs("not a multiaddr")}
	if _, err := DefaultPeer(); err == nil {
		t.Fatal("a default peer started with a bad address")
	}
	defaultPeerOptions = []PeerOption{ListenAddrs("/ip4/127.0.0.1/tcp/0")}
	second, err := DefaultPeer()
	if err != nil {
		t.Fatalf("after a failed start: %v", err)
	}
	if second == first {
		t.Fatal("DefaultPeer returned the closed peer")
	}
	b := boothsBundle(t)
	if _, err := Serve(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	dialTest(t, newTestPeer(t), b.Hash(), second)
}

// TestDialErrorsReadOnce: why a dial failed reads on one line, each fact
// once: the hash, each peer and its own reason, with no code repeated.
func TestDialErrorsReadOnce(t *testing.T) {
	client, server, gone := newTestPeer(t), newTestPeer(t), newTestPeer(t)
	serveTest(t, server, boothsBundle(t))
	goneAddrs := gone.Addrs()
	gone.Close()
	want := blobBundle(t, 10, 1).Hash()
	_, err := client.Dial(t.Context(), want, Provider(append(goneAddrs, server.Addrs()...)...))
	if !errors.Is(err, ErrNoProvider) || !errors.Is(err, ErrNotServed) {
		t.Fatalf("dial: %v, want ErrNoProvider wrapping ErrNotServed", err)
	}
	msg := err.Error()
	for _, s := range []string{"no provider: " + want.String() + ": ", "peer " + server.ID().String() + ": hash not served", "peer " + gone.ID().String() + ": peer unavailable: /ip4/127.0.0.1/tcp/", "connection refused"} {
		if !strings.Contains(msg, s) {
			t.Errorf("dial error lacks %q:\n%s", s, msg)
		}
	}
	for _, s := range []string{"unavailable: no provider", "not_found:", "\n", "failed to dial"} {
		if strings.Contains(msg, s) {
			t.Errorf("dial error has %q:\n%s", s, msg)
		}
	}
}
