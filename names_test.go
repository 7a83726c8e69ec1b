package papi

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/papi-dev/papi/internal/canon"
)

// twoVersions returns two bundles of one API with different data.
func twoVersions(t *testing.T) (v1, v2 *Bundle) {
	t.Helper()
	v1 = boothsBundle(t)
	v2, err := v1.WithData(Data("stations", otherStations))
	if err != nil {
		t.Fatal(err)
	}
	return v1, v2
}

func publishTest(t *testing.T, p *Peer, label string, h Hash) *NameRecord {
	t.Helper()
	r, err := p.Publish(t.Context(), label, h)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPublishAndDialTheNewestVersion(t *testing.T) {
	v1, v2 := twoVersions(t)
	publisher, user := newTestPeer(t), newTestPeer(t)
	serveTest(t, publisher, v1)
	r1 := publishTest(t, publisher, "stations", v1.Hash())
	if r1.Seq != 1 || r1.Bundle != v1.Hash() || r1.Name.Publisher != publisher.ID() {
		t.Fatalf("first record %+v", r1)
	}
	name := r1.Name

	c, err := user.DialName(t.Context(), name, Provider(publisher.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() != v1.Hash() {
		t.Fatalf("dialed %s, want v1 %s", c.Hash(), v1.Hash())
	}

	serveTest(t, publisher, v2)
	r2 := publishTest(t, publisher, "stations", v2.Hash())
	if r2.Seq != 2 {
		t.Fatalf("second record has sequence %d, want 2", r2.Seq)
	}
	c, err = user.DialName(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() != v2.Hash() {
		t.Fatalf("dialed %s after publishing v2, want %s", c.Hash(), v2.Hash())
	}
	resp, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{})
	if err != nil || resp.N != len(otherStations) {
		t.Fatalf("Count on v2 = %d, %v; want %d", resp.N, err, len(otherStations))
	}
}

func TestResolveNeverGoesBack(t *testing.T) {
	v1, v2 := twoVersions(t)
	publisher, mirror := newTestPeer(t), newTestPeer(t)
	r1 := publishTest(t, publisher, "stations", v1.Hash())
	if err := mirror.PublishRecord(t.Context(), r1); err != nil {
		t.Fatal(err)
	}
	r2 := publishTest(t, publisher, "stations", v2.Hash())

	// A peer that can reach both the mirror (stale) and the publisher gets
	// the newest.
	fresh := newTestPeer(t)
	got, err := fresh.Resolve(t.Context(), r1.Name, Provider(mirror.Addrs()...), Provider(publisher.Addrs()...))
	if err != nil || got.Seq != 2 || got.Bundle != v2.Hash() {
		t.Fatalf("resolve through mirror and publisher: %+v, %v", got, err)
	}

	// Once the publisher is gone and only the stale mirror answers, the
	// peer still answers with the newest record it has seen.
	publisher.Close()
	got, err = fresh.Resolve(t.Context(), r1.Name, Provider(mirror.Addrs()...))
	if err != nil || got.Seq != 2 {
		t.Fatalf("resolve through the stale mirror alone: %+v, %v; want sequence 2", got, err)
	}
	// And a peer that has seen the newest passes it on: the mirror, asked
	// to keep r2, now has it, and refuses to go back to r1.
	if err := mirror.PublishRecord(t.Context(), r2); err != nil {
		t.Fatal(err)
	}
	if err := mirror.PublishRecord(t.Context(), r1); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("mirror took an older record: %v", err)
	}
	got, err = newTestPeer(t).Resolve(t.Context(), r1.Name, Provider(mirror.Addrs()...))
	if err != nil || got.Seq != 2 {
		t.Fatalf("resolve through the mirror after it kept r2: %+v, %v", got, err)
	}
}

func TestForgedNameRecordsAreDropped(t *testing.T) {
	v1, v2 := twoVersions(t)
	publisher := newTestPeer(t)
	r1 := publishTest(t, publisher, "stations", v1.Hash())

	// A forger holds the publisher's record with the bundle swapped and the
	// sequence raised: the signature no longer verifies.
	forger := newTestPeer(t)
	tampered := *r1
	tampered.Seq, tampered.Bundle = 99, v2.Hash()
	w := nameRecordWire{Label: "stations", Seq: 99, Bundle: v2.Hash().c.Bytes()}
	var orig nameRecordWire
	if err := nameRecordDecoder.UnmarshalExact(r1.raw, &orig); err != nil {
		t.Fatal(err)
	}
	w.Key, w.Sig = orig.Key, orig.Sig
	raw, err := canon.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseNameRecord(raw); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("a tampered record parses: %v", err)
	}
	tampered.raw = raw
	forger.names.held[r1.Name] = &tampered

	// Another key signs a record under the same label: a different name.
	stranger, _ := newKey(t)
	other, err := SignName(stranger, "stations", 100, v2.Hash())
	if err != nil {
		t.Fatal(err)
	}
	impostor := newTestPeer(t)
	impostor.names.held[r1.Name] = other

	user := newTestPeer(t)
	_, err = user.Resolve(t.Context(), r1.Name, Provider(forger.Addrs()...), Provider(impostor.Addrs()...))
	if !errors.Is(err, ErrNoProvider) || !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("resolve through forgers only: %v, want ErrNoProvider and ErrHashMismatch", err)
	}
	got, err := user.Resolve(t.Context(), r1.Name, Provider(forger.Addrs()...), Provider(impostor.Addrs()...), Provider(publisher.Addrs()...))
	if err != nil || got.Seq != 1 || got.Bundle != v1.Hash() {
		t.Fatalf("resolve with an honest publisher among forgers: %+v, %v", got, err)
	}
}

