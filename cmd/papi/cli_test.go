package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/internal/booths"
)

// These tests run the command in-process, through run as main calls it,
// so that they can share bundles and peers with the test and need no
// second process to stop.

// runPapi runs one command line to its end and returns what it printed and
// its exit status.
func runPapi(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errs strings.Builder
	code = run(t.Context(), args, &out, &errs)
	return out.String(), errs.String(), code
}

// lockedBuilder is a strings.Builder that a command running in another
// goroutine can write while the test reads it.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// servePapi runs a serve command line in-process until the test ends, and
// returns what it printed up to its first address, that address included:
// by then it serves, and has published what -name asks.
func servePapi(t *testing.T, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var stderr lockedBuilder
	done := make(chan int, 1)
	go func() {
		code := run(ctx, args, pw, &stderr)
		pw.Close()
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("papi %s exited %d when stopped: %s", strings.Join(args, " "), code, stderr.String())
		}
	})
	var printed []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		printed = append(printed, line)
		if strings.HasPrefix(line, "/") {
			// The command writes nothing more until it stops; keep
			// reading so that it never blocks on the pipe if it does.
			go io.Copy(io.Discard, pr)
			return printed
		}
	}
	code := <-done
	done <- code // for the cleanup
	t.Fatalf("papi %s exited %d before it printed an address:\n%s\n%s", strings.Join(args, " "), code, strings.Join(printed, "\n"), stderr.String())
	return nil
}

// boothsAPI declares natively the API of examples/portable/module, so a
// bundle of it answers the calls README shows, and has the same API hash
// as the bundle README's build line makes.
func boothsAPI(t *testing.T) *papi.API {
	t.Helper()
	api := papi.New("booths", "1.0.0", papi.Description(booths.APIDescription))
	if err := papi.Handle(api, "Nearest", booths.Nearest, papi.Description(booths.NearestDescription)); err != nil {
		t.Fatal(err)
	}
	return api
}

// provider is a bundle of the booths API written to a directory and served,
// with its handlers, from a peer of the test on loopback, which also
// publishes it under a name.
type provider struct {
	dir, hash, api, name, addr string
}

func startProvider(t *testing.T) provider {
	t.Helper()
	b, err := boothsAPI(t).Bundle(papi.Data("stations", booths.Stations))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "booths")
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	p, err := papi.NewPeer(t.Context(), papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv, err := p.Serve(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := p.Publish(t.Context(), "stations", srv.Hash())
	if err != nil {
		t.Fatal(err)
	}
	return provider{dir: dir, hash: b.Hash().String(), api: b.APIHash().String(), name: rec.Name.String(), addr: srv.Addrs()[0]}
}

func TestFlagsAnywhere(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantPos   []string
		wantProvs []string
		wantErr   bool
	}{
		{"flags first", []string{"-provider", "A", "H"}, []string{"H"}, []string{"A"}, false},
		{"flags last", []string{"H", "-provider", "A"}, []string{"H"}, []string{"A"}, false},
		{"flags between", []string{"H", "-provider", "A", "M", "-provider=B", "{}"}, []string{"H", "M", "{}"}, []string{"A", "B"}, false},
		{"no flags", []string{"H", "M"}, []string{"H", "M"}, nil, false},
		{"after --, all positional", []string{"H", "--", "-provider", "A"}, []string{"H", "-provider", "A"}, nil, false},
		{"-- first", []string{"--", "-1"}, []string{"-1"}, nil, false},
		{"unknown flag", []string{"H", "-nope"}, nil, nil, true},
		{"flag without its value", []string{"H", "-provider"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := flag.NewFlagSet("test", flag.ContinueOnError)
			fset.SetOutput(io.Discard)
			var provs multiFlag
			fset.Var(&provs, "provider", "")
			pos, err := parseInterspersed(fset, tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseInterspersed(%q): error %v, want error %v", tt.args, err, tt.wantErr)
			}
			if !slices.Equal(pos, tt.wantPos) || !slices.Equal(provs, tt.wantProvs) {
				t.Fatalf("parseInterspersed(%q) = %q with -provider %q, want %q with %q", tt.args, pos, provs, tt.wantPos, tt.wantProvs)
			}
		})
	}
}

