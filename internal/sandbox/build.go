package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles the Go main package pkg (an import path or a directory,
// resolved from dir) to a WebAssembly reactor module with the go command,
// and returns the module. The build is reproducible: the same source and Go
// version give the same bytes, and so the same hash.
func Build(ctx context.Context, dir, pkg string) ([]byte, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("build %s: the go command is needed to build a module: %w", pkg, err)
	}
	tmp, err := os.MkdirTemp("", "papi-build-*")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", pkg, err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "module.wasm")
	cmd := exec.CommandContext(ctx, goCmd, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("build %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return os.ReadFile(out)
}
