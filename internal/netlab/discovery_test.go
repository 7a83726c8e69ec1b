//go:build linux

package netlab_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papi-dev/papi/internal/netlab"
)

// A private DHT spans the namespaces: a peer behind one NAT dials a server
// behind another by hash alone, the DHT giving the server's relayed
// addresses.
func TestPrivateDHTAcrossNATs(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	boot := startBoot(t, lab)
	relay := startRelay(t, lab, peerSpec{})
	behindNAT := peerSpec{NAT: true, Reach: "private", Relays: []string{relay.addr(netlab.RelayIP)}, DHT: true, Bootstrap: []string{boot.addr(netlab.BootIP)}}
	server := startPeer(t, lab, netlab.HomeB, behindNAT)
	client := startPeer(t, lab, netlab.HomeA, behindNAT)

	// Serving once the relay slot is held, so that the provider record
	// carries an address others can reach.
	server.must(request{Op: "reach", Reach: "Private", Millis: 60 * second})
	served := server.must(request{Op: "serve", Size: 1024})
	for _, h := range []string{served.Hash, served.API} {
		dial := client.must(request{Op: "dial", Hash: h, Millis: 60 * second})
		client.must(request{Op: "call", N: 3, Size: 64})
		t.Logf("dialed %s by hash alone in %.2fs", h, dial.Seconds)
	}
}

// On the LAN segment, examples/lan's two programs, each a process of its
// own, find each other by mDNS from the API hash alone: the segment has
// no other route and there is no DHT.
func TestLANByMDNS(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t)
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("netlab: the go command is needed to build examples/lan")
	}
	bin := filepath.Join(t.TempDir(), "lan")
	build := exec.CommandContext(t.Context(), gobin, "build", "-o", bin, "github.com/papi-dev/papi/examples/lan")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/lan: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	server := lab.Start(t, netlab.LAN1, nil, bin, "serve")
	line, err := server.Line(ctx)
	if err != nil || !strings.HasPrefix(string(line), "serving API ") {
		t.Fatalf("lan serve: %q, %v\n%s", line, err, server.Stderr())
	}
	api := strings.Fields(string(line))[2]

	caller := lab.Start(t, netlab.LAN2, nil, bin, "call", "-timeout", "60s")
	var looked time.Time
	var out []string
	for {
		line, err := caller.Line(ctx)
		if err != nil {
			break // the caller exited
		}
		if strings.HasPrefix(string(line), "looking for API") {
			looked = time.Now()
			if !strings.Contains(string(line), api) {
				t.Errorf("caller looks for %q, server serves API %s", line, api)
			}
		}
		if strings.HasPrefix(string(line), "found ") {
			t.Logf("mDNS: first provider found and called %v after the caller began looking", time.Since(looked).Round(time.Millisecond))
		}
		out = append(out, string(line))
	}
	if !strings.Contains(strings.Join(out, "\n"), "found ") || len(out) < 3 {
		t.Fatalf("lan call printed:\n%s\nstderr:\n%s", strings.Join(out, "\n"), caller.Stderr())
	}
	t.Logf("lan call:\n%s", strings.Join(out, "\n"))
}
