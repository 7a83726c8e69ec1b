package transport

import (
	"fmt"
	"net"
	"runtime"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// TestMDNSFloodIsBounded: 10,000 announcements under as many identities,
// each with 64 addresses of a listener that never answers, as a hostile
// host on the local network could send. mDNS remembers the most recent
// mdnsMaxPeers, mdnsMaxAddrs addresses each, and tries mdnsMaxConnecting
// connections at a time; an honest peer announced after the flood is
// found and reached.
func TestMDNSFloodIsBounded(t *testing.T) {
	h := newHost(t, Limits{})
	m := newMDNS(h)

	blackhole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blackhole.Close() })
	go func() {
		for {
			c, err := blackhole.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	port := blackhole.Addr().(*net.TCPAddr).Port
	var addrs []ma.Multiaddr
	for i := range 64 {
		addrs = append(addrs, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.%d/tcp/%d", 1+i%2, port)))
	}

	before := runtime.NumGoroutine()
	for range 10000 {
		_, pub, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		m.HandlePeerFound(peer.AddrInfo{ID: id, Addrs: addrs})
	}
	during := runtime.NumGoroutine()

	m.mu.Lock()
	kept := len(m.peers)
	for id, p := range m.peers {
		if len(p.ai.Addrs) > mdnsMaxAddrs {
			t.Errorf("peer %s kept with %d addresses, limit %d", id, len(p.ai.Addrs), mdnsMaxAddrs)
		}
	}
	m.mu.Unlock()
	t.Logf("peers kept %d; goroutines %d before, %d after 10,000 announcements", kept, before, during)
	if kept > mdnsMaxPeers {
		t.Errorf("kept %d peers, limit %d", kept, mdnsMaxPeers)
	}
	// Each connection attempt under way is a few goroutines in libp2p's
	// dialer; 10,000 of them would be tens of thousands.
	if grew := during - before; grew > 50*mdnsMaxConnecting {
		t.Errorf("goroutines grew by %d for %d connection attempts at a time", grew, mdnsMaxConnecting)
	}

	honest := newHost(t, Limits{})
	waitFor(t, 2*mdnsConnectWithin, "a connection attempt free for the honest peer", func() bool {
		m.HandlePeerFound(peer.AddrInfo{ID: honest.ID(), Addrs: honest.Libp2p().Addrs()})
		return len(h.Libp2p().Network().ConnsToPeer(honest.ID())) > 0
	})
	found := false
	for ai := range m.FindProviders(t.Context(), nil) {
		found = found || ai.ID == honest.ID()
	}
	if !found {
		t.Error("the honest peer announced after the flood is not among those found")
	}
}
