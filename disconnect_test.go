package papi

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cutProxy forwards TCP connections to a peer and cuts each one, both ways at
// once, after a budget of bytes in both directions together: wherever the
// budget falls in an exchange (handshake, request, handler, response, data)
// is where the other side vanishes.
type cutProxy struct {
	ln     net.Listener
	target string
	budget atomic.Int64 // bytes per connection before the cut; 0 means never
	moved  atomic.Int64 // bytes forwarded over all connections
	wg     sync.WaitGroup
}

func newCutProxy(t testing.TB, target *Peer) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: tcpAddr(t, target)}
	p.wg.Go(p.accept)
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// tcpAddr is the host:port a peer listens on over TCP on loopback.
func tcpAddr(t testing.TB, p *Peer) string {
	t.Helper()
	for _, a := range p.Addrs() {
		parts := strings.Split(a, "/")
		if len(parts) > 4 && parts[1] == "ip4" && parts[3] == "tcp" {
			return net.JoinHostPort(parts[2], parts[4])
		}
	}
	t.Fatalf("peer %s has no TCP address", p.ID())
	return ""
}

// addr is the multiaddr through the proxy to the target peer id.
func (p *cutProxy) addr(target *Peer) string {
	a := p.ln.Addr().(*net.TCPAddr)
	return "/ip4/127.0.0.1/tcp/" + strconv.Itoa(a.Port) + "/p2p/" + target.ID().String()
}

func (p *cutProxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(in) })
	}
}

func (p *cutProxy) forward(in net.Conn) {
	defer in.Close()
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer out.Close()
	var left atomic.Int64
	left.Store(p.budget.Load())
	limited := left.Load() > 0
	var once sync.Once
	cut := func() { once.Do(func() { in.Close(); out.Close() }) }
	pipe := func(dst, src net.Conn) {
		defer cut()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				send := n
				if limited {
					remaining := left.Add(-int64(n)) + int64(n)
					if remaining <= 0 {
						return
					}
					send = int(min(int64(n), remaining))
				}
				if _, err := dst.Write(buf[:send]); err != nil {
					return
				}
				p.moved.Add(int64(send))
				if send < n {
					return // the budget ran out inside this read
				}
			}
			if err != nil {
				return
			}
		}
	}
	var both sync.WaitGroup
	both.Go(func() { pipe(out, in) })
	both.Go(func() { pipe(in, out) })
	both.Wait()
}

// cutPoints spreads count budgets over an exchange of total bytes, densest
// at the start where the handshakes and the request are.
func cutPoints(total int64, count int) []int64 {
	var points []int64
	for b := int64(1); b < 4096 && b < total; b *= 3 {
		points = append(points, b)
	}
	for i := 1; i <= count; i++ {
		points = append(points, total*int64(i)/int64(count+1))
	}
	return points
}

type echoReq struct {
	Data []byte `cbor:"data"`
}

// echoBundle serves Echo, which returns its request's bytes: a request and
// response large enough to travel on body streams rather than inline.
func echoBundle(t testing.TB) *Bundle {
	t.Helper()
	api := New("echo", "1")
	if err := Handle(api, "Echo", func(_ context.Context, r echoReq) (echoReq, error) { return r, nil }); err != nil {
		t.Fatal(err)
	}
	b, err := api.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// settledGoroutines returns the process's goroutine count once it has
// stopped falling (connections closing, handlers returning), or after ten
// seconds.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}

// TestCallerVanishesAtEveryStage cuts a dial and a call of 256 KiB each way
// at byte offsets through the whole exchange. Each cut caller gets an
// unavailable error, promptly, or, when the cut came after everything it
// needed, the right answer; never a wrong one. After every cut the server
// answers an honest caller, and it leaks no goroutines.
func TestCallerVanishesAtEveryStage(t *testing.T) {
	server := newTestPeer(t)
	b := echoBundle(t)
	serveTest(t, server, b)
	proxy := newCutProxy(t, server)
	honest := dialTest(t, newTestPeer(t), b.Hash(), server)
	payload := bytes.Repeat([]byte("papi"), 64<<10)

	attempt := func(budget int64) error {
		proxy.budget.Store(budget)
		client, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, b.Hash(), Provider(proxy.addr(server)))
		if err != nil {
			return err
		}
		resp, err := Call[echoReq, echoReq](ctx, c, "Echo", echoReq{Data: payload})
		if err == nil && !bytes.Equal(resp.Data, payload) {
			t.Fatalf("cut at %d bytes: a wrong answer of %d bytes", budget, len(resp.Data))
		}
		return err
	}

	before := proxy.moved.Load()
	if err := attempt(0); err != nil {
		t.Fatalf("through the proxy, uncut: %v", err)
	}
	total := proxy.moved.Load() - before
	baseline := settledGoroutines()

	var failed int
	for _, budget := range cutPoints(total, 24) {
		start := time.Now()
		err := attempt(budget)
		if err != nil {
			failed++
			if errors.Is(err, context.DeadlineExceeded) || CodeOf(err) != CodeUnavailable {
				t.Errorf("cut at %d of %d bytes: after %v: %v, want an unavailable error before the deadline", budget, total, time.Since(start), err)
			}
		}
		if _, err := Call[echoReq, echoReq](t.Context(), honest, "Echo", echoReq{Data: []byte("still there")}); err != nil {
			t.Fatalf("after a cut at %d bytes the server no longer answers: %v", budget, err)
		}
	}
	if failed == 0 {
		t.Fatal("no cut made a call fail: the proxy cut nothing")
	}
	t.Logf("%d of %d cut exchanges failed cleanly; the rest had what they needed", failed, len(cutPoints(total, 24)))
	n := settledGoroutines()
	t.Logf("goroutines: %d before the cuts, %d after", baseline, n)
	if n > baseline+20 {
		t.Errorf("%d goroutines after the cuts, %d before: the server leaks", n, baseline)
	}
}

