//go:build linux

package netlab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/papi-dev/papi/internal/netlab"
)

// runUDPEcho answers every datagram with the address it came from, as a
// STUN server would.
func runUDPEcho() error {
	c, err := net.ListenPacket("udp4", ":9000")
	if err != nil {
		return err
	}
	fmt.Println(`{"ready":true}`)
	buf := make([]byte, 1500)
	for {
		_, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		c.WriteTo([]byte(from.String()), from)
	}
}

// runUDPProbe asks the echo servers named in its environment, from one
// local port, which address they saw, and prints what each said.
func runUDPProbe() error {
	c, err := net.ListenPacket("udp4", ":40000")
	if err != nil {
		return err
	}
	defer c.Close()
	seen := map[string]string{}
	for _, server := range strings.Fields(os.Getenv("PAPI_NETLAB_ECHO")) {
		to, err := net.ResolveUDPAddr("udp4", server)
		if err != nil {
			return err
		}
		buf := make([]byte, 1500)
		for try := 0; ; try++ {
			if _, err := c.WriteTo([]byte("?"), to); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, _, err := c.ReadFrom(buf)
			if err == nil {
				seen[server] = string(buf[:n])
				break
			}
			if try == 10 {
				return fmt.Errorf("no answer from %s: %w", server, err)
			}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(seen)
}

// The routers map as they say: an endpoint-independent NAT shows one
// public port to every server, a symmetric one a port per server.
func TestNATMapping(t *testing.T) {
	lab := netlab.New(t)
	servers := []string{netlab.RelayIP + ":9000", netlab.PubIP + ":9000"}
	for _, host := range []string{netlab.Relay, netlab.Pub} {
		echo := lab.Start(t, host, []string{roleEnv + "=udp-echo"}, os.Args[0])
		var ready struct{ Ready bool }
		if err := echo.Recv(t.Context(), &ready); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		home, publicIP string
		samePort       bool
	}{
		{netlab.HomeA, netlab.NATAIP, true},
		{netlab.HomeB, netlab.NATBIP, true},
		{netlab.HomeS, netlab.NATSIP, false},
	}
	for _, tt := range tests {
		t.Run(tt.home, func(t *testing.T) {
			probe := lab.Start(t, tt.home, []string{roleEnv + "=udp-probe", "PAPI_NETLAB_ECHO=" + strings.Join(servers, " ")}, os.Args[0])
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			seen := map[string]string{}
			if err := probe.Recv(ctx, &seen); err != nil {
				t.Fatalf("%v: %s", err, probe.Stderr())
			}
			ports := map[string]bool{}
			for server, addr := range seen {
				ip, port, err := net.SplitHostPort(addr)
				if err != nil || ip != tt.publicIP {
					t.Errorf("%s saw %q, want the router's address %s", server, addr, tt.publicIP)
				}
				ports[port] = true
			}
			if got := len(ports) == 1; got != tt.samePort {
				t.Errorf("servers saw %v: one port for all = %v, want %v", seen, got, tt.samePort)
			}
		})
	}

	// The LAN has no way out, and the public segment no way into a home.
	for _, c := range []struct{ host, to string }{{netlab.LAN1, servers[0]}, {netlab.Relay, netlab.HomeAIP + ":9000"}} {
		out, err := lab.Command(t.Context(), c.host, "ip", "route", "get", strings.Split(c.to, ":")[0]).CombinedOutput()
		if err == nil {
			t.Errorf("%s has a route to %s: %s", c.host, c.to, out)
		}
	}
}
