// Package js holds the JavaScript client; this Go test runs its npm tests,
// so that the repository's one test command (go test ./...) covers them.
package js

import (
	"os"
	"os/exec"
	"testing"
)

// TestNPM runs npm ci (when node_modules is missing) and npm test. It
// skips where node or npm is not installed, unless PAPI_REQUIRE_BROWSER is
// set, as CI sets it: there a missing tool fails.
func TestNPM(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("PAPI_REQUIRE_BROWSER") != "" {
				t.Fatalf("%s is not installed, and PAPI_REQUIRE_BROWSER is set", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	npm := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "npm", args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("npm %v: %v\n%s", args, err, out)
		}
		t.Logf("npm %v:\n%s", args, out)
	}
	if _, err := os.Stat("node_modules"); os.IsNotExist(err) {
		npm("ci", "--no-audit", "--no-fund")
	}
	npm("test")
}
