//go:build linux

package netlab_test

import (
	"testing"

	"github.com/papi-dev/papi/internal/netlab"
)

// Two peers behind different endpoint-independent NATs: AutoNAT tells each
// it is private, each reserves a slot on the relay, a call and a clone go
// through the relay, and then hole punching makes a direct connection that
// the next calls use.
func TestHolePunch(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	boot := startBoot(t, lab)
	relay := startRelay(t, lab, peerSpec{RelayLimit: 64 << 20})
	behindNAT := peerSpec{NAT: true, Relays: []string{relay.addr(netlab.RelayIP)}, DHT: true, Bootstrap: []string{boot.addr(netlab.BootIP)}}
	server := startPeer(t, lab, netlab.HomeA, behindNAT)
	client := startPeer(t, lab, netlab.HomeB, behindNAT)

	// Until the relayed call and clone are done, HomeA's router lets
	// nothing through to HomeB's: hole punching on the first relayed
	// connection fails, so the relay is what carries them.
	if err := lab.Block(netlab.NATA, netlab.NATBIP); err != nil {
		t.Fatal(err)
	}

	for _, p := range []*peerProc{server, client} {
		r := p.must(request{Op: "reach", Reach: "Private", Millis: 90 * second})
		t.Logf("%s: AutoNAT says %s after %.1fs; relayed addresses %v", p.host, r.Reach, r.Seconds, circuits(r.Addrs))
	}
	served := server.must(request{Op: "serve", Size: 4 << 20})
	via := circuits(served.Addrs)

	dial := client.must(request{Op: "dial", Hash: served.Hash, Provider: via, Millis: 60 * second})
	call := client.must(request{Op: "call", N: 20, Size: 1024})
	if !call.Relayed {
		t.Fatal("calls did not go through the relay")
	}
	clone := client.must(request{Op: "clone", Hash: served.Hash, Provider: via})
	if !clone.Relayed {
		t.Fatal("the clone did not go through the relay")
	}
	t.Logf("relayed: dial %.2fs, %.0f calls/s, clone of %d bytes at %.1f MB/s", dial.Seconds, float64(call.Calls)/call.Seconds, clone.Bytes, float64(clone.Bytes)/clone.Seconds/1e6)

	// With the way open, the next relayed connection is upgraded.
	if err := lab.Unblock(netlab.NATA); err != nil {
		t.Fatal(err)
	}
	client.must(request{Op: "drop"})
	redial := client.must(request{Op: "dial", Hash: served.Hash, Provider: via, Millis: 60 * second})
	direct := client.must(request{Op: "direct", Millis: 30 * second})
	t.Logf("hole punched: direct connection %.2fs after the relayed dial returned (dial %.2fs)", direct.Seconds, redial.Seconds)
	call = client.must(request{Op: "call", N: 20, Size: 1024})
	if call.Relayed {
		t.Fatal("calls still go through the relay after hole punching")
	}
	clone = client.must(request{Op: "clone", Hash: served.Hash, Provider: via})
	t.Logf("direct: %.0f calls/s, clone of %d bytes at %.1f MB/s", float64(call.Calls)/call.Seconds, clone.Bytes, float64(clone.Bytes)/clone.Seconds/1e6)
}
