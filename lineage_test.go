package papi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The booths API improved on: an optional request field, a response
// field, and a method more. Its old callers keep working.
type (
	NearestReqV2 struct {
		Lat    float64 `cbor:"lat" papi:"minimum=-90,maximum=90" doc:"latitude in degrees"`
		Lon    float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit  int     `cbor:"limit" papi:"minimum=1,maximum=50"`
		Prefix string  `cbor:"prefix,omitempty" papi:"maxLength=16" doc:"only stations whose ID starts so"`
	}
	NearestRespV2 struct {
		Stations []Station `cbor:"stations" papi:"maxItems=50"`
		Total    int       `cbor:"total,omitempty" doc:"stations in the bundle"`
	}
	RegionsResp struct {
		Regions []string `cbor:"regions"`
	}
)

func nearestV2(ctx context.Context, req NearestReqV2) (NearestRespV2, error) {
	all, err := Load[[]Station](ctx, "stations")
	if err != nil {
		return NearestRespV2{}, err
	}
	r, err := nearest(ctx, NearestReq{Lat: req.Lat, Lon: req.Lon, Limit: len(all)})
	if err != nil {
		return NearestRespV2{}, err
	}
	var out []Station
	for _, s := range r.Stations {
		if strings.HasPrefix(s.ID, req.Prefix) && len(out) < req.Limit {
			out = append(out, s)
		}
	}
	return NearestRespV2{Stations: out, Total: len(all)}, nil
}

