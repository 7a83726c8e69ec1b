package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/internal/booths"
)

func stationsFile(t *testing.T, stations []booths.Station) string {
	t.Helper()
	b, err := papi.Data("stations", stations).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "stations.cbor")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBuildCloneServeCall is the portable-handlers story in separate
// processes: build a bundle from Go source and serve it; clone it into a
// store and serve it from there, with no handler code, alone and over other
// data; call each.
func TestBuildCloneServeCall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	out, stderr, code := papiCmd(t, "build", "-o", dir, "-data", "stations="+stationsFile(t, booths.Stations), "../../examples/portable/module")
	if code != 0 {
		t.Fatalf("papi build: %d %s %s", code, out, stderr)
	}
	m := regexp.MustCompile(`bundle (\S+)\napi    (\S+)\ncode   (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("papi build printed %q", out)
	}
	hash := m[1]
	author := startServe(t, dir)

	store := t.TempDir()
	if out, stderr, code := papiCmd(t, append([]string{"clone", "-store", store, "-provider", author}, append(loopback, hash)...)...); code != 0 {
		t.Fatalf("papi clone: %d %s %s", code, out, stderr)
	}
	mirror := startServe(t, hash, "-store", store)
	call := func(addr, h string) string {
		t.Helper()
		out, stderr, code := papiCmd(t, append([]string{"call", "-provider", addr}, append(loopback, h, "Nearest", `{"lat":41.39,"lon":2.165,"limit":1}`)...)...)
		if code != 0 {
			t.Fatalf("papi call %s: %d %s %s", h, code, out, stderr)
		}
		return out
	}
	if out := call(mirror, hash); !strings.Contains(out, `"bcn-002"`) {
		t.Fatalf("call on the mirror: %s", out)
	}

	own := stationsFile(t, []booths.Station{{ID: "tgn-001", Name: "Escola Mediterrani", Lat: 41.1189, Lon: 1.2445}})
	args := append(append([]string{"serve", "-store", store, "-data", "stations=" + own}, loopback...), hash)
	addr, printed := startServeArgs(t, args)
	mine := regexp.MustCompile(`serving (\S+)`).FindStringSubmatch(printed)
	if mine == nil || mine[1] == hash {
		t.Fatalf("serve -data printed %q: want a new bundle hash", printed)
	}
	if out := call(addr, mine[1]); !strings.Contains(out, `"tgn-001"`) {
		t.Fatalf("call over own data: %s", out)
	}
}
