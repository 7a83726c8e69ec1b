package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// TestReadmeShowsThisProgram: README's quick start is this file, byte for
// byte, so that what a newcomer pastes is what runs here.
func TestReadmeShowsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## Quick start\n")
	if !ok {
		t.Fatal("README has no quick start")
	}
	_, block, ok := strings.Cut(after, "```go\n")
	if !ok {
		t.Fatal("README's quick start has no Go block")
	}
	block, _, _ = strings.Cut(block, "```\n")
	if block != string(src) {
		t.Fatal("README's quick start differs from examples/quickstart/main.go: copy the file into README")
	}
}

// TestQuickstartRuns runs the program: it serves, dials by hash and gets
// its greeting.
func TestQuickstartRuns(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	t.Cleanup(func() { os.Stdout = stdout })
	main()
	w.Close()
	os.Stdout = stdout
	var out bytes.Buffer
	io.Copy(&out, r)
	if !strings.Contains(out.String(), "serving bafyr") || !strings.HasSuffix(out.String(), "hello there, Ada\n") {
		t.Fatalf("quickstart printed:\n%s", out.String())
	}
}
