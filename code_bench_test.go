package papi

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/papi-dev/papi/internal/booths"
	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/sandbox"
)

var discardLogger = slog.New(slog.DiscardHandler)

func manyStations(n int) []booths.Station {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]booths.Station, n)
	for i := range out {
		out[i] = booths.Station{ID: fmt.Sprintf("s-%05d", i), Name: fmt.Sprintf("Station %d", i), Lat: 40 + 3*r.Float64(), Lon: 0.5 + 3*r.Float64()}
	}
	return out
}

// BenchmarkPortableCall is one warm call of booths' Nearest over 2,000
// stations, in process: natively (papi.Handle) and as WebAssembly under each
// way of bounding a call's time (fuel with ticks, papi's; wazero's
// WithCloseOnContextDone; none at all). Report wasm/native.
func BenchmarkPortableCall(b *testing.B) {
	stations := manyStations(2000)
	req, _ := canon.Marshal(booths.NearestReq{Lat: 41.39, Lon: 2.17, Limit: 3})
	b.Run("native", func(b *testing.B) {
		bundle, err := nativeBooths(b).Bundle(Data("stations", stations))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bundle.api.invoke(ctx, bundle, "Nearest", req, discardLogger); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, mode := range []struct {
		name    string
		enforce sandbox.Enforcement
	}{{"wasm-fuel", sandbox.LoopCheck}, {"wasm-contextdone", sandbox.ContextDone}, {"wasm-unbounded", sandbox.Unbounded}} {
		b.Run(mode.name, func(b *testing.B) {
			pool := benchPool(b, mode.enforce, stations, 1)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pool.Call(ctx, "Nearest", req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPortableParallel is 16 concurrent callers of the same call:
// compare calls/s of wasm (one instance per core) with native.
func BenchmarkPortableParallel(b *testing.B) {
	stations := manyStations(2000)
	req, _ := canon.Marshal(booths.NearestReq{Lat: 41.39, Lon: 2.17, Limit: 3})
	par := max(1, 16/runtime.GOMAXPROCS(0))
	b.Run("native", func(b *testing.B) {
		bundle, err := nativeBooths(b).Bundle(Data("stations", stations))
		if err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(par)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := bundle.api.invoke(context.Background(), bundle, "Nearest", req, discardLogger); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
	})
	b.Run("wasm-fuel", func(b *testing.B) {
		pool := benchPool(b, sandbox.LoopCheck, stations, runtime.GOMAXPROCS(0))
		b.SetParallelism(par)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := pool.Call(context.Background(), "Nearest", req); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
	})
}

func benchPool(b *testing.B, enforce sandbox.Enforcement, stations []booths.Station, instances int) *sandbox.Pool {
	b.Helper()
	wasm := portableModule(b)
	rt, err := sandbox.New(context.Background(), sandbox.Config{Enforce: enforce, Limits: sandbox.Limits{Instances: instances}, CacheDir: benchCacheDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(context.Background()) })
	m, err := rt.Compile(context.Background(), blake3.Sum256(wasm), wasm)
	if err != nil {
		b.Fatal(err)
	}
	bundle := portableBundle(b, stations)
	pool, _, err := m.NewPool(context.Background(), bundleData{bundle}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	// Warm every instance: the first call decodes the dataset.
	req, _ := canon.Marshal(booths.NearestReq{Lat: 41, Lon: 2, Limit: 1})
	for range instances * 4 {
		if _, err := pool.Call(context.Background(), "Nearest", req); err != nil {
			b.Fatal(err)
		}
	}
	return pool
}

func benchCacheDir(b testing.TB) string {
	dir := filepath.Join(os.TempDir(), "papi-bench-compiled")
	os.MkdirAll(dir, 0o755)
	return dir
}

// BenchmarkPortableFirstAnswer starts a fresh process that opens a cloned
// bundle from disk, serves its module and answers one call from another peer
// in that process: the wall time from exec to the answer, with an empty
// compilation cache (cold) and with the cache the cold run left (warm).
func BenchmarkPortableFirstAnswer(b *testing.B) {
	dir := b.TempDir()
	if err := portableBundle(b, manyStations(2000)).WriteDir(dir); err != nil {
		b.Fatal(err)
	}
	cache := b.TempDir()
	run := func(b *testing.B, cacheDir string) time.Duration {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPortableFirstAnswerChild$")
		cmd.Env = append(os.Environ(), "PAPI_FIRST_ANSWER_BUNDLE="+dir, "PAPI_FIRST_ANSWER_CACHE="+cacheDir)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "answered") {
			b.Fatalf("child: %v: %s", err, out)
		}
		return time.Since(start)
	}
	b.Run("cold", func(b *testing.B) {
		var total time.Duration
		for i := 0; b.Loop(); i++ {
			total += run(b, filepath.Join(b.TempDir(), strconv.Itoa(i)))
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/first-answer")
	})
	run(b, cache) // fill the cache
	b.Run("warm", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			total += run(b, cache)
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/first-answer")
	})
}

// TestPortableFirstAnswerChild is the fresh process of
// BenchmarkPortableFirstAnswer; it does nothing in a normal test run.
func TestPortableFirstAnswerChild(t *testing.T) {
	dir := os.Getenv("PAPI_FIRST_ANSWER_BUNDLE")
	if dir == "" {
		t.Skip("run by BenchmarkPortableFirstAnswer in a child process")
	}
	ctx := context.Background()
	b, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	server, err := NewPeer(ctx, ListenAddrs("/ip4/127.0.0.1/tcp/0"), CompileCache(os.Getenv("PAPI_FIRST_ANSWER_CACHE")))
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if _, err := server.Serve(ctx, b); err != nil {
		t.Fatal(err)
	}
	client := newTestPeer(t)
	c, err := client.Dial(ctx, b.Hash(), Provider(server.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Call[booths.NearestReq, booths.NearestResp](ctx, c, "Nearest", booths.NearestReq{Lat: 41, Lon: 2, Limit: 1}); err != nil {
		t.Fatal(err)
	}
	fmt.Println("answered")
}

// BenchmarkPortableMemory serves 10 bundles of the same module over
// different data, two instances each, and reports the resident memory they
// add, per instance and for the 10.
func BenchmarkPortableMemory(b *testing.B) {
	for b.Loop() {
		rt, err := sandbox.New(context.Background(), sandbox.Config{Limits: sandbox.Limits{Instances: 2}, CacheDir: benchCacheDir(b)})
		if err != nil {
			b.Fatal(err)
		}
		wasm := portableModule(b)
		m, err := rt.Compile(context.Background(), blake3.Sum256(wasm), wasm)
		if err != nil {
			b.Fatal(err)
		}
		req, _ := canon.Marshal(booths.NearestReq{Lat: 41, Lon: 2, Limit: 1})
		var bundles []*Bundle
		for i := range 10 {
			bundles = append(bundles, portableBundle(b, manyStations(2000+i)))
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before, heapBefore := rss(b), ms.HeapInuse
		var pools []*sandbox.Pool
		for _, bundle := range bundles {
			p, _, err := m.NewPool(context.Background(), bundleData{bundle}, nil)
			if err != nil {
				b.Fatal(err)
			}
			for range 4 {
				p.Call(context.Background(), "Nearest", req)
			}
			pools = append(pools, p)
		}
		time.Sleep(200 * time.Millisecond) // let background instances start
		for _, p := range pools {
			p.Call(context.Background(), "Nearest", req)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		after := rss(b)
		b.ReportMetric(float64(after-before)/(1<<20), "RSS-MiB/10-bundles")
		b.ReportMetric(float64(after-before)/(1<<20)/20, "RSS-MiB/instance")
		b.ReportMetric(float64(ms.HeapInuse-heapBefore)/(1<<20)/20, "heap-MiB/instance")
		for _, p := range pools {
			p.Close()
		}
		rt.Close(context.Background())
	}
}

func rss(b *testing.B) int64 {
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status here: resident memory is read from it")
	}
	for _, line := range strings.Split(string(s), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
