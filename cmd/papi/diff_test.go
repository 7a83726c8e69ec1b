package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/papi-dev/papi"
)

// EchoReqV2 is EchoReq with an optional field more and looser conditions.
type EchoReqV2 struct {
	Text  string `cbor:"text" json:"text" papi:"minLength=1,maxLength=40"`
	Times int    `cbor:"times" json:"times" papi:"minimum=1,maximum=3"`
	Upper bool   `cbor:"upper,omitempty" json:"upper,omitempty"`
}

// EchoReqTight is EchoReq with a tighter condition.
type EchoReqTight struct {
	Text  string `cbor:"text" json:"text" papi:"minLength=1,maxLength=10"`
	Times int    `cbor:"times" json:"times" papi:"minimum=1,maximum=3"`
}

func echoDir(t *testing.T, api *papi.API) string {
	t.Helper()
	b, err := api.Bundle(papi.Data("greeting", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDiffExitCodes runs papi diff as a user's CI would: 0 for a
// compatible change, 1 for a breaking one, 2 for a usage error, with a
// bundle directory on one side and a served bundle's hash on the other.
func TestDiffExitCodes(t *testing.T) {
	v1 := echoDir(t, echoAPI())
	v2api := papi.New("echo", "1.1.0", papi.Description("Says it again"))
	papi.Handle(v2api, "Echo", func(ctx context.Context, r EchoReqV2) (EchoResp, error) { return EchoResp{}, nil })
	papi.Handle(v2api, "Shout", func(ctx context.Context, r EchoReq) (EchoResp, error) { return EchoResp{}, nil })
	v2 := echoDir(t, v2api)
	tight := papi.New("echo", "1.0.1", papi.Description("Says it again"))
	papi.Handle(tight, "Echo", func(ctx context.Context, r EchoReqTight) (EchoResp, error) { return EchoResp{}, nil })
	tightDir := echoDir(t, tight)
	served := startServe(t, v2)
	b2, err := papi.OpenBundle(v2)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"same", []string{"diff", v1, v1}, 0, []string{"no changes"}},
		{"compatible", []string{"diff", v1, v2}, 0, []string{
			"compatible Echo request upper: optional field added",
			"compatible Echo request text: maxLength loosened: old 20, new 40",
			"compatible Shout: method added",
			"compatible: 4 changes, none breaks callers of echo 1.0.0",
		}},
		{"compatible, by hash over the network", append([]string{"diff", v1, b2.Hash().String(), "-provider", served}, loopback...), 0, []string{"compatible Shout: method added"}},
		{"the way back breaks", []string{"diff", v2, v1}, 1, []string{
			"breaking   Echo request upper: field removed",
			"breaking   Shout: method removed",
			"breaking   Echo request text: maxLength tightened: old 40, new 20",
		}},
		{"tightened", []string{"diff", v1, tightDir}, 1, []string{"breaking   Echo request text: maxLength tightened: old 20, new 10 (callers may send values the new spec refuses)"}},
		{"one argument", []string{"diff", v1}, exitUsage, nil},
		{"no such directory", []string{"diff", v1, "./nowhere"}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := papiCmd(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, stderr)
			}
			for _, want := range tt.contains {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if tt.code == 1 && len(tt.contains) > 0 && !strings.Contains(stderr, "papi diff: breaking:") {
				t.Errorf("stderr: %q", stderr)
			}
		})
	}
}

// TestInspectShowsTheLineOfDescent inspects an API derived twice: echo
// 1.0.0, then 1.1.0 (compatible), then 2.0.0, a new line that breaks.
func TestInspectShowsTheLineOfDescent(t *testing.T) {
	v1, err := echoAPI().Bundle(papi.Data("greeting", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	v2api := papi.New("echo", "1.1.0", papi.Extends(v1))
	papi.Handle(v2api, "Echo", func(ctx context.Context, r EchoReqV2) (EchoResp, error) { return EchoResp{}, nil })
	v2, err := v2api.Bundle(papi.Data("greeting", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	v3api := papi.New("echo", "2.0.0", papi.Extends(v2), papi.NewLine())
	papi.Handle(v3api, "Echo", func(ctx context.Context, r EchoReqTight) (EchoResp, error) { return EchoResp{}, nil })
	v3, err := v3api.Bundle(papi.Data("greeting", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "v3")
	if err := v3.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := papiCmd(t, "inspect", dir)
	var got inspection
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	if got.Parent != v2.Hash().String() || len(got.Lineage) != 2 {
		t.Fatalf("parent %s, lineage %+v", got.Parent, got.Lineage)
	}
	want := []inspectedStep{
		{API: v2.APIHash().String(), Name: "echo", Version: "1.1.0", Verdict: "breaking", Answered: false},
		{API: v1.APIHash().String(), Name: "echo", Version: "1.0.0", Verdict: "compatible", Answered: false},
	}
	for i, w := range want {
		g := got.Lineage[i]
		if g.API != w.API || g.Version != w.Version || g.Verdict != w.Verdict || g.Answered != w.Answered {
			t.Errorf("step %d: got %+v, want %+v", i, g, w)
		}
	}
	if b := got.Lineage[0].Breaking; len(b) == 0 || !strings.Contains(strings.Join(b, "\n"), "Echo request text: maxLength tightened: old 40, new 10") {
		t.Errorf("breaking changes of the step from 1.1.0: %q", b)
	}
}
