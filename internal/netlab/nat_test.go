//go:build linux

package netlab_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

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

// Behind a symmetric NAT hole punching cannot work: the peer says it is
// private, advertises relayed addresses, and calls and a clone keep going
// through the relay, within the relay's default limits.
func TestSymmetricNATStaysRelayed(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	boot := startBoot(t, lab)
	relay := startRelay(t, lab, peerSpec{}) // libp2p's default limits: 128 KiB, 2 minutes a connection
	behindNAT := peerSpec{NAT: true, Relays: []string{relay.addr(netlab.RelayIP)}, DHT: true, Bootstrap: []string{boot.addr(netlab.BootIP)}}
	server := startPeer(t, lab, netlab.HomeS, behindNAT)
	client := startPeer(t, lab, netlab.HomeA, behindNAT)

	report := server.must(request{Op: "reach", Reach: "Private", Millis: 90 * second})
	if len(circuits(report.Addrs)) == 0 {
		t.Fatalf("server behind a symmetric NAT advertises no relayed address: %v", report.Addrs)
	}
	t.Logf("behind the symmetric NAT: AutoNAT says %s after %.1fs; addresses %v", report.Reach, report.Seconds, report.Addrs)
	served := server.must(request{Op: "serve", Size: 64 << 10})
	via := circuits(served.Addrs)
	client.must(request{Op: "dial", Hash: served.Hash, Provider: via, Millis: 60 * second})
	if r := client.do(request{Op: "direct", Millis: 10 * second}); r.Err == "" {
		t.Fatal("a direct connection through a symmetric NAT")
	} else {
		t.Logf("client: %s", r.Err)
	}
	call := client.must(request{Op: "call", N: 50, Size: 256})
	if !call.Relayed {
		t.Fatal("calls did not go through the relay")
	}
	clone := client.must(request{Op: "clone", Hash: served.Hash, Provider: via})
	t.Logf("relayed: %.0f calls/s, clone of %d bytes in %.2fs", float64(call.Calls)/call.Seconds, clone.Bytes, clone.Seconds)
}

// The relay going away mid-call fails the call at once with
// CodeUnavailable, rather than when the handler would have answered; once
// a relay is back, the server reserves a slot again and a call gets through.
func TestRelayGoesAwayMidCall(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	// The relay keeps its identity and port across restarts, as a relay
	// with a published address does. TCP only: a killed process's TCP
	// connections are reset by the kernel, as a relay that stops closes
	// them; a QUIC one would go silent until its idle timeout.
	relaySpec := peerSpec{Identity: filepath.Join(t.TempDir(), "relay.key"), Listen: []string{"/ip4/0.0.0.0/tcp/4001"}}
	relay := startRelay(t, lab, relaySpec)
	via := relay.addr(netlab.RelayIP)
	server := startPeer(t, lab, netlab.HomeA, peerSpec{NAT: true, Reach: "private", Relays: []string{via}})
	client := startPeer(t, lab, netlab.HomeS, peerSpec{NAT: true, Reach: "private"}) // symmetric: stays on the relay

	report := server.must(request{Op: "reach", Reach: "Private", Millis: 60 * second})
	served := server.must(request{Op: "serve", Size: 1024})
	client.must(request{Op: "dial", Hash: served.Hash, Provider: circuits(report.Addrs), Millis: 60 * second})
	client.must(request{Op: "call", N: 5, Size: 64})

	const hold = 60 * second
	held := request{Op: "hold", Millis: hold}
	if err := client.proc.Send(held); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the call is on its way
	relay.kill()
	r := client.reply(held)
	if r.Err == "" || r.Code != "unavailable" {
		t.Fatalf("call with the relay gone: %q (%s), want an unavailable error", r.Err, r.Code)
	}
	if r.Seconds >= hold/second {
		t.Fatalf("call failed after %.1fs, when the handler would have answered anyway", r.Seconds)
	}
	t.Logf("relay gone: the call failed after %.2fs with %s: %s", r.Seconds, r.Code, r.Err)

	startRelay(t, lab, relaySpec)
	again := client.must(request{Op: "callwait", Millis: 90 * second})
	t.Logf("relay back: a call got through %.1fs after the relay restarted, %d calls failing before", again.Seconds, again.Calls)
}

// holePunchAttempts is how many fresh pairs TestHolePunchRate tries;
// PAPI_NETLAB_ATTEMPTS=50 gives the figure README reports.
func holePunchAttempts() int {
	if n, err := strconv.Atoi(os.Getenv("PAPI_NETLAB_ATTEMPTS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// TestHolePunchRate starts a fresh server and client behind the two
// endpoint-independent NATs for each attempt (new ports, so no mapping is
// left from the one before), and reports how many got a direct connection
// and how long after the dial through the relay began it came. The pairs take their
// reachability as private, since AutoNAT's verdict is TestHolePunch's
// subject and costs 15 seconds an attempt.
func TestHolePunchRate(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	relay := startRelay(t, lab, peerSpec{})
	behindNAT := peerSpec{NAT: true, Reach: "private", Relays: []string{relay.addr(netlab.RelayIP)}}
	attempts := holePunchAttempts()
	var times []float64
	for i := range attempts {
		server := startPeer(t, lab, netlab.HomeA, behindNAT)
		client := startPeer(t, lab, netlab.HomeB, behindNAT)
		report := server.must(request{Op: "reach", Reach: "Private", Millis: 60 * second})
		served := server.must(request{Op: "serve", Size: 1024})
		server.must(request{Op: "punchready", Millis: 30 * second})
		client.must(request{Op: "punchready", Millis: 30 * second})
		dial := client.must(request{Op: "dial", Hash: served.Hash, Provider: circuits(report.Addrs), Millis: 60 * second})
		if r := client.do(request{Op: "direct", Millis: 15 * second}); r.Err == "" {
			times = append(times, dial.Seconds+r.Seconds)
			client.must(request{Op: "call", N: 3, Size: 64})
		} else {
			t.Logf("attempt %d: %s", i+1, r.Err)
		}
		server.kill()
		client.kill()
	}
	slices.Sort(times)
	if len(times) == 0 {
		t.Fatalf("no hole punch succeeded in %d attempts", attempts)
	}
	t.Logf("hole punching: %d of %d attempts direct (%.0f%%); time from the start of the dial through the relay to a direct connection: min %.2fs, median %.2fs, max %.2fs",
		len(times), attempts, 100*float64(len(times))/float64(attempts), times[0], times[len(times)/2], times[len(times)-1])
}
