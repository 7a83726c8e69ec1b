package papi

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/papi-dev/papi/internal/booths"
	"github.com/papi-dev/papi/internal/canon"
)

var (
	boothsModuleOnce sync.Once
	boothsModule     []byte
	boothsModuleErr  error
)

// portableModule is examples/portable/module, built once per test binary.
func portableModule(t testing.TB) []byte {
	t.Helper()
	boothsModuleOnce.Do(func() {
		boothsModule, boothsModuleErr = BuildModule(context.Background(), "./examples/portable/module")
	})
	if boothsModuleErr != nil {
		t.Fatal(boothsModuleErr)
	}
	return boothsModule
}

func portableBundle(t testing.TB, stations []booths.Station) *Bundle {
	t.Helper()
	b, err := BundleModule(t.Context(), portableModule(t), Data("stations", stations))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var portableStations = []booths.Station{
	{ID: "bcn-001", Name: "Escola Pia", Lat: 41.3874, Lon: 2.1686},
	{ID: "bcn-002", Name: "Institut Jaume Balmes", Lat: 41.3917, Lon: 2.1649},
	{ID: "gir-001", Name: "Escola Verd", Lat: 41.9794, Lon: 2.8214},
}

func nearestNames(t *testing.T, c *Client, req booths.NearestReq) []string {
	t.Helper()
	resp, err := Call[booths.NearestReq, booths.NearestResp](t.Context(), c, "Nearest", req)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.Stations {
		names = append(names, s.ID)
	}
	return names
}

// TestPortableHandlers is the seed's two pictures with code in the bundle:
// an author builds a bundle from Go source and serves it; a second peer, with
// no handler code, clones it and serves it, with its data and then with its
// own; a third calls the second.
func TestPortableHandlers(t *testing.T) {
	author, mirror, caller := newTestPeer(t), newTestPeer(t), newTestPeer(t)
	built := portableBundle(t, portableStations)

	native, err := nativeBooths(t).Bundle(Data("stations", portableStations))
	if err != nil {
		t.Fatal(err)
	}
	if built.APIHash() != native.APIHash() {
		t.Fatalf("module's API hash %s, native API's %s: the same interface must have one hash", built.APIHash(), native.APIHash())
	}
	if built.Hash() == native.Hash() {
		t.Fatal("bundle hash does not cover the code")
	}
	codeHash, ok := built.CodeHash()
	if !ok {
		t.Fatal("built bundle has no code")
	}
	serveTest(t, author, built)

	cloned, err := mirror.Clone(t.Context(), built.Hash(), Provider(author.Addrs()...), StoreDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := cloned.CodeHash(); cloned.Hash() != built.Hash() || h != codeHash {
		t.Fatalf("clone %s code %s, want %s code %s", cloned.Hash(), h, built.Hash(), codeHash)
	}
	serveTest(t, mirror, cloned) // no Implement: the bundle's own code serves

	c := dialTest(t, caller, built.Hash(), mirror)
	if c.RemotePeer() != mirror.ID() {
		t.Fatalf("dialed %s, want the mirror", c.RemotePeer())
	}
	got := nearestNames(t, c, booths.NearestReq{Lat: 41.39, Lon: 2.165, Limit: 2})
	if want := []string{"bcn-002", "bcn-001"}; !slices.Equal(got, want) {
		t.Fatalf("Nearest from the clone: %v, want %v", got, want)
	}
	_, err = Call[booths.NearestReq, booths.NearestResp](t.Context(), c, "Nearest", booths.NearestReq{Lat: 91, Limit: 1})
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("out-of-range request: %v, want ErrPrecondition", err)
	}
	if _, err := c.CallCBOR(t.Context(), "Missing", []byte{0xa0}); !errors.Is(err, ErrUnknownMethod) {
		t.Fatalf("unknown method: %v, want ErrUnknownMethod", err)
	}
	// The sandboxed handlers get the server's check of required fields too.
	noLat, _ := canon.Marshal(map[string]any{"lon": 2.165, "limit": 2})
	if _, err := c.CallCBOR(t.Context(), "Nearest", noLat); !errors.Is(err, ErrPrecondition) || !strings.Contains(err.Error(), "lat: required: missing") {
		t.Fatalf("request without lat: %v, want ErrPrecondition naming lat as missing", err)
	}

	// Same code, own data.
	mine, err := cloned.WithData(Data("stations", []booths.Station{{ID: "tgn-001", Name: "Escola Mediterrani", Lat: 41.1189, Lon: 1.2445}}))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := mine.CodeHash(); mine.APIHash() != built.APIHash() || h != codeHash || mine.Hash() == built.Hash() {
		t.Fatal("WithData must keep the API and code hashes and make a new bundle hash")
	}
	if parent, ok := mine.Parent(); !ok || parent != built.Hash() {
		t.Fatalf("lineage: parent %s, want %s", parent, built.Hash())
	}
	serveTest(t, mirror, mine)
	c2 := dialTest(t, caller, mine.Hash(), mirror)
	if got := nearestNames(t, c2, booths.NearestReq{Lat: 41.39, Lon: 2.165, Limit: 3}); !slices.Equal(got, []string{"tgn-001"}) {
		t.Fatalf("Nearest over own data: %v", got)
	}
}

// TestNativeHandlersWin serves a bundle with code and Implement: the
// native handlers answer.
func TestNativeHandlersWin(t *testing.T) {
	server, client := newTestPeer(t), newTestPeer(t)
	b := portableBundle(t, portableStations)
	api := New("booths", "1.0.0", Description(booths.APIDescription))
	Handle(api, "Nearest", func(context.Context, booths.NearestReq) (booths.NearestResp, error) {
		return booths.NearestResp{Stations: []booths.Station{{ID: "native", Name: "native", Lat: 0, Lon: 0}}}, nil
	}, Description(booths.NearestDescription))
	serveTest(t, server, b, Implement(api))
	c := dialTest(t, client, b.Hash(), server)
	if got := nearestNames(t, c, booths.NearestReq{Lat: 41, Lon: 2, Limit: 1}); !slices.Equal(got, []string{"native"}) {
		t.Fatalf("got %v, want the native handler's answer", got)
	}
}

func TestCodeOnDisk(t *testing.T) {
	b := portableBundle(t, portableStations)
	dir := t.TempDir()
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	back, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != b.Hash() {
		t.Fatalf("reopened %s, want %s", back.Hash(), b.Hash())
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	streamed, err := ReadBundle(&buf)
	if err != nil || streamed.Hash() != b.Hash() {
		t.Fatalf("stream round trip: %v", err)
	}
	if code, _ := streamed.Code(); !bytes.Equal(code, portableModule(t)) {
		t.Fatal("streamed code differs")
	}

	path := filepath.Join(dir, codeFile)
	wasm, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"corrupted": append(append([]byte(nil), wasm[:len(wasm)/2]...), append([]byte{wasm[len(wasm)/2] ^ 1}, wasm[len(wasm)/2+1:]...)...),
		"truncated": wasm[:len(wasm)-100],
	} {
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenBundle(dir); !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("%s code: %v, want ErrHashMismatch", name, err)
		}
	}
}