// TestFlagsAfterArguments runs the command lines of the issue, flags last,
// against a provider: they used to exit 2 with a usage message.
func TestFlagsAfterArguments(t *testing.T) {
	pv := startProvider(t)
	store := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"call", []string{"call", pv.hash, "Nearest", `{"lat":41.39,"lon":2.17,"limit":3}`, "-provider", pv.addr, "-listen", "/ip4/127.0.0.1/tcp/0"}, `"bcn-002"`},
		{"clone", []string{"clone", pv.hash, "-provider", pv.addr, "-store", store, "-listen", "/ip4/127.0.0.1/tcp/0"}, "cloned " + pv.hash},
		{"inspect, flags around", []string{"inspect", "-listen", "/ip4/127.0.0.1/tcp/0", pv.name, "-provider", pv.addr}, pv.hash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runPapi(t, tt.args...)
			if code != 0 || !strings.Contains(out, tt.want) {
				t.Fatalf("papi %s: exit %d, want 0 and %q in\n%s\n%s", strings.Join(tt.args, " "), code, tt.want, out, stderr)
			}
		})
	}
}

// TestErrorsSayWhatIsWrong checks the messages of arguments that are not
// what a command expects: a directory that is not there says so, not that
// it is a malformed name, and hints name flags, not Go functions.
func TestErrorsSayWhatIsWrong(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("not a bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	// A hash no store holds and no peer serves: the bundle of other data.
	b, err := boothsAPI(t).Bundle(papi.Data("stations", booths.Stations[:1]))
	if err != nil {
		t.Fatal(err)
	}
	hash := b.Hash().String()
	// A name of a publisher no peer knows.
	publisher, err := papi.NewPeer(t.Context(), papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	name := publisher.ID().String() + "/stations"
	publisher.Close()
	loopback := []string{"-listen", "/ip4/127.0.0.1/tcp/0", "-store", t.TempDir()}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"inspect missing dir", []string{"inspect", missing}, "directory " + missing + " does not exist"},
		{"inspect missing relative dir", []string{"inspect", "./no/such/dir"}, "directory ./no/such/dir does not exist"},
		{"inspect missing word", []string{"inspect", "nosuchbundle"}, "directory nosuchbundle does not exist, and it is not a hash either"},
		{"hash missing dir", []string{"hash", missing}, "directory " + missing + " does not exist"},
		{"hash of a file", []string{"hash", file}, file + " is a file, not a bundle directory"},
		{"hash of a directory with no bundle", []string{"hash", empty}, empty + " is not a bundle directory: it has no manifest.cbor"},
		{"openapi missing dir", []string{"openapi", missing}, "directory " + missing + " does not exist"},
		{"serve missing dir", []string{"serve", missing}, "directory " + missing + " does not exist"},
		{"serve hash not in store", append([]string{"serve", hash}, loopback...), "bundle " + hash + " is not in the store"},
		{"build missing package dir", []string{"build", "-o", filepath.Join(empty, "out"), missing}, "directory " + missing + " does not exist"},
		{"inspect with no provider", append([]string{"inspect", hash}, loopback...), "-provider ADDR"},
		{"call with no provider", append([]string{"call", hash, "Nearest", "{}"}, loopback...), "-provider ADDR"},
		{"clone with no provider", append([]string{"clone", hash}, loopback...), "-provider ADDR"},
		{"resolve with no provider", append([]string{"resolve", name}, loopback...), "-provider ADDR"},
		{"inspect NAME with no provider", append([]string{"inspect", name}, loopback...), "-provider ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runPapi(t, tt.args...)
			if code != exitError || !strings.Contains(stderr, tt.want) {
				t.Fatalf("papi %s: exit %d, want %d and %q in %q", strings.Join(tt.args, " "), code, exitError, tt.want, stderr)
			}
			for _, goName := range []string{"papi.Provider", "papi.StoreDir", "papi.PrivateDHT", "failed to parse peer ID"} {
				if strings.Contains(stderr, goName) {
					t.Fatalf("papi %s: %q says %q, which a command-line user cannot act on", strings.Join(tt.args, " "), stderr, goName)
				}
			}
		})
	}
}

