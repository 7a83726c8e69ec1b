//go:build linux

package netlab_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/papi-dev/papi/internal/netlab"
)

// A namespace left by a run that was killed is removed by the next lab.
func TestLeftoversAreRemoved(t *testing.T) {
	if why := netlab.Unavailable(); why != "" {
		t.Skipf("netlab: network namespaces unavailable (%s)", why)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%s%d-1-relay", netlab.Prefix, gone.Process.Pid)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	netlab.New(t)
	if _, err := os.Stat(filepath.Join("/run/netns", name)); !os.IsNotExist(err) {
		t.Fatalf("leftover namespace %s still there: %v", name, err)
	}
}
