package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/papi-dev/papi"
)

// TestServePrintsWebAddrs serves on the transports a page dials and checks
// that what serve prints, under its heading for web pages, is an address
// whole enough to dial: certhash included.
func TestServePrintsWebAddrs(t *testing.T) {
	dir, b := bundleDir(t)
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"serve",
			"-listen", "/ip4/127.0.0.1/tcp/0",
			"-listen", "/ip4/127.0.0.1/udp/0/quic-v1/webtransport",
			"-listen", "/ip4/127.0.0.1/udp/0/webrtc-direct",
			dir}, pw, io.Discard)
		pw.Close()
		done <- code
	}()
	t.Cleanup(func() { cancel(); <-done })

	web := map[string]string{}
	var heading bool
	sc := bufio.NewScanner(pr)
	for len(web) < 2 && sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "for web pages"):
			heading = true
		case strings.HasPrefix(line, "/") && strings.Contains(line, "/webtransport/"):
			web["webtransport"] = line
			if !heading {
				t.Errorf("%s printed before the heading for web pages", line)
			}
		case strings.HasPrefix(line, "/") && strings.Contains(line, "/webrtc-direct/"):
			web["webrtc-direct"] = line
			if !heading {
				t.Errorf("%s printed before the heading for web pages", line)
			}
		}
	}
	go io.Copy(io.Discard, pr)
	if len(web) < 2 {
		t.Fatalf("serve printed web addresses %v", web)
	}
	for _, name := range []string{"webtransport", "webrtc-direct"} {
		t.Run(name, func(t *testing.T) {
			addr := web[name]
			if !strings.Contains(addr, "/certhash/") || !strings.Contains(addr, "/p2p/") {
				t.Fatalf("%s lacks a certhash or a peer ID", addr)
			}
			p, err := papi.NewPeer(t.Context(), papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			dctx, stop := context.WithTimeout(t.Context(), 30*time.Second)
			defer stop()
			c, err := p.Dial(dctx, b.Hash(), papi.Provider(addr))
			if err != nil {
				t.Fatalf("dial %s: %v", addr, err)
			}
			if c.Hash() != b.Hash() {
				t.Fatalf("dialed %s, got %s", b.Hash(), c.Hash())
			}
		})
	}
}
