package papi

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
)

// publicReachability makes a peer believe it is publicly reachable, as
// AutoNAT would conclude on a server with a public address: only then does
// libp2p start the relay service.
func publicReachability() PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		c.transport.Libp2pOptions = append(c.transport.Libp2pOptions, libp2p.ForceReachabilityPublic())
		return nil
	})
}

// privateReachability makes a peer believe it is behind a NAT, as AutoNAT
// would conclude on a home network, so that it reserves relay slots.
func privateReachability() PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		c.transport.Libp2pOptions = append(c.transport.Libp2pOptions, libp2p.ForceReachabilityPrivate())
		return nil
	})
}

func TestDialAndCloneThroughARelay(t *testing.T) {
	relay, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), RelayService(), publicReachability())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	server, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), Relays(relay.Addrs()...), privateReachability())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	// On loopback the server does not advertise its relayed address
	// (autorelay keeps only a relay's public addresses), but it holds a
	// reservation all the same: the address is the relay's, then the server's.
	circuit := relay.Addrs()[0] + "/p2p-circuit/p2p/" + server.ID().String()
	b := boothsBundle(t)
	serveTest(t, server, b)

	// The client knows only the relayed address.
	client := newTestPeer(t)
	var c *Client
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		c, err = client.Dial(ctx, b.Hash(), Provider(circuit))
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("dial through the relay: %v", err)
	}
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
	waitFor(t, func() bool { return server.Reachability() == network.ReachabilityPrivate }, "server reports private reachability")
	waitFor(t, func() bool { return relay.Reachability() == network.ReachabilityPublic }, "relay reports public reachability")
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
