package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/ugorji/go/codec"

	rpc "github.com/libp2p/go-libp2p-gorpc"

	"github.com/papi-dev/papi/internal/codes"
	"github.com/papi-dev/papi/internal/wire"
)

// newHost starts a host on loopback TCP.
func newHost(t testing.TB, limits Limits) *Host {
	t.Helper()
	h, err := New(context.Background(), Options{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t testing.TB, from, to *Host) {
	t.Helper()
	if err := from.Connect(context.Background(), peer.AddrInfo{ID: to.ID(), Addrs: to.Libp2p().Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// pair is a server host with handler and a client host connected to it.
func pair(t testing.TB, limits Limits, handler Handler) (server, client *Host) {
	t.Helper()
	server, client = newHost(t, limits), newHost(t, limits)
	server.SetHandler(handler)
	connect(t, client, server)
	return server, client
}

// bigBlob backs large responses, made once so a benchmark measures the
// transfer rather than the handler's allocation.
var bigBlob = bytes.Repeat([]byte{0xab}, 16<<20)

func echo(ctx context.Context, req *Request) *Response {
	switch req.Method {
	case "echo":
		return &Response{Payload: req.Payload}
	case "sleep":
		d, _ := strconv.Atoi(string(req.Payload))
		select {
		case <-time.After(time.Duration(d) * time.Millisecond):
			return &Response{Payload: req.Payload}
		case <-ctx.Done():
			return &Response{Code: codes.Canceled, Message: "cancelled"}
		}
	case "big":
		n, _ := strconv.Atoi(string(req.Payload))
		return &Response{Payload: bigBlob[:min(n, len(bigBlob))]}
	case "len":
		return &Response{Payload: []byte(strconv.Itoa(len(req.Payload)))}
	case "code":
		c, _ := strconv.Atoi(string(req.Payload))
		return &Response{Code: codes.Code(c), Message: "as asked", Payload: []byte("detail")}
	case "panic":
		panic("asked to")
	case "peer":
		return &Response{Payload: []byte(req.Peer.String())}
	}
	return &Response{Code: codes.Unimplemented, Message: "no method " + req.Method}
}

func TestCallRoundTrips(t *testing.T) {
	server, client := pair(t, Limits{}, echo)
	ctx := t.Context()
	out, err := client.Call(ctx, server.ID(), "target", "echo", []byte("hello"))
	if err != nil || string(out) != "hello" {
		t.Fatalf("echo = %q, %v", out, err)
	}
	out, err = client.Call(ctx, server.ID(), "target", "peer", nil)
	if err != nil || string(out) != client.ID().String() {
		t.Fatalf("handler saw caller %q, want %s (%v)", out, client.ID(), err)
	}
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		_, err := client.Call(ctx, server.ID(), "target", "code", []byte(strconv.Itoa(int(c))))
		var re *RemoteError
		if !errors.As(err, &re) || re.Code != c || re.Message != "as asked" || string(re.Payload) != "detail" {
			t.Errorf("code %s: %v", c, err)
		}
	}
}

// TestCallAfterTheConnectionDropped closes the connection between two calls
// and redials at once, as a caller does after a network change: the second
// call must go over the new connection, not fail on the session of the old
// one, which learns of the closed connection only later.
func TestCallAfterTheConnectionDropped(t *testing.T) {
	for _, listen := range []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"} {
		t.Run(listen, func(t *testing.T) {
			var hosts [2]*Host
			for i := range hosts {
				h, err := New(context.Background(), Options{ListenAddrs: []string{listen}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { h.Close() })
				hosts[i] = h
			}
			server, client := hosts[0], hosts[1]
			server.SetHandler(echo)
			for i := range 200 {
				connect(t, client, server)
				if out, err := client.Call(t.Context(), server.ID(), "target", "echo", []byte("hello")); err != nil || string(out) != "hello" {
					t.Fatalf("call %d after a fresh connection: %q, %v", i, out, err)
				}
				client.Libp2p().Network().ClosePeer(server.ID())
			}
		})
	}
}

func TestRepliesMayComeOutOfOrder(t *testing.T) {
	server, client := pair(t, Limits{}, echo)
	slow := make(chan time.Time, 1)
	go func() {
		client.Call(t.Context(), server.ID(), "t", "sleep", []byte("300"))
		slow <- time.Now()
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("fast")); err != nil {
		t.Fatal(err)
	}
	fastDone := time.Now()
	if slowDone := <-slow; !fastDone.Before(slowDone) {
		t.Fatal("a fast call waited for a slow one on the same session")
	}
}

func TestConcurrentCallersAreNotMixedUp(t *testing.T) {
	server, client := pair(t, Limits{}, echo)
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 200 {
				want := fmt.Sprintf("caller %d call %d", g, i)
				out, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte(want))
				if err != nil || string(out) != want {
					t.Errorf("got %q, %v; want %q", out, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestPanickingHandlerDoesNotStopTheServer(t *testing.T) {
	server, client := pair(t, Limits{}, echo)
	_, err := client.Call(t.Context(), server.ID(), "t", "panic", nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != codes.Internal {
		t.Fatalf("panic: %v, want Internal", err)
	}
	if out, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("still here")); err != nil || string(out) != "still here" {
		t.Fatalf("after a panic: %q, %v", out, err)
	}
}

// handlerProbe records whether a handler's context was cancelled.
type handlerProbe struct {
	started   chan struct{}
	cancelled chan struct{}
}

func newProbe() *handlerProbe {
	return &handlerProbe{started: make(chan struct{}, 1), cancelled: make(chan struct{}, 1)}
}

func (p *handlerProbe) handle(ctx context.Context, req *Request) *Response {
	if req.Method != "block" {
		return echo(ctx, req)
	}
	p.started <- struct{}{}
	<-ctx.Done()
	p.cancelled <- struct{}{}
	return &Response{Code: codes.Canceled}
}

func (p *handlerProbe) waitCancelled(t *testing.T) {
	t.Helper()
	select {
	case <-p.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled")
	}
}

func TestCancellationReachesTheHandler(t *testing.T) {
	probe := newProbe()
	server, client := pair(t, Limits{}, probe.handle)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := client.Call(ctx, server.ID(), "t", "block", nil); errc <- err }()
	<-probe.started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	probe.waitCancelled(t)
}

func TestDeadlineReachesTheHandler(t *testing.T) {
	probe := newProbe()
	server, client := pair(t, Limits{}, probe.handle)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := client.Call(ctx, server.ID(), "t", "block", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call past its deadline: %v", err)
	}
	probe.waitCancelled(t)
}

func TestHandlerIgnoringCancellationDoesNotHoldTheCaller(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	server, client := pair(t, Limits{}, func(ctx context.Context, req *Request) *Response {
		if req.Method == "stuck" {
			<-release
		}
		return echo(ctx, req)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := client.Call(ctx, server.ID(), "t", "stuck", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call to a stuck handler: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("caller held for %v", d)
	}
	if _, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("x")); err != nil {
		t.Fatalf("next call: %v", err)
	}
}

func TestClientGoingAwayCancelsItsCalls(t *testing.T) {
	probe := newProbe()
	server, client := pair(t, Limits{}, probe.handle)
	go client.Call(context.Background(), server.ID(), "t", "block", nil)
	<-probe.started
	client.Close()
	probe.waitCancelled(t)
}

func TestServerGoingAwayFailsCallsPromptly(t *testing.T) {
	probe := newProbe()
	server, client := pair(t, Limits{}, probe.handle)
	errc := make(chan error, 1)
	go func() { _, err := client.Call(context.Background(), server.ID(), "t", "block", nil); errc <- err }()
	<-probe.started
	server.Close()
	select {
	case err := <-errc:
		var re *RemoteError
		if !errors.Is(err, ErrUnavailable) && !(errors.As(err, &re) && re.Code == codes.Unavailable) {
			t.Fatalf("call to a server that closed: %v, want unavailable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("call still waiting 5 s after its server closed")
	}
}

func TestLargeBodies(t *testing.T) {
	server, client := pair(t, Limits{}, echo)
	big := bytes.Repeat([]byte("0123456789abcdef"), 512<<10) // 8 MiB
	out, err := client.Call(t.Context(), server.ID(), "t", "echo", big)
	if err != nil || !bytes.Equal(out, big) {
		t.Fatalf("8 MiB echo: %d bytes, %v", len(out), err)
	}
	out, err = client.Call(t.Context(), server.ID(), "t", "big", []byte(strconv.Itoa(3<<20)))
	if err != nil || len(out) != 3<<20 {
		t.Fatalf("3 MiB response to a small request: %d bytes, %v", len(out), err)
	}
}

func TestOversizedRequestIsRefused(t *testing.T) {
	server, client := pair(t, Limits{MaxRequestBytes: 2 << 20}, echo)
	_, err := client.Call(t.Context(), server.ID(), "t", "len", make([]byte, 3<<20))
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != codes.ResourceExhausted {
		t.Fatalf("3 MiB request against a 2 MiB limit: %v", err)
	}
	// The server enforces the limit too, whatever the client is told.
	client.limits.MaxRequestBytes = 1 << 30
	_, err = client.Call(t.Context(), server.ID(), "t", "len", make([]byte, 3<<20))
	if !errors.As(err, &re) || re.Code != codes.ResourceExhausted {
		t.Fatalf("3 MiB request from a client that ignores the limit: %v", err)
	}
}

func TestTooManyCallsFromOnePeer(t *testing.T) {
	release := make(chan struct{})
	var running atomic.Int32
	server, client := pair(t, Limits{MaxCallsPerPeer: 4}, func(ctx context.Context, req *Request) *Response {
		if req.Method == "hold" {
			running.Add(1)
			<-release
		}
		return echo(ctx, req)
	})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { client.Call(t.Context(), server.ID(), "t", "hold", nil) })
	}
	for running.Load() < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	_, err := client.Call(t.Context(), server.ID(), "t", "echo", nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != codes.ResourceExhausted {
		t.Fatalf("fifth call in flight: %v, want ResourceExhausted", err)
	}
	close(release)
	wg.Wait()
	if _, err := client.Call(t.Context(), server.ID(), "t", "echo", nil); err != nil {
		t.Fatalf("after the others finished: %v", err)
	}
}

// TestRequestMemoryIsBounded holds large requests in flight until one
// peer, then all peers, reach their byte budget: the next large request is
// refused before its payload is read, small calls still fit, and the bytes
// come back when the calls end.
func TestRequestMemoryIsBounded(t *testing.T) {
	const mib = 1 << 20
	release := make(chan struct{})
	var running atomic.Int32
	limits := Limits{MaxRequestBytes: 4 * mib, MaxRequestMemoryPerPeer: 10 * mib, MaxRequestMemory: 18 * mib}
	server, a := pair(t, limits, func(ctx context.Context, req *Request) *Response {
		if req.Method == "hold" {
			running.Add(1)
			<-release
		}
		return &Response{Payload: []byte(strconv.Itoa(len(req.Payload)))}
	})
	b, c := newHost(t, limits), newHost(t, limits)
	connect(t, b, server)
	connect(t, c, server)
	big := make([]byte, 4*mib)
	var wg sync.WaitGroup
	hold := func(from *Host, want int32) {
		wg.Go(func() {
			if out, err := from.Call(t.Context(), server.ID(), "t", "hold", big); err != nil || string(out) != strconv.Itoa(len(big)) {
				t.Errorf("held call: %q, %v", out, err)
			}
		})
		for running.Load() < want {
			time.Sleep(5 * time.Millisecond)
		}
	}
	refused := func(from *Host, want string) {
		t.Helper()
		_, err := from.Call(t.Context(), server.ID(), "t", "len", big)
		var re *RemoteError
		if !errors.As(err, &re) || re.Code != codes.ResourceExhausted || !strings.Contains(re.Message, want) {
			t.Fatalf("request past the budget: %v, want ResourceExhausted naming %q", err, want)
		}
	}
	hold(a, 1)
	hold(a, 2) // a holds 8 MiB of its 10
	refused(a, "from this peer")
	if out, err := a.Call(t.Context(), server.ID(), "t", "len", []byte("small")); err != nil || string(out) != "5" {
		t.Fatalf("a small call within the budget: %q, %v", out, err)
	}
	hold(b, 3) // 12 MiB held in all, of the 14 large requests may use
	refused(c, "would hold more than")
	close(release)
	wg.Wait()
	for _, h := range []*Host{a, b, c} {
		if out, err := h.Call(t.Context(), server.ID(), "t", "len", big); err != nil || string(out) != strconv.Itoa(len(big)) {
			t.Fatalf("large call once the others ended: %q, %v", out, err)
		}
	}
}

// sessionHeader is what gorpc sends first on a session stream.
func sessionHeader() []byte {
	var hdr bytes.Buffer
	codec.NewEncoder(&hdr, &codec.MsgpackHandle{}).Encode(rpc.ServiceID{Name: rpcServiceName, Method: "Session"})
	return hdr.Bytes()
}

// rawSession opens a ProtocolRPC1 stream by hand and sends gorpc's header,
// as a hostile peer would before misbehaving.
func rawSession(t testing.TB, from, to *Host) io.ReadWriteCloser {
	t.Helper()
	s, err := from.Libp2p().NewStream(t.Context(), to.ID(), ProtocolRPC1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(sessionHeader()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Reset() })
	return s
}

// framedSession opens a ProtocolRPC stream by hand, as a hostile peer
// would before misbehaving.
func framedSession(t testing.TB, from, to *Host) network.Stream {
	t.Helper()
	s, err := from.Libp2p().NewStream(t.Context(), to.ID(), ProtocolRPC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Reset() })
	return s
}

// callFrame is the whole frame of c, as a client sends it.
func callFrame(c *wire.Call) []byte {
	return append(wire.AppendCallHeader(nil, c), c.Payload...)
}

func TestHostileSessionAnnouncingGigabytes(t *testing.T) {
	server, client := pair(t, Limits{}, echo)
	attacker := newHost(t, Limits{})
	connect(t, attacker, server)
	s := rawSession(t, attacker, server)
	// A message that claims 4 GiB, then as many bytes as the server takes.
	s.Write([]byte{0x81, 0xa1, 'p', 0xc6, 0xff, 0xff, 0xff, 0xff})
	chunk := make([]byte, 64<<10)
	var sent int
	for sent < 256<<20 {
		n, err := s.Write(chunk)
		sent += n
		if err != nil {
			break
		}
	}
	if sent >= 256<<20 {
		t.Fatalf("server took %d bytes of one message", sent)
	}
	t.Logf("stream cut off after %d bytes", sent)
	if out, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("honest")); err != nil || string(out) != "honest" {
		t.Fatalf("honest caller after the attack: %q, %v", out, err)
	}
}

func TestTricklingSessionIsCutOff(t *testing.T) {
	limits := Limits{MessageTimeout: 300 * time.Millisecond}
	server, client := pair(t, limits, echo)
	attacker := newHost(t, limits)
	connect(t, attacker, server)
	s := rawSession(t, attacker, server)
	start := time.Now()
	msg := []byte{0x81, 0xa1, 'p', 0xa5, 'h', 'e', 'l', 'l', 'o'}
	var err error
	for i := 0; err == nil && time.Since(start) < 10*time.Second; i++ {
		_, err = s.Write([]byte{msg[i%len(msg)]})
		if err == nil {
			_, err = s.Read(make([]byte, 1)) // nothing comes back; a reset shows here
		}
	}
	if err == nil {
		t.Fatal("a trickling stream was kept for 10 s")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("trickling stream cut off only after %v", d)
	}
	if _, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("x")); err != nil {
		t.Fatalf("honest caller: %v", err)
	}
}

// TestCallsReachAPeerThatSpeaksOnlyRPC1: a server of an older papi speaks
// only the gorpc session protocol; calls to it go over that one, with the
// same answers, errors and cancellation.
func TestCallsReachAPeerThatSpeaksOnlyRPC1(t *testing.T) {
	server, client := pair(t, Limits{}, echo)
	// After the peers connected, as when a peer changes what it speaks:
	// the client's peerstore still says it speaks ProtocolRPC.
	server.Libp2p().RemoveStreamHandler(ProtocolRPC)
	tests := []struct {
		method, payload string
		want            string
		code            codes.Code
	}{
		{"echo", "over gorpc", "over gorpc", codes.OK},
		{"code", strconv.Itoa(int(codes.NotFound)), "", codes.NotFound},
		{"big", strconv.Itoa(2 << 20), "", codes.OK},
	}
	for _, tt := range tests {
		out, err := client.Call(t.Context(), server.ID(), "t", tt.method, []byte(tt.payload))
		var re *RemoteError
		switch {
		case tt.code != codes.OK:
			if !errors.As(err, &re) || re.Code != tt.code {
				t.Errorf("%s: %v, want code %v", tt.method, err, tt.code)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.method, err)
		case tt.method == "big" && len(out) != 2<<20, tt.method != "big" && string(out) != tt.want:
			t.Errorf("%s: %d bytes back", tt.method, len(out))
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := client.Call(ctx, server.ID(), "t", "sleep", []byte("10000")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a call past its deadline: %v", err)
	}
	s, err := client.session(server.ID())
	if err != nil {
		t.Fatal(err)
	}
	if s.stream != nil {
		t.Fatal("the session to a peer without ProtocolRPC is a framed one")
	}
}
