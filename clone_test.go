package papi

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blobBundle is an API with one large random dataset, in a file.
func blobBundle(t testing.TB, size int, seed uint64) *Bundle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, randomBytes(size, seed), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := boothsAPI(t).Bundle(Data("stations", someStations), DataFile("blob", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cloneTest clones into a store of the test's own unless opts name one, so
// that no test reads or fills the user's store.
func cloneTest(t testing.TB, p *Peer, h Hash, opts ...CloneOption) (*Bundle, error) {
	t.Helper()
	return p.Clone(context.Background(), h, append([]CloneOption{StoreDir(t.TempDir())}, opts...)...)
}

func sameData(t *testing.T, got, want *Bundle) {
	t.Helper()
	if got.Hash() != want.Hash() {
		t.Fatalf("clone is %s, want %s", got.Hash(), want.Hash())
	}
	if err := VerifyBundle(got, want.Hash()); err != nil {
		t.Fatal(err)
	}
	for _, d := range want.Datasets() {
		g, ok := got.Dataset(d.Name())
		if !ok {
			t.Fatalf("clone lacks dataset %s", d.Name())
		}
		a, _ := g.Bytes()
		b, _ := d.Bytes()
		if !bytes.Equal(a, b) {
			t.Fatalf("dataset %s differs", d.Name())
		}
	}
}

func TestCloneServeAndReserve(t *testing.T) {
	a, b, c := newTestPeer(t), newTestPeer(t), newTestPeer(t)
	orig := blobBundle(t, 3*PieceSize+77, 1)
	serveTest(t, a, orig)

	// B clones from A, then serves the clone with its own handlers.
	var last Progress
	cloned, err := cloneTest(t, b, orig.Hash(), Provider(a.Addrs()...), StoreDir(t.TempDir()),
		OnProgress(func(p Progress) { last = p }))
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, cloned, orig)
	if last.Verified != last.Total || last.Total != orig.datasets[0].size+orig.datasets[1].size {
		t.Errorf("last progress %+v", last)
	}
	serveTest(t, b, cloned, Implement(boothsAPI(t)))

	// C clones from B alone: nothing lost on the way.
	again, err := cloneTest(t, c, orig.Hash(), Provider(b.Addrs()...), StoreDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, again, orig)

	// B backs the API with its own data; C dials the API hash at B and gets it.
	own, err := cloned.WithData(Data("stations", otherStations))
	if err != nil {
		t.Fatal(err)
	}
	if own.APIHash() != orig.APIHash() {
		t.Fatal("own data changed the API hash")
	}
	if p, _ := own.Parent(); p != orig.Hash() {
		t.Fatalf("lineage: parent %s, want %s", p, orig.Hash())
	}
	serveTest(t, b, own, Implement(boothsAPI(t)))
	cl, err := c.Dial(t.Context(), own.Hash(), Provider(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := Call[CountReq, CountResp](t.Context(), cl, "Count", CountReq{})
	if err != nil || resp.N != len(otherStations) {
		t.Fatalf("Count on own data = %d, %v", resp.N, err)
	}
}

func TestSecondCloneAsksNoOne(t *testing.T) {
	a, b := newTestPeer(t), newTestPeer(t)
	orig := blobBundle(t, PieceSize, 2)
	srv := serveTest(t, a, orig)
	dir := t.TempDir()
	if _, err := cloneTest(t, b, orig.Hash(), Provider(a.Addrs()...), StoreDir(dir)); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	a.Close()
	got, err := cloneTest(t, b, orig.Hash(), StoreDir(dir))
	if err != nil {
		t.Fatalf("second clone with the provider gone: %v", err)
	}
	sameData(t, got, orig)
}

// corruptProvider serves b with one byte of dataset name flipped after
// hashing: its outboard tree is honest, its data is not.
func corruptProvider(t *testing.T, b *Bundle, name string, at int) *Peer {
	t.Helper()
	bad, err := copyInMemory(t, b)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := bad.Dataset(name)
	if _, err := d.Outboard(); err != nil {
		t.Fatal(err)
	}
	d.data[at] ^= 0x01
	p := newTestPeer(t)
	serveTest(t, p, bad, Implement(boothsAPI(t)))
	return p
}

// copyInMemory copies b into memory through its byte stream.
func copyInMemory(t *testing.T, b *Bundle) (*Bundle, error) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		return nil, err
	}
	return ReadBundle(&buf)
}

func TestCloneDropsACorruptProvider(t *testing.T) {
	orig := blobBundle(t, 6*PieceSize, 3)
	bad := corruptProvider(t, orig, "blob", 2*PieceSize+5)
	client := newTestPeer(t)

	_, err := cloneTest(t, client, orig.Hash(), Provider(bad.Addrs()...), StoreDir(t.TempDir()))
	var cp *CorruptPieceError
	if !errors.As(err, &cp) || cp.Offset != 2*PieceSize || !errors.Is(err, ErrNoProvider) {
		t.Fatalf("clone from a corrupt provider alone: %v, want a corrupt piece at %d", err, 2*PieceSize)
	}

	good := newTestPeer(t)
	serveTest(t, good, orig)
	got, err := cloneTest(t, client, orig.Hash(), Provider(bad.Addrs()...), Provider(good.Addrs()...), StoreDir(t.TempDir()))
	if err != nil {
		t.Fatalf("clone with one honest provider: %v", err)
	}
	sameData(t, got, orig)
}

func TestCloneOfATruncatedDataset(t *testing.T) {
	orig := blobBundle(t, 4*PieceSize, 4)
	// The provider's file loses its tail after it was hashed.
	d, _ := orig.Dataset("blob")
	if _, err := d.Outboard(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(d.path, 2*PieceSize+1); err != nil {
		t.Fatal(err)
	}
	p := newTestPeer(t)
	serveTest(t, p, orig)
	_, err := cloneTest(t, newTestPeer(t), orig.Hash(), Provider(p.Addrs()...), StoreDir(t.TempDir()))
	if !errors.Is(err, ErrNoProvider) {
		t.Fatalf("clone of a truncated dataset: %v, want ErrNoProvider", err)
	}
}

func TestCloneResumesWhereItStopped(t *testing.T) {
	const size = 64 * PieceSize // 16 MiB
	orig := blobBundle(t, size, 5)
	first := newTestPeer(t)
	serveTest(t, first, orig)
	client := newTestPeer(t)
	dir := t.TempDir()

	// Stop the provider once a third of the data is verified.
	var once sync.Once
	_, err := cloneTest(t, client, orig.Hash(), Provider(first.Addrs()...), StoreDir(dir),
		OnProgress(func(p Progress) {
			if p.Verified > size/3 {
				once.Do(func() { go first.Close() })
			}
		}))
	if err == nil {
		t.Fatal("clone finished although its only provider stopped")
	}

	second := newTestPeer(t)
	serveTest(t, second, orig)
	var fetched atomic.Int64
	got, err := cloneTest(t, client, orig.Hash(), Provider(second.Addrs()...), StoreDir(dir),
		OnProgress(func(p Progress) { fetched.Store(p.Fetched) }))
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, got, orig)
	if total := orig.datasets[0].size + orig.datasets[1].size; fetched.Load() >= total-size/4 {
		t.Errorf("resumed clone fetched %d of %d bytes: verified pieces were fetched again", fetched.Load(), total)
	}
	noPartials(t, dir)
}

// noPartials fails t if the store in dir holds anything of a download in
// progress, such as a lock file: a finished clone leaves none.
func noPartials(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "partial"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("finished clone left partial/%s", e.Name())
	}
}

