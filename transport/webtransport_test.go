package transport

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pwebtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	ma "github.com/multiformats/go-multiaddr"
)

// webTransportAddr returns h's WebTransport address with its certhashes
// and peer ID, as a page is given it.
func webTransportAddr(t *testing.T, h *Host) ma.Multiaddr {
	t.Helper()
	for _, a := range h.Addrs() {
		if _, err := a.ValueForProtocol(ma.P_WEBTRANSPORT); err == nil {
			return a
		}
	}
	t.Fatalf("no WebTransport address among %v", h.Addrs())
	return nil
}

func certHashes(a ma.Multiaddr) []string {
	var out []string
	for _, c := range a {
		if c.Code() == ma.P_CERTHASH {
			out = append(out, c.Value())
		}
	}
	return out
}

// TestWebTransportCertRotation moves a server's clock past its
// certificates' rotations: an address taken before one rotation still
// connects (it names the next certificate too), as does the new address;
// an address two rotations old names neither certificate in use and is
// refused, which shows the dial really checks the certhash.
func TestWebTransportCertRotation(t *testing.T) {
	// The server starts two certificate lifetimes ago, so that after two
	// rotations its clock is the dialers' own: they check a certificate's
	// dates against the real time, as a browser does.
	const lifetime = 14 * 24 * time.Hour
	cl := clock.NewMock()
	cl.Set(time.Now().Add(-2 * lifetime))
	server, err := New(t.Context(), Options{
		ListenAddrs:   []string{"/ip4/127.0.0.1/udp/0/quic-v1/webtransport"},
		Libp2pOptions: []libp2p.Option{libp2p.Transport(libp2pwebtransport.New, libp2pwebtransport.WithClock(cl))},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	server.SetHandler(echo)

	// rotate advances the clock by a certificate's lifetime and waits for
	// the addresses to name other certificates.
	rotate := func(before ma.Multiaddr) ma.Multiaddr {
		t.Helper()
		cl.Add(lifetime)
		for {
			after := webTransportAddr(t, server)
			if !slices.Equal(certHashes(after), certHashes(before)) {
				return after
			}
			select {
			case <-t.Context().Done():
				t.Fatal("the certificates never rotated")
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	first := webTransportAddr(t, server)
	if n := len(certHashes(first)); n < 2 {
		t.Fatalf("%s names %d certificates, want the current and the next", first, n)
	}
	second := rotate(first)
	third := rotate(second)

	tests := []struct {
		name string
		addr ma.Multiaddr
		ok   bool
	}{
		{"address from before the last rotation", second, true},
		{"address after the rotations", third, true},
		{"address two rotations old", first, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := newHost(t, Limits{})
			ai, err := peer.AddrInfoFromP2pAddr(tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			err = client.Connect(ctx, *ai)
			if !tt.ok {
				if err == nil || !strings.Contains(err.Error(), "cert hash not found") {
					t.Fatalf("connect with %s, whose certificates have both been retired: %v", tt.addr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("connect %s: %v", tt.addr, err)
			}
			out, err := client.Call(ctx, server.ID(), "t", "echo", []byte("after rotation"))
			if err != nil || !bytes.Equal(out, []byte("after rotation")) {
				t.Fatalf("call: %q, %v", out, err)
			}
		})
	}
}