func TestCodeRefused(t *testing.T) {
	b := portableBundle(t, portableStations)
	t.Run("spec differs from the manifest's", func(t *testing.T) {
		other := boothsBundle(t)
		forged, err := newBundle(other.spec, other.specBytes, b.datasets, Hash{}, nil, b.code, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = newTestPeer(t).Serve(t.Context(), forged)
		if !errors.Is(err, ErrSpecMismatch) {
			t.Fatalf("serve: %v, want ErrSpecMismatch", err)
		}
	})
	t.Run("module over the size cap", func(t *testing.T) {
		p, err := NewPeer(t.Context(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), Sandbox(SandboxLimits{ModuleSize: 1 << 20}), CompileCache(""))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if _, err := p.Serve(t.Context(), b); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("serve: %v, want ErrTooLarge", err)
		}
	})
	t.Run("corrupted module from a provider", func(t *testing.T) {
		bad, err := copyInMemory(t, b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.code.Outboard(); err != nil {
			t.Fatal(err)
		}
		bad.code.data[1000] ^= 0x01
		provider := newTestPeer(t)
		serveTest(t, provider, bad, SeedOnly())
		_, err = newTestPeer(t).Clone(t.Context(), b.Hash(), Provider(provider.Addrs()...), StoreDir(t.TempDir()))
		var cp *CorruptPieceError
		if !errors.As(err, &cp) {
			t.Fatalf("clone: %v, want a corrupt piece", err)
		}
	})
}

// nativeBooths declares the booths API natively, as examples/internal/boothsapi does.
func nativeBooths(t testing.TB) *API {
	t.Helper()
	api := New("booths", "1.0.0", Description(booths.APIDescription))
	if err := Handle(api, "Nearest", booths.Nearest, Description(booths.NearestDescription)); err != nil {
		t.Fatal(err)
	}
	return api
}
