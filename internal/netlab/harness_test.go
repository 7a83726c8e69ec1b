//go:build linux

package netlab_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/papi-dev/papi/internal/netlab"
)

// stderrLogger is a peer process's log: the test shows it when it fails.
func stderrLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// peerProc is a test's handle on a peer process.
type peerProc struct {
	t     testing.TB
	proc  *netlab.Proc
	host  string
	ID    string
	Addrs []string
}

// startPeer starts a peer process in host's namespace and waits until it
// is up.
func startPeer(t testing.TB, lab *netlab.Lab, host string, spec peerSpec) *peerProc {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{roleEnv + "=peer", specEnv + "=" + string(b), "PAPI_NETLAB_STORE=" + t.TempDir()}
	p := &peerProc{t: t, proc: lab.Start(t, host, env, os.Args[0]), host: host}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var ready reply
	if err := p.proc.Recv(ctx, &ready); err != nil {
		t.Fatalf("peer in %s: %v\n%s", host, err, p.proc.Stderr())
	}
	p.ID, p.Addrs = ready.ID, ready.Addrs
	return p
}

// do sends req and returns the reply, failing the test if none comes.
func (p *peerProc) do(req request) reply {
	p.t.Helper()
	if err := p.proc.Send(req); err != nil {
		p.t.Fatalf("peer in %s: send %s: %v", p.host, req.Op, err)
	}
	return p.reply(req)
}

// reply waits for the reply to req, sent before.
func (p *peerProc) reply(req request) reply {
	p.t.Helper()
	// Every request bounds its own waits; this only catches a peer that hangs.
	ctx, cancel := context.WithTimeout(p.t.Context(), time.Duration(req.Millis)*time.Millisecond+2*time.Minute)
	defer cancel()
	var r reply
	if err := p.proc.Recv(ctx, &r); err != nil {
		p.t.Fatalf("peer in %s: %s: %v\n%s", p.host, req.Op, err, p.proc.Stderr())
	}
	return r
}

// must is do for requests that must succeed.
func (p *peerProc) must(req request) reply {
	p.t.Helper()
	r := p.do(req)
	if r.Err != "" {
		p.t.Fatalf("peer in %s: %s: %s (%s)", p.host, req.Op, r.Err, r.Code)
	}
	return r
}

// kill ends the peer process.
func (p *peerProc) kill() { p.proc.Kill() }

// addr is the peer's address on its public interface, or its first.
func (p *peerProc) addr(ip string) string {
	for _, a := range p.Addrs {
		if strings.HasPrefix(a, "/ip4/"+ip+"/") {
			return a
		}
	}
	p.t.Fatalf("peer in %s has no address on %s: %v", p.host, ip, p.Addrs)
	return ""
}

// circuits returns the relayed addresses among addrs.
func circuits(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if strings.Contains(a, "/p2p-circuit") {
			out = append(out, a)
		}
	}
	return out
}

// The public hosts every NAT test needs: a relay and a DHT bootstrap
// host, both known to be public (as a host with a public address learns
// from AutoNAT), both answering AutoNAT's questions for the others.
func startRelay(t testing.TB, lab *netlab.Lab, spec peerSpec) *peerProc {
	t.Helper()
	spec.RelayService, spec.NAT, spec.Reach = true, true, "public"
	return startPeer(t, lab, netlab.Relay, spec)
}

func startBoot(t testing.TB, lab *netlab.Lab) *peerProc {
	t.Helper()
	return startPeer(t, lab, netlab.Boot, peerSpec{NAT: true, Reach: "public", DHT: true})
}

const second = 1000 // milliseconds, for request.Millis
