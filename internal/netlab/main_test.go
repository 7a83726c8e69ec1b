//go:build linux

package netlab_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/papi-dev/papi/internal/netlab"
)

// roleEnv selects what the test binary does when a test starts it again
// inside a namespace: a peer, a probe of the NAT, rather than the tests.
const roleEnv = "PAPI_NETLAB_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	code := m.Run()
	ran, skipped := netlab.Counts()
	fmt.Printf("netlab: %d tests ran in network namespaces, %d skipped for want of them\n", ran, skipped)
	os.Exit(code)
}

func runRole(role string) int {
	var err error
	switch role {
	case "peer":
		err = runPeer()
	case "udp-echo":
		err = runUDPEcho()
	case "udp-probe":
		err = runUDPProbe()
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