func regions(ctx context.Context, _ CountReq) (RegionsResp, error) {
	all, err := Load[[]Station](ctx, "stations")
	seen := map[string]bool{}
	var out []string
	for _, s := range all {
		if r, _, _ := strings.Cut(s.ID, "-"); !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return RegionsResp{Regions: out}, err
}

// boothsPlusAPI derives from parent's API, as anyone may: same methods,
// each of them improved on compatibly, and one more.
func boothsPlusAPI(t testing.TB, name string, parent Parent, opts ...APIOption) *API {
	t.Helper()
	api := New(name, "1.1.0", append([]APIOption{Extends(parent), Description("Polling stations, by region too")}, opts...)...)
	if err := Handle(api, "Nearest", nearestV2, Description("The stations nearest to a point")); err != nil {
		t.Fatal(err)
	}
	if err := Handle(api, "Count", count); err != nil {
		t.Fatal(err)
	}
	if err := Handle(api, "Regions", regions); err != nil {
		t.Fatal(err)
	}
	return api
}

func boothsPlusBundle(t testing.TB, parent *Bundle) *Bundle {
	t.Helper()
	b, err := boothsPlusAPI(t, "booths", parent).Bundle(Data("stations", someStations))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExtendsRecordsTheParent: a derived bundle names its parent bundle
// and API, carries the parent's spec, and keeps both through a directory
// and a byte stream; a bundle that extends nothing is as it was.
func TestExtendsRecordsTheParent(t *testing.T) {
	parent := boothsBundle(t)
	b := boothsPlusBundle(t, parent)
	check := func(t *testing.T, b *Bundle) {
		t.Helper()
		if p, ok := b.Parent(); !ok || p != parent.Hash() {
			t.Errorf("parent %v %v, want %s", p, ok, parent.Hash())
		}
		anc := b.Ancestors()
		if len(anc) != 1 || anc[0].API != parent.APIHash() || !anc[0].Compatible || anc[0].Spec.Version != "1.0.0" {
			t.Fatalf("ancestors %+v, want the parent API, compatible", anc)
		}
	}
	check(t, b)
	dir := t.TempDir()
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	opened, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if opened.Hash() != b.Hash() {
		t.Fatalf("opened %s, wrote %s", opened.Hash(), b.Hash())
	}
	check(t, opened)
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	read, err := ReadBundle(&buf)
	if err != nil {
		t.Fatal(err)
	}
	check(t, read)
	// A grandchild names both, the parent first.
	child, err := boothsPlusAPI(t, "booths", opened).Bundle(Data("stations", otherStations))
	if err == nil {
		t.Fatalf("a bundle of the same API as its parent: %s", child.Hash())
	}
	gc := New("booths", "1.2.0", Extends(opened))
	Handle(gc, "Nearest", nearestV2)
	Handle(gc, "Count", count)
	Handle(gc, "Regions", regions)
	Handle(gc, "Total", count)
	grand, err := gc.Bundle(Data("stations", someStations))
	if err != nil {
		t.Fatal(err)
	}
	if anc := grand.Ancestors(); len(anc) != 2 || anc[0].API != b.APIHash() || anc[1].API != parent.APIHash() || !anc[1].Compatible {
		t.Fatalf("grandchild's ancestors %+v", anc)
	}
	// A ancestor spec changed on disk is caught.
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	corrupt(t, filepath.Join(dir, "lineage", parent.APIHash().String()+".cbor"))
	if _, err := OpenBundle(dir); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("open with a changed ancestor spec: %v, want ErrHashMismatch", err)
	}
}

// TestExtendsRefusesABreakingChange: a derived API that breaks its
// parent's callers does not bundle, unless it says it starts a new line;
// then it is not served for the parent's hash.
func TestExtendsRefusesABreakingChange(t *testing.T) {
	parent := boothsBundle(t)
	breaking := func(opts ...APIOption) *API {
		api := New("booths", "2.0.0", append([]APIOption{Extends(parent)}, opts...)...)
		Handle(api, "Nearest", nearest) // Count is gone
		return api
	}
	_, err := breaking().Bundle(Data("stations", someStations))
	if !errors.Is(err, ErrSpecMismatch) || !strings.Contains(err.Error(), "Count: method removed") || !strings.Contains(err.Error(), "papi.NewLine()") {
		t.Fatalf("bundle of a breaking change: %v", err)
	}
	b, err := breaking(NewLine()).Bundle(Data("stations", someStations))
	if err != nil {
		t.Fatal(err)
	}
	if anc := b.Ancestors(); len(anc) != 1 || anc[0].API != parent.APIHash() || anc[0].Compatible {
		t.Fatalf("ancestors %+v, want the parent, not compatible", anc)
	}
	server := newTestPeer(t)
	serveTest(t, server, b)
	_, err = newTestPeer(t).Dial(t.Context(), parent.APIHash(), Provider(server.Addrs()...))
	if !errors.Is(err, ErrNoProvider) || !strings.Contains(err.Error(), "not served") {
		t.Errorf("dial the parent's API from a new line: %v, want not served", err)
	}
}

// TestOldAndNewCallersOfADerivedAPI: real hosts, one serving the parent
// API, one the derived API. Callers of the parent, typed and JSON, call
// the derived server by the parent's hash; callers of the derived API get
// its new field and method; and a caller of the derived API that reaches
// a parent-only server gets a clear error, never a wrong answer.
func TestOldAndNewCallersOfADerivedAPI(t *testing.T) {
	parent := boothsBundle(t)
	derived := boothsPlusBundle(t, parent)
	// Each caller is a peer of its own: a dial also asks the peers already
	// connected, which would find the other server.
	oldServer, newServer := newTestPeer(t), newTestPeer(t)
	serveTest(t, oldServer, parent)
	serveTest(t, newServer, derived)
	ctx := t.Context()

	t.Run("old caller, new server", func(t *testing.T) {
		caller := newTestPeer(t)
		c, err := caller.Dial(ctx, parent.APIHash(), Provider(newServer.Addrs()...))
		if err != nil {
			t.Fatal(err)
		}
		if c.Hash() != derived.Hash() || c.RemotePeer() != newServer.ID() {
			t.Fatalf("dialed %s at %s, want the derived bundle", c.Hash(), c.RemotePeer())
		}
		r, err := Call[NearestReq, NearestResp](ctx, c, "Nearest", NearestReq{Lat: 41.39, Lon: 2.17, Limit: 2})
		if err != nil || len(r.Stations) != 2 || r.Stations[0].ID != "bcn-001" {
			t.Fatalf("typed: %+v, %v", r, err)
		}
		out, err := c.CallJSON(ctx, "Nearest", []byte(`{"lat":41.39,"lon":2.17,"limit":1}`))
		if err != nil || !strings.Contains(string(out), `"bcn-001"`) {
			t.Fatalf("JSON: %s, %v", out, err)
		}
	})
	t.Run("new caller, new server", func(t *testing.T) {
		caller := newTestPeer(t)
		c := dialTest(t, caller, derived.APIHash(), newServer)
		r, err := Call[NearestReqV2, NearestRespV2](ctx, c, "Nearest", NearestReqV2{Lat: 41.39, Lon: 2.17, Limit: 5, Prefix: "gir"})
		if err != nil || len(r.Stations) != 1 || r.Stations[0].ID != "gir-001" || r.Total != 3 {
			t.Fatalf("typed: %+v, %v", r, err)
		}
		out, err := c.CallJSON(ctx, "Regions", []byte(`{}`))
		if err != nil || string(out) != `{"regions":["bcn","gir"]}` {
			t.Fatalf("JSON: %s, %v", out, err)
		}
	})
	t.Run("new caller, old server", func(t *testing.T) {
		caller := newTestPeer(t)
		_, err := caller.Dial(ctx, derived.APIHash(), Provider(oldServer.Addrs()...))
		if !errors.Is(err, ErrNoProvider) || !strings.Contains(err.Error(), "not served") {
			t.Errorf("dial the derived API at a parent-only server: %v, want not served", err)
		}
		c := dialTest(t, caller, parent.APIHash(), oldServer)
		// A response field the old server never sends is only missing.
		r, err := Call[NearestReq, NearestRespV2](ctx, c, "Nearest", NearestReq{Lat: 41.39, Lon: 2.17, Limit: 1})
		if err != nil || len(r.Stations) != 1 || r.Total != 0 {
			t.Errorf("new response type from the old server: %+v, %v", r, err)
		}
		// A request field it would drop is refused before it is sent.
		_, err = Call[NearestReqV2, NearestRespV2](ctx, c, "Nearest", NearestReqV2{Limit: 1, Prefix: "gir"})
		if !errors.Is(err, ErrSpecMismatch) || !strings.Contains(err.Error(), `field "prefix": local has it, remote does not`) {
			t.Errorf("new request type to the old server: %v, want ErrSpecMismatch naming prefix", err)
		}
		_, err = c.CallJSON(ctx, "Nearest", []byte(`{"lat":41.39,"lon":2.17,"limit":1,"prefix":"gir"}`))
		if !errors.Is(err, ErrPrecondition) || !strings.Contains(err.Error(), "prefix") {
			t.Errorf("new JSON to the old server: %v, want ErrPrecondition naming prefix", err)
		}
		_, err = Call[CountReq, RegionsResp](ctx, c, "Regions", CountReq{})
		if !errors.Is(err, ErrUnknownMethod) {
			t.Errorf("new method at the old server: %v, want ErrUnknownMethod", err)
		}
	})
}

// TestDerivedCloneKeepsAnsweringTheParent: a derived bundle cloned from its
// server and served again, with native handlers, by a peer that never saw
// the parent, still answers callers that dial the parent's API hash.
func TestDerivedCloneKeepsAnsweringTheParent(t *testing.T) {
	parent := boothsBundle(t)
	derived := boothsPlusBundle(t, parent)
	origin, mirror, caller := newTestPeer(t), newTestPeer(t), newTestPeer(t)
	srv := serveTest(t, origin, derived)
	cloned, err := mirror.Clone(t.Context(), derived.Hash(), Provider(origin.Addrs()...), StoreDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if anc := cloned.Ancestors(); len(anc) != 1 || anc[0].API != parent.APIHash() {
		t.Fatalf("cloned ancestors %+v", anc)
	}
	srv.Close()
	serveTest(t, mirror, cloned, Implement(boothsPlusAPI(t, "booths", parent)))
	c := dialTest(t, caller, parent.APIHash(), mirror)
	if c.Hash() != derived.Hash() {
		t.Fatalf("dialed %s, want %s", c.Hash(), derived.Hash())
	}
	r, err := Call[NearestReq, NearestResp](t.Context(), c, "Nearest", NearestReq{Lat: 41.98, Lon: 2.82, Limit: 1})
	if err != nil || len(r.Stations) != 1 || r.Stations[0].ID != "gir-001" {
		t.Fatalf("%+v, %v", r, err)
	}
}

// TestAnyoneMayDerive: a second publisher clones the original publisher's
// API, adds a method and a field, signs the result and publishes it under
// its own name. Whoever dials the name gets the second publisher's bundle,
// whose lineage names the original, and the original's callers reach it.
func TestAnyoneMayDerive(t *testing.T) {
	original, second, user := newTestPeer(t), newTestPeer(t), newTestPeer(t)
	b := boothsBundle(t)
	if err := b.Sign(original.host.Libp2p().Peerstore().PrivKey(original.ID())); err != nil {
		t.Fatal(err)
	}
	serveTest(t, original, b)
	cloned, err := second.Clone(t.Context(), b.Hash(), Provider(original.Addrs()...), StoreDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	plus, err := boothsPlusAPI(t, "booths-plus", cloned).Bundle(Data("stations", append(someStations, otherStations...)))
	if err != nil {
		t.Fatal(err)
	}
	if err := plus.Sign(second.host.Libp2p().Peerstore().PrivKey(second.ID())); err != nil {
		t.Fatal(err)
	}
	srv := serveTest(t, second, plus)
	rec, err := second.Publish(t.Context(), "booths-plus", srv.Hash())
	if err != nil {
		t.Fatal(err)
	}
	c, err := user.DialName(t.Context(), rec.Name, Provider(second.Addrs()...), RequirePublisher(second.ID()))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := c.Parent(); !ok || p != b.Hash() {
		t.Errorf("parent %v, want the original bundle %s", p, b.Hash())
	}
	if anc := c.Ancestors(); len(anc) != 1 || anc[0].API != b.APIHash() || !anc[0].Compatible || anc[0].Spec.Name != "booths" {
		t.Errorf("lineage %+v, want the original API", anc)
	}
	out, err := c.CallJSON(t.Context(), "Regions", []byte(`{}`))
	if err != nil || string(out) != `{"regions":["bcn","gir","tgn"]}` {
		t.Errorf("the new method: %s, %v", out, err)
	}
	old, err := user.Dial(t.Context(), b.APIHash(), Provider(second.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		N int `json:"n"`
	}
	out, err = old.CallJSON(t.Context(), "Count", []byte(`{}`))
	if err != nil || json.Unmarshal(out, &resp) != nil || resp.N != 4 {
		t.Errorf("the original's caller at the second publisher: %s, %v", out, err)
	}
}

// corrupt flips one byte in the middle of the file at path.
func corrupt(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExtendsAHash: a parent given by hash is found in the default store,
// by its bundle hash or its API hash, once cloned there.
func TestExtendsAHash(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	parent := boothsBundle(t)
	if _, err := boothsPlusAPI(t, "booths", parent.APIHash()).Bundle(); err == nil || !strings.Contains(err.Error(), "clone") {
		t.Fatalf("extends a hash not stored: %v, want a hint to clone it", err)
	}
	server := newTestPeer(t)
	serveTest(t, server, parent)
	if _, err := newTestPeer(t).Clone(t.Context(), parent.Hash(), Provider(server.Addrs()...)); err != nil {
		t.Fatal(err)
	}
	for _, h := range []Hash{parent.Hash(), parent.APIHash()} {
		b, err := boothsPlusAPI(t, "booths", h).Bundle(Data("stations", someStations))
		if err != nil {
			t.Fatalf("extends %s: %v", h, err)
		}
		if anc := b.Ancestors(); len(anc) != 1 || anc[0].API != parent.APIHash() {
			t.Errorf("extends %s: ancestors %+v", h, anc)
		}
		if p, _ := b.Parent(); p != parent.Hash() {
			t.Errorf("extends %s: parent %s, want %s", h, p, parent.Hash())
		}
	}
}