// TestInspectFromTheStore checks that a bundle in the store is described
// from there: no provider is reachable, so a look-up on the network fails.
func TestInspectFromTheStore(t *testing.T) {
	b, err := boothsAPI(t).Bundle(papi.Data("stations", booths.Stations))
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	func() {
		// A provider that is gone once the bundle is cloned.
		author, err := papi.NewPeer(t.Context(), papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		defer author.Close()
		srv, err := author.Serve(t.Context(), b, papi.SeedOnly())
		if err != nil {
			t.Fatal(err)
		}
		mirror, err := papi.NewPeer(t.Context(), papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		defer mirror.Close()
		if _, err := mirror.Clone(t.Context(), b.Hash(), papi.Provider(srv.Addrs()...), papi.StoreDir(store)); err != nil {
			t.Fatal(err)
		}
	}()
	hash := b.Hash().String()
	offline := []string{"-store", store, "-listen", "/ip4/127.0.0.1/tcp/0", "-timeout", "2s"}

	tests := []struct {
		name  string
		args  []string
		check func(out string) bool
	}{
		{"inspect", append([]string{"inspect", hash}, offline...), func(out string) bool {
			var got inspection
			return json.Unmarshal([]byte(out), &got) == nil && got.Bundle == hash && got.API == b.APIHash().String() && len(got.Datasets) == 1
		}},
		{"inspect, -store first", append([]string{"inspect", "-store", store, hash}, offline[2:]...), func(out string) bool {
			return strings.Contains(out, `"bundle": "`+hash+`"`)
		}},
		{"openapi", append([]string{"openapi", hash}, offline...), func(out string) bool {
			return strings.Contains(out, `"openapi": "3.1.0"`) && strings.Contains(out, `"/Nearest"`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runPapi(t, tt.args...)
			if code != 0 || !tt.check(out) {
				t.Fatalf("papi %s: exit %d\n%s\n%s", strings.Join(tt.args, " "), code, out, stderr)
			}
		})
	}
}

// TestGatewayCommand: papi gateway, in a process of its own, answers HTTP
// calls, the OpenAPI document and the Swagger UI page of a bundle a peer
// serves.
func TestGatewayCommand(t *testing.T) {
	pv := startProvider(t)
	_, printed := startServeArgs(t, []string{"gateway", "-http", "127.0.0.1:0", "-listen", "/ip4/127.0.0.1/tcp/0", "-provider", pv.addr, "-store", t.TempDir()})
	first, _, _ := strings.Cut(printed, "\n")
	url, ok := strings.CutPrefix(first, "gateway at ")
	if !ok {
		t.Fatalf("papi gateway printed %q", printed)
	}
	resp, err := http.Post(url+pv.hash+"/Nearest", "application/json", strings.NewReader(`{"lat":41.39,"lon":2.17,"limit":1}`))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(out), `"stations"`) {
		t.Fatalf("a call through papi gateway: %d %s", resp.StatusCode, out)
	}
	for _, get := range []struct{ path, contentType, has string }{
		{pv.hash + "/openapi.json", "application/json", `"servers"`},
		{pv.hash + "/", "text/html", "swagger-ui-bundle.js"},
	} {
		resp, err := http.Get(url + get.path)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), get.contentType) || !strings.Contains(string(out), get.has) {
			t.Errorf("GET %s: %d %s %.200s", get.path, resp.StatusCode, resp.Header.Get("Content-Type"), out)
		}
	}
}
