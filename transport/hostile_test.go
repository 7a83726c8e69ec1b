package transport

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/papi-dev/papi/internal/codes"
)

// TestTenThousandStreams: a peer that opens 10,000 streams on papi's
// protocols is held to the per-peer stream limit; the server stays up and an
// honest caller is served meanwhile.
func TestTenThousandStreams(t *testing.T) {
	server, client := pair(t, Limits{StreamsPerPeer: 64}, echo)
	attacker := newHost(t, Limits{})
	connect(t, attacker, server)
	before := runtime.NumGoroutine()

	var (
		mu      sync.Mutex
		opened  []network.Stream
		refused int
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, 64)
	for i := range 10000 {
		proto := []protocol.ID{ProtocolRPC, ProtocolRPC1, ProtocolBody, ProtocolData}[i%4]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			s, err := attacker.Libp2p().NewStream(ctx, server.ID(), proto)
			if err == nil {
				// A stream is only refused once the server has accepted it and
				// counted it; writing makes that happen.
				if _, err = s.Write([]byte{0x81}); err == nil {
					// Still open after a moment: the server took it.
					s.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
					if _, err = s.Read(make([]byte, 1)); isTimeout(err) {
						err = nil
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused++
				return
			}
			opened = append(opened, s)
		})
		if i == 5000 {
			if out, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("honest")); err != nil || string(out) != "honest" {
				t.Errorf("honest call during the flood: %q, %v", out, err)
			}
		}
	}
	wg.Wait()
	t.Logf("streams left open: %d, refused or reset: %d, goroutines %d -> %d", len(opened), refused, before, runtime.NumGoroutine())
	if refused < 9000 {
		t.Errorf("only %d of 10,000 streams were refused", refused)
	}
	for _, s := range opened {
		s.Reset()
	}
	if out, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("after")); err != nil || string(out) != "after" {
		t.Fatalf("honest call after the flood: %q, %v", out, err)
	}
}

// TestGarbageOnEveryProtocol sends random bytes on each of papi's protocols;
// the server answers honest callers throughout.
func TestGarbageOnEveryProtocol(t *testing.T) {
	server, client := pair(t, Limits{MessageTimeout: time.Second}, echo)
	ServeData(server, func([32]byte) (DataSource, error) { return nil, ErrDataNotFound }, SeedLimits{})
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 60 {
		// A new attacker each time: garbage that breaks a protocol gets
		// the last one barred.
		attacker := newHost(t, Limits{})
		connect(t, attacker, server)
		proto := []protocol.ID{ProtocolRPC, ProtocolRPC1, ProtocolBody, ProtocolData}[i%4]
		s, err := attacker.Libp2p().NewStream(t.Context(), server.ID(), proto)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 1+r.IntN(64<<10))
		for j := range junk {
			junk[j] = byte(r.Uint32())
		}
		s.Write(junk)
		s.SetReadDeadline(time.Now().Add(3 * time.Second))
		s.Read(make([]byte, 1024)) // an error answer or a reset; never a hang past the deadline
		s.Reset()
		if i%10 == 0 {
			if out, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("ok")); err != nil || string(out) != "ok" {
				t.Fatalf("honest call after garbage %d: %q, %v", i, out, err)
			}
		}
	}
}

