// Package gomodtest builds throwaway Go modules that use this checkout of
// papi, for tests that compile and run code the way a consumer would (code
// papi generates, examples of its use).
package gomodtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Module writes a module named name in a temporary directory, with files
// (paths relative to it), that requires the papi checkout at root by a
// replace directive and carries papi's go.sum, so that it builds offline
// from the module cache the tests already use. It returns the directory.
func Module(t testing.TB, root, name string, files map[string]string) string {
	t.Helper()
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files["go.mod"] = "module " + name + "\n\ngo 1.26\n\nrequire github.com/papi-dev/papi v0.0.0\n\nreplace github.com/papi-dev/papi => " + root + "\n"
	files["go.sum"] = string(sum)
	for file, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Run runs the main package pkg of the module in dir with args and returns
// what it printed. The module proxy is off: everything must come from the
// module cache.
func Run(t testing.TB, dir, pkg string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", append([]string{"run", pkg}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run %s: %v\n%s", pkg, err, stderr.String())
	}
	return string(out)
}