func TestResolveAnUnknownName(t *testing.T) {
	publisher, user := newTestPeer(t), newTestPeer(t)
	_, err := user.Resolve(t.Context(), Name{Publisher: publisher.ID(), Label: "nothing"}, Provider(publisher.Addrs()...))
	if !errors.Is(err, ErrNoProvider) {
		t.Fatalf("resolve a name no one published: %v, want ErrNoProvider", err)
	}
	if _, err := user.Resolve(t.Context(), Name{Publisher: publisher.ID(), Label: "no/slash"}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("resolve a bad label: %v, want ErrMalformed", err)
	}
}

func TestPublisherRestartContinuesTheSequence(t *testing.T) {
	v1, v2 := twoVersions(t)
	identity := filepath.Join(t.TempDir(), "key")
	start := func() *Peer {
		p, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), IdentityFile(identity))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	first := start()
	r1 := publishTest(t, first, "stations", v1.Hash())
	mirror := newTestPeer(t)
	if err := mirror.PublishRecord(t.Context(), r1); err != nil {
		t.Fatal(err)
	}
	first.Close()

	again := start()
	if err := again.Host().Connect(t.Context(), peer.AddrInfo{ID: mirror.ID(), Addrs: mirror.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	r2 := publishTest(t, again, "stations", v2.Hash())
	if r2.Seq != 2 || r2.Name != r1.Name {
		t.Fatalf("after a restart published %s sequence %d, want %s sequence 2", r2.Name, r2.Seq, r1.Name)
	}
}

func TestConcurrentPublishesGetDistinctSequences(t *testing.T) {
	v1, _ := twoVersions(t)
	p := newTestPeer(t)
	const n = 16
	seqs := make(chan uint64, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r, err := p.Publish(t.Context(), "stations", v1.Hash())
			if err != nil {
				t.Error(err)
				return
			}
			seqs <- r.Seq
		})
	}
	wg.Wait()
	close(seqs)
	seen := map[uint64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Fatalf("sequence %d published twice", s)
		}
		seen[s] = true
	}
	if got := p.heldRecord(Name{Publisher: p.ID(), Label: "stations"}); got.Seq != n {
		t.Fatalf("held sequence %d after %d publishes", got.Seq, n)
	}
}

func TestResolveThroughTheDHT(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 peers")
	}
	peers := sharedDHTNetwork(t)
	publisher, user := peers[3], peers[9]
	v1, _ := twoVersions(t)
	serveTest(t, publisher, v1)
	r := publishTest(t, publisher, "stations", v1.Hash())
	waitKeyProvided(t, user, r.Name.key(), publisher.ID())

	// Only the DHT tells the user who holds the name: drop every
	// connection to the publisher first.
	user.Host().Libp2p().Network().ClosePeer(publisher.ID())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := user.DialName(ctx, r.Name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() != v1.Hash() {
		t.Fatalf("dialed %s, want %s", c.Hash(), v1.Hash())
	}
}

// waitKeyProvided waits until the DHT, asked from p, lists provider under key.
func waitKeyProvided(t testing.TB, p *Peer, key mh.Multihash, provider peer.ID) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // to give up by; see waitProvided
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var ids []peer.ID
		for ai := range dhtOf(p).FindProviders(ctx, key) {
			ids = append(ids, ai.ID)
		}
		cancel()
		if slices.Contains(ids, provider) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the DHT never listed %s as a provider of %s", provider, key.B58String())
}

func TestParseName(t *testing.T) {
	_, id := newKey(t)
	tests := []struct {
		in   string
		want Name
		ok   bool
	}{
		{id.String() + "/stations", Name{id, "stations"}, true},
		{id.String() + "/v1.2_beta-3", Name{id, "v1.2_beta-3"}, true},
		{id.String(), Name{}, false},
		{id.String() + "/", Name{}, false},
		{id.String() + "/a/b", Name{}, false},
		{id.String() + "/é", Name{}, false},
		{"notapeer/stations", Name{}, false},
		{"/stations", Name{}, false},
	}
	for _, tt := range tests {
		got, err := ParseName(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseName(%q) = %v, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseName(%q): %v does not match ErrMalformed", tt.in, err)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}
