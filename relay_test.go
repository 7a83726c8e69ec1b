package papi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/papi-dev/papi/transport"
)

// relayedPair starts a relay and a server behind it, both on loopback, with
// b served, and returns them with the server's relayed address.
func relayedPair(t *testing.T, b *Bundle, relayOpts ...PeerOption) (relay, server *Peer, circuit string) {
	t.Helper()
	relay = newTestPeer(t, append([]PeerOption{RelayService(), ForceReachability(ReachabilityPublic)}, relayOpts...)...)
	server = newTestPeer(t, Relays(relay.Addrs()...), ForceReachability(ReachabilityPrivate))
	// On loopback the server does not advertise its relayed address
	// (autorelay keeps only a relay's public addresses), but it holds a
	// reservation all the same: the address is the relay's, then the server's.
	circuit = relay.Addrs()[0] + "/p2p-circuit/p2p/" + server.ID().String()
	serveTest(t, server, b)
	return relay, server, circuit
}

// dialRelayed dials h at the relayed address, retrying while the server's
// reservation is being made.
func dialRelayed(t *testing.T, client *Peer, h Hash, circuit string) *Client {
	t.Helper()
	var c *Client
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		c, err = client.Dial(ctx, h, Provider(circuit))
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("dial through the relay: %v", err)
	}
	return c
}

func TestDialAndCloneThroughARelay(t *testing.T) {
	b := boothsBundle(t)
	relay, server, circuit := relayedPair(t, b)

	// The client knows only the relayed address.
	client := newTestPeer(t)
	c := dialRelayed(t, client, b.Hash(), circuit)
	resp, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{})
	if err != nil || resp.N != len(someStations) {
		t.Fatalf("Count through the relay = %d, %v", resp.N, err)
	}
	conns := client.Host().Libp2p().Network().ConnsToPeer(server.ID())
	if len(conns) == 0 {
		t.Fatal("no connection to the server after a call")
	}
	for _, conn := range conns {
		if !conn.Stat().Limited {
			t.Errorf("connection to the server %s is direct, want only the relayed one", conn.RemoteMultiaddr())
		}
	}
	if !c.Relayed() {
		t.Error("Relayed() = false with only a relayed connection")
	}

	// A clone goes through the relay too: the bundle is far below the
	// relay's default cap on bytes per relayed connection.
	cloned, err := client.Clone(t.Context(), b.Hash(), Provider(circuit), StoreDir(t.TempDir()))
	if err != nil {
		t.Fatalf("clone through the relay: %v", err)
	}
	if cloned.Hash() != b.Hash() {
		t.Fatalf("cloned %s, want %s", cloned.Hash(), b.Hash())
	}

	// Each node reports what it was told of its reachability.
	if r := server.Reachability(); r != ReachabilityPrivate {
		t.Errorf("server reports %s, want private", r)
	}
	if r := relay.Reachability(); r != ReachabilityPublic {
		t.Errorf("relay reports %s, want public", r)
	}
}

// Once a direct connection exists, calls leave the relay: a call made after
// the relay is gone is answered.
func TestCallsMoveFromTheRelayToADirectConnection(t *testing.T) {
	b := boothsBundle(t)
	relay, server, circuit := relayedPair(t, b)
	client := newTestPeer(t)
	c := dialRelayed(t, client, b.Hash(), circuit)
	if _, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{}); err != nil {
		t.Fatalf("Count through the relay: %v", err)
	}
	if !c.Relayed() {
		t.Fatal("Relayed() = false before a direct connection")
	}

	// What hole punching does in the end: a direct connection beside the relayed one.
	direct := network.WithForceDirectDial(t.Context(), "as hole punching would")
	if err := client.Host().Libp2p().Connect(direct, peer.AddrInfo{ID: server.ID(), Addrs: server.Host().Libp2p().Addrs()}); err != nil {
		t.Fatal(err)
	}
	if c.Relayed() {
		t.Fatal("Relayed() = true with a direct connection")
	}
	if _, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{}); err != nil {
		t.Fatalf("Count with a direct connection: %v", err)
	}
	waitFor(t, func() bool { return !rpcOverRelay(client, server.ID()) }, "no call session runs over the relay")
	relay.Close()
	waitFor(t, func() bool { return !hasRelayedConn(client, server.ID()) }, "the relayed connection closes with the relay")
	resp, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{})
	if err != nil || resp.N != len(someStations) {
		t.Fatalf("Count after the relay went away = %d, %v", resp.N, err)
	}
}

// rpcOverRelay reports whether a call session to remote runs over a relayed connection.
func rpcOverRelay(p *Peer, remote peer.ID) bool {
	for _, c := range p.Host().Libp2p().Network().ConnsToPeer(remote) {
		for _, s := range c.GetStreams() {
			if c.Stat().Limited && s.Protocol() == transport.ProtocolRPC {
				return true
			}
		}
	}
	return false
}

func hasRelayedConn(p *Peer, remote peer.ID) bool {
	for _, c := range p.Host().Libp2p().Network().ConnsToPeer(remote) {
		if c.Stat().Limited {
			return true
		}
	}
	return false
}

// A relay's default cap (128 KiB a connection) cuts a larger clone off;
// RelayLimit lets one through.
func TestRelayLimit(t *testing.T) {
	b := blobBundle(t, 1<<20, 21)
	tests := []struct {
		name  string
		opts  []PeerOption
		clone bool
	}{
		{"default", nil, false},
		{"raised", []PeerOption{RelayLimit(time.Minute, 4<<20)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, circuit := relayedPair(t, b, tt.opts...)
			client := newTestPeer(t)
			dialRelayed(t, client, b.Hash(), circuit)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cloned, err := client.Clone(ctx, b.Hash(), Provider(circuit), StoreDir(t.TempDir()))
			if tt.clone && (err != nil || cloned.Hash() != b.Hash()) {
				t.Fatalf("clone of 1 MiB through a relay with a raised limit: %v", err)
			}
			if !tt.clone && err == nil {
				t.Fatal("clone of 1 MiB through a relay capped at 128 KiB succeeded")
			}
		})
	}
}

func TestReachabilityOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  PeerOption
		want string // error, or "" for none
	}{
		{"force unknown", ForceReachability(ReachabilityUnknown), "want public or private"},
		{"negative relay duration", RelayLimit(-time.Second, 0), "negative"},
		{"negative relay data", RelayLimit(0, -1), "negative"},
		{"zero relay limit", RelayLimit(0, 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPeer(t.Context(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), tt.opt)
			if err == nil {
				p.Close()
			}
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("NewPeer = %v, want %q", err, tt.want)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after 30 seconds.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
