package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/papi-dev/papi"
)

// The tests build the command and run it as a user would, in processes of
// its own, against bundles and servers on loopback.

var papiBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "papi-cmd-")
	if err != nil {
		panic(err)
	}
	papiBin = filepath.Join(dir, "papi")
	if out, err := exec.Command("go", "build", "-o", papiBin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type EchoReq struct {
	Text  string `cbor:"text" json:"text" papi:"minLength=1,maxLength=20"`
	Times int    `cbor:"times" json:"times" papi:"minimum=1,maximum=3"`
}

type EchoResp struct {
	Text string `cbor:"text" json:"text"`
}

func echoAPI() *papi.API {
	api := papi.New("echo", "1.0.0", papi.Description("Says it again"))
	papi.Handle(api, "Echo", func(ctx context.Context, r EchoReq) (EchoResp, error) {
		return EchoResp{Text: strings.Repeat(r.Text, r.Times)}, nil
	})
	return api
}

var loopback = []string{"-listen", "/ip4/127.0.0.1/tcp/0"}

func papiCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), papiBin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func bundleDir(t *testing.T) (string, *papi.Bundle) {
	t.Helper()
	b, err := echoAPI().Bundle(papi.Data("greeting", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir, b
}

func TestHashInspectOpenAPIOfADirectory(t *testing.T) {
	dir, b := bundleDir(t)
	out, _, code := papiCmd(t, "hash", dir)
	if code != 0 || !strings.Contains(out, b.Hash().String()) || !strings.Contains(out, b.APIHash().String()) {
		t.Fatalf("papi hash: %d %q", code, out)
	}
	out, _, code = papiCmd(t, "inspect", dir)
	var got inspection
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.Bundle != b.Hash().String() || len(got.Datasets) != 1 || got.Spec.Methods[0].Name != "Echo" {
		t.Fatalf("papi inspect: %d %s", code, out)
	}
	out, _, code = papiCmd(t, "openapi", dir)
	if code != 0 || !strings.Contains(out, `"openapi": "3.1.0"`) || !strings.Contains(out, `"/Echo"`) {
		t.Fatalf("papi openapi: %d %s", code, out)
	}
	if _, stderr, code := papiCmd(t, "hash"); code != exitUsage || !strings.Contains(stderr, "usage") {
		t.Fatalf("papi hash with no directory: %d %q", code, stderr)
	}
	if _, _, code := papiCmd(t, "frobnicate"); code != exitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
}

// startServe runs `papi serve DIR` in its own process and returns an address it serves at.
func startServe(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	addr, _ := startServeArgs(t, append(append(append([]string{"serve"}, loopback...), flags...), dir))
	return addr
}

// startServeArgs runs papi with args in its own process until the test
// ends, and returns the first address it prints and what it printed before.
func startServeArgs(t *testing.T, args []string) (string, string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), papiBin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var printed strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "/ip4/") {
			return line, printed.String()
		}
		printed.WriteString(line + "\n")
	}
	cmd.Wait()
	t.Fatalf("papi %s printed no address: %s %s", strings.Join(args, " "), printed.String(), stderr.String())
	return "", ""
}

func TestServeThenInspectAndClone(t *testing.T) {
	dir, b := bundleDir(t)
	addr := startServe(t, dir)
	net := append([]string{"-provider", addr}, loopback...)

	out, _, code := papiCmd(t, append(append([]string{"inspect"}, net...), b.Hash().String())...)
	if code != 0 || !strings.Contains(out, `"greeting"`) {
		t.Fatalf("papi inspect HASH: %d %s", code, out)
	}
	store := t.TempDir()
	out, stderr, code := papiCmd(t, append(append([]string{"clone", "-store", store}, net...), b.Hash().String())...)
	if code != 0 || !strings.Contains(out, "cloned "+b.Hash().String()) {
		t.Fatalf("papi clone: %d %s %s", code, out, stderr)
	}
	// The command only seeds: a call reaches no handler, and says so
	// (papi.ErrNoHandlers).
	_, stderr, code = papiCmd(t, append(append([]string{"call"}, net...), b.Hash().String(), "Echo", `{"text":"a","times":1}`)...)
	if code != exitError || !strings.Contains(stderr, "no handlers here") {
		t.Fatalf("call on a seeded bundle: %d %s", code, stderr)
	}
}

func TestCallWithJSON(t *testing.T) {
	p, err := papi.NewPeer(t.Context(), papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	b, _ := echoAPI().Bundle()
	srv, err := p.Serve(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	net := append([]string{"-provider", srv.Addrs()[0]}, loopback...)
	out, stderr, code := papiCmd(t, append(append([]string{"call"}, net...), b.APIHash().String(), "Echo", `{"text":"ab","times":2}`)...)
	if code != 0 || strings.TrimSpace(out) != `{"text":"abab"}` {
		t.Fatalf("papi call: %d %q %s", code, out, stderr)
	}
	_, stderr, code = papiCmd(t, append(append([]string{"call"}, net...), b.APIHash().String(), "Echo", `{"text":"ab","times":9}`)...)
	if code != exitError || !strings.Contains(stderr, "times") || !strings.Contains(stderr, "maximum") {
		t.Fatalf("papi call breaking a condition: %d %s", code, stderr)
	}
}

func TestServeUnderANameThenResolveAndInspect(t *testing.T) {
	dir, b := bundleDir(t)
	identity := filepath.Join(t.TempDir(), "key")
	addr := startServe(t, dir, "-name", "echo", "-identity", identity)
	id := addr[strings.LastIndex(addr, "/")+1:]
	name := id + "/echo"
	net := append([]string{"-provider", addr}, loopback...)

	out, stderr, code := papiCmd(t, append(append([]string{"resolve"}, net...), name)...)
	if want := name + " sequence 1 bundle " + b.Hash().String(); code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("papi resolve: %d %q %s, want %q", code, out, stderr, want)
	}
	out, stderr, code = papiCmd(t, append(append([]string{"inspect"}, net...), name)...)
	if code != 0 || !strings.Contains(out, b.Hash().String()) {
		t.Fatalf("papi inspect NAME: %d %s %s", code, out, stderr)
	}
	_, stderr, code = papiCmd(t, append(append([]string{"resolve"}, net...), id+"/nothing")...)
	if code != exitError || !strings.Contains(stderr, "no provider") {
		t.Fatalf("papi resolve of an unpublished name: %d %s", code, stderr)
	}
	_, stderr, code = papiCmd(t, "resolve", "not-a-name")
	if code != exitError || !strings.Contains(stderr, "malformed") {
		t.Fatalf("papi resolve of a bad name: %d %s", code, stderr)
	}
}