// TestCloneProviderVanishesAtEveryStage cuts a clone of 4 MiB at byte
// offsets through the whole exchange (describe, outboard, ranges, the last
// piece). Each cut clone fails with an unavailable error and keeps only
// verified pieces: a second clone into the same store, from a provider that
// stays, finishes and holds exactly the original bytes.
func TestCloneProviderVanishesAtEveryStage(t *testing.T) {
	const size = 16 * PieceSize
	orig := blobBundle(t, size, 9)
	server := newTestPeer(t)
	serveTest(t, server, orig)
	proxy := newCutProxy(t, server)

	attempt := func(budget int64, dir string) (*Bundle, error) {
		proxy.budget.Store(budget)
		client, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		return client.Clone(ctx, orig.Hash(), Provider(proxy.addr(server)), StoreDir(dir))
	}

	before := proxy.moved.Load()
	got, err := attempt(0, t.TempDir())
	if err != nil {
		t.Fatalf("through the proxy, uncut: %v", err)
	}
	sameData(t, got, orig)
	total := proxy.moved.Load() - before

	var failed int
	for _, budget := range cutPoints(total, 16) {
		dir := t.TempDir()
		start := time.Now()
		got, err := attempt(budget, dir)
		if err != nil {
			failed++
			if errors.Is(err, context.DeadlineExceeded) || CodeOf(err) != CodeUnavailable {
				t.Errorf("cut at %d of %d bytes: after %v: %v, want an unavailable error before the deadline", budget, total, time.Since(start), err)
			}
		} else {
			sameData(t, got, orig)
		}
		// What the cut clone left on disk is either verified or ignored.
		resumed, err := cloneTest(t, newTestPeer(t), orig.Hash(), Provider(server.Addrs()...), StoreDir(dir))
		if err != nil {
			t.Fatalf("clone after a cut at %d bytes: %v", budget, err)
		}
		sameData(t, resumed, orig)
	}
	if failed == 0 {
		t.Fatal("no cut made a clone fail: the proxy cut nothing")
	}
	t.Logf("%d of %d cut clones failed cleanly", failed, len(cutPoints(total, 16)))
}

// TestHandlerSeesItsCallerVanish checks that a handler's context ends when
// the caller's connection goes, so that the server stops work nobody waits
// for.
func TestHandlerSeesItsCallerVanish(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	api := New("wait", "1")
	err := Handle(api, "Wait", func(ctx context.Context, _ CountReq) (CountResp, error) {
		close(started)
		select {
		case <-ctx.Done():
			ended <- ctx.Err()
		case <-time.After(30 * time.Second):
			ended <- errors.New("the handler ran on for 30 s after its caller left")
		}
		return CountResp{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := api.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	server, client := newTestPeer(t), newTestPeer(t)
	serveTest(t, server, b)
	c := dialTest(t, client, b.Hash(), server)
	go Call[CountReq, CountResp](context.Background(), c, "Wait", CountReq{})
	<-started
	client.Close()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler: %v, want its context cancelled", err)
	}
}
