//go:build linux

package netlab_test

import (
	"testing"

	"github.com/papi-dev/papi/internal/netlab"
)

// BenchmarkNAT measures calls and clones between a server behind an
// endpoint-independent NAT and two clients in one lab: one behind the
// symmetric NAT, whose calls stay on the relay, and one behind the other
// endpoint-independent NAT, whose calls go direct after hole punching.
// The relay's caps are raised so that a clone fits through it.
//
//	go test -run '^$' -bench NAT/call -benchtime 2000x -count 3 ./internal/netlab/
//	go test -run '^$' -bench NAT/clone -benchtime 3x -count 3 ./internal/netlab/
func BenchmarkNAT(b *testing.B) {
	lab := netlab.New(b)
	relay := startRelay(b, lab, peerSpec{RelayLimit: 1 << 30})
	behindNAT := peerSpec{NAT: true, Reach: "private", Relays: []string{relay.addr(netlab.RelayIP)}}
	server := startPeer(b, lab, netlab.HomeA, behindNAT)
	report := server.must(request{Op: "reach", Reach: "Private", Millis: 60 * second})
	const cloneSize = 16 << 20
	served := server.must(request{Op: "serve", Size: cloneSize})
	via := circuits(report.Addrs)
	server.must(request{Op: "punchready", Millis: 30 * second})

	relayed := startPeer(b, lab, netlab.HomeS, behindNAT)
	relayed.must(request{Op: "dial", Hash: served.Hash, Provider: via, Millis: 60 * second})
	direct := startPeer(b, lab, netlab.HomeB, behindNAT)
	direct.must(request{Op: "punchready", Millis: 30 * second})
	direct.must(request{Op: "dial", Hash: served.Hash, Provider: via, Millis: 60 * second})
	direct.must(request{Op: "direct", Millis: 30 * second})

	for _, c := range []struct {
		name   string
		client *peerProc
		relay  bool
	}{{"relayed", relayed, true}, {"direct", direct, false}} {
		b.Run("call/"+c.name, func(b *testing.B) {
			c.client.t = b
			r := c.client.must(request{Op: "call", N: b.N, Size: 32})
			if r.Relayed != c.relay {
				b.Fatalf("relayed = %v, want %v", r.Relayed, c.relay)
			}
			b.ReportMetric(float64(r.Calls)/r.Seconds, "calls/s")
		})
		b.Run("clone/"+c.name, func(b *testing.B) {
			c.client.t = b
			b.SetBytes(cloneSize)
			var seconds float64
			for range b.N {
				r := c.client.must(request{Op: "clone", Hash: served.Hash, Provider: via})
				if r.Relayed != c.relay {
					b.Fatalf("relayed = %v, want %v", r.Relayed, c.relay)
				}
				seconds += r.Seconds
			}
			b.ReportMetric(float64(b.N)*cloneSize/seconds/1e6, "clone-MB/s")
		})
	}
}