func TestTooManyCallsFromAllPeers(t *testing.T) {
	release := make(chan struct{})
	var running atomic.Int32
	server := newHost(t, Limits{MaxCalls: 3})
	server.SetHandler(func(ctx context.Context, req *Request) *Response {
		if req.Method == "hold" {
			running.Add(1)
			<-release
		}
		return echo(ctx, req)
	})
	var wg sync.WaitGroup
	for range 3 { // three peers, one call each: under any per-peer limit
		c := newHost(t, Limits{})
		connect(t, c, server)
		wg.Go(func() { c.Call(t.Context(), server.ID(), "t", "hold", nil) })
	}
	for running.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	fourth := newHost(t, Limits{})
	connect(t, fourth, server)
	_, err := fourth.Call(t.Context(), server.ID(), "t", "echo", nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != codes.ResourceExhausted {
		t.Fatalf("a fourth peer's call past the global limit: %v, want ResourceExhausted", err)
	}
	close(release)
	wg.Wait()
	if _, err := fourth.Call(t.Context(), server.ID(), "t", "echo", nil); err != nil {
		t.Fatalf("after the others finished: %v", err)
	}
}

func TestConnectionsPastTheLimitAreRefused(t *testing.T) {
	server := newHost(t, Limits{MaxConns: 2})
	server.SetHandler(echo)
	var peers []*Host
	for range 2 {
		c := newHost(t, Limits{})
		connect(t, c, server)
		peers = append(peers, c)
	}
	third := newHost(t, Limits{})
	err := third.Connect(t.Context(), peer.AddrInfo{ID: server.ID(), Addrs: server.Libp2p().Addrs()})
	if err == nil {
		// The dialer may see the connection before the server's resource
		// manager refuses it; a call on it must fail then.
		_, err = third.Call(t.Context(), server.ID(), "t", "echo", nil)
	}
	if err == nil {
		t.Fatal("a third connection past a limit of 2 carried a call")
	}
	for _, c := range peers {
		if _, err := c.Call(t.Context(), server.ID(), "t", "echo", []byte("x")); err != nil {
			t.Fatalf("a peer within the limit: %v", err)
		}
	}
}

// hostAt starts a host listening, and so dialing, from ip on loopback TCP.
func hostAt(t testing.TB, ip string) *Host {
	t.Helper()
	h, err := New(context.Background(), Options{ListenAddrs: []string{"/ip4/" + ip + "/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestConnectionsPerIPAndSubnet: identities cost nothing, so one address
// presenting many is held to ConnsPerIP connections, and one /24 to
// ConnsPerSubnet, while a caller from elsewhere is served. Loopback stands
// in for the network: its exemption is lifted for the test.
func TestConnectionsPerIPAndSubnet(t *testing.T) {
	server := newHost(t, Limits{ConnsPerIP: 3, ConnsPerSubnet: 5, limitLoopback: true})
	server.SetHandler(echo)
	try := func(ip string) (*Host, error) {
		h := hostAt(t, ip)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := h.Connect(ctx, peer.AddrInfo{ID: server.ID(), Addrs: server.Libp2p().Addrs()}); err != nil {
			return h, err
		}
		// The server may take the connection and then close it; a call
		// tells.
		_, err := h.Call(ctx, server.ID(), "t", "echo", []byte("hi"))
		return h, err
	}
	tests := []struct {
		ip     string
		admit  bool
		reason string
	}{
		{"127.0.0.2", true, "first from its address"},
		{"127.0.0.2", true, "second"},
		{"127.0.0.2", true, "third: ConnsPerIP"},
		{"127.0.0.2", false, "fourth from one address"},
		{"127.0.0.2", false, "fifth from one address"},
		{"127.0.0.3", true, "another address in the /24"},
		{"127.0.0.4", true, "the fifth in the /24: ConnsPerSubnet"},
		{"127.0.0.5", false, "the sixth in the /24"},
		{"127.0.1.1", true, "another /24"},
	}
	for _, tc := range tests {
		h, err := try(tc.ip)
		if tc.admit && err != nil {
			t.Errorf("%s (%s): %v, want served", tc.ip, tc.reason, err)
		}
		if !tc.admit && err == nil {
			t.Errorf("%s (%s): served, want refused", tc.ip, tc.reason)
		}
		if err == nil {
			if got := h.Libp2p().Network().ConnsToPeer(server.ID()); len(got) == 0 || !strings.Contains(got[0].LocalMultiaddr().String(), "/"+tc.ip+"/") {
				t.Fatalf("%s: connection not from the address meant: %v", tc.ip, got)
			}
		}
	}
}