func TestCloneSurvivesAProviderLeaving(t *testing.T) {
	const size = 64 * PieceSize
	orig := blobBundle(t, size, 6)
	leaving, staying := newTestPeer(t), newTestPeer(t)
	serveTest(t, leaving, orig)
	serveTest(t, staying, orig)
	var once sync.Once
	got, err := cloneTest(t, newTestPeer(t), orig.Hash(), Provider(leaving.Addrs()...), Provider(staying.Addrs()...),
		StoreDir(t.TempDir()), OnProgress(func(p Progress) {
			if p.Verified > size/4 {
				once.Do(func() { go leaving.Close() })
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, got, orig)
}

func TestTwoClonesOfOneHashAtOnce(t *testing.T) {
	orig := blobBundle(t, 32*PieceSize, 7)
	p := newTestPeer(t)
	serveTest(t, p, orig)
	dir := t.TempDir()
	var wg sync.WaitGroup
	got := make([]*Bundle, 2)
	errs := make([]error, 2)
	for i := range 2 {
		client := newTestPeer(t)
		wg.Go(func() { got[i], errs[i] = cloneTest(t, client, orig.Hash(), Provider(p.Addrs()...), StoreDir(dir)) })
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("clone %d: %v", i, errs[i])
		}
		sameData(t, got[i], orig)
	}
	noPartials(t, dir)
}

func TestCloneIntoAnUnwritableStore(t *testing.T) {
	orig := blobBundle(t, PieceSize, 8)
	p := newTestPeer(t)
	serveTest(t, p, orig)
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o644)
	_, err := cloneTest(t, newTestPeer(t), orig.Hash(), Provider(p.Addrs()...), StoreDir(filepath.Join(file, "store")))
	if err == nil {
		t.Fatal("clone into a store under a regular file succeeded")
	}
}

func TestBandwidthLimits(t *testing.T) {
	const (
		size = 2 << 20
		rate = 4 << 20
		// A limiter lets a tenth of a second's worth through at once, so
		// size bytes take at least (size - rate/10) / rate. Only this lower
		// bound is asserted: a loaded machine may take longer, never less.
		least = time.Duration(size-rate/10) * time.Second / rate
	)
	tests := []struct {
		name     string
		seeder   []PeerOption
		cloneOpt []CloneOption
	}{
		{"clone rate", nil, []CloneOption{CloneRate(rate)}},
		{"seed rate per peer", []PeerOption{SeedRate(0, rate)}, nil},
		{"seed rate total", []PeerOption{SeedRate(rate, 0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := blobBundle(t, size, 5)
			seeder, err := NewPeer(context.Background(), append([]PeerOption{ListenAddrs("/ip4/127.0.0.1/tcp/0")}, tt.seeder...)...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { seeder.Close() })
			serveTest(t, seeder, b)
			start := time.Now()
			got, err := cloneTest(t, newTestPeer(t), b.Hash(), append([]CloneOption{Provider(seeder.Addrs()...)}, tt.cloneOpt...)...)
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < least {
				t.Fatalf("cloned %d bytes in %v at a limit of %d B/s; the least it can take is %v", size, took, rate, least)
			}
			sameData(t, got, b)
		})
	}
	if _, err := NewPeer(t.Context(), SeedRate(-1, 0)); err == nil {
		t.Fatal("a negative seed rate was accepted")
	}
}

// TestHonestCloneOfAGigabyteWithDefaults: the defaults never refuse a
// single honest user. With every limit at its default, one caller clones a
// 1 GiB dataset while it calls the same server; every call is answered,
// the clone verifies, and the heap grows less than 256 MiB.
func TestHonestCloneOfAGigabyteWithDefaults(t *testing.T) {
	t.Parallel() // mostly disk and hashing: it overlaps the tests that wait on the network
	const size = 1 << 30
	bundle, err := boothsAPI(t).Bundle(Data("stations", someStations), DataFile("blob", benchBlobFile(t, size)))
	if err != nil {
		t.Fatal(err)
	}
	server, client := newTestPeer(t), newTestPeer(t)
	serveTest(t, server, bundle)
	c := dialTest(t, client, bundle.Hash(), server)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	done := make(chan struct{})
	var calls, failed atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			resp, err := Call[NearestReq, NearestResp](t.Context(), c, "Nearest", NearestReq{Lat: 41.4, Lon: 2.2, Limit: 1})
			calls.Add(1)
			if err != nil || len(resp.Stations) != 1 {
				failed.Add(1)
				t.Logf("call during the clone: %v", err)
			}
		}
	})
	got, err := cloneTest(t, client, bundle.Hash(), Provider(server.Addrs()...))
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatalf("clone of 1 GiB with the defaults: %v", err)
	}
	if err := VerifyBundle(got, bundle.Hash()); err != nil {
		t.Fatal(err)
	}
	grew := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("%d calls during the clone, %d failed; heap grew %d MiB", calls.Load(), failed.Load(), grew>>20)
	if calls.Load() == 0 || failed.Load() > 0 {
		t.Errorf("%d of %d calls during the clone failed", failed.Load(), calls.Load())
	}
	if grew > 256<<20 {
		t.Errorf("heap grew %d MiB during the clone, want under 256", grew>>20)
	}
}
