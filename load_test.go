package papi

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLoad runs 8 client peers with 16 callers each against one server
// for b.N calls in all, and reports calls per second, median and 99th
// percentile latency, and errors. Every answer must be the caller's own.
//
//	go test -run '^$' -bench Load -benchtime 20000x .
func BenchmarkLoad(b *testing.B) {
	const clients, callersPerClient = 8, 16
	server := newTestPeer(b)
	api := New("echo", "1")
	Handle(api, "Echo", func(ctx context.Context, req CountResp) (CountResp, error) { return req, nil })
	bundle, _ := api.Bundle()
	serveTest(b, server, bundle)
	var cls []*Client
	for range clients {
		cls = append(cls, dialTest(b, newTestPeer(b), bundle.Hash(), server))
	}
	var (
		next, errs, wrong atomic.Int64
		mu                sync.Mutex
		lat               []time.Duration
		wg                sync.WaitGroup
	)
	total := int64(b.N)
	b.ResetTimer()
	start := time.Now()
	for _, c := range cls {
		for range callersPerClient {
			wg.Go(func() {
				var mine []time.Duration
				for {
					n := next.Add(1)
					if n > total {
						break
					}
					t0 := time.Now()
					resp, err := Call[CountResp, CountResp](context.Background(), c, "Echo", CountResp{N: int(n)})
					mine = append(mine, time.Since(t0))
					switch {
					case err != nil:
						errs.Add(1)
					case resp.N != int(n):
						wrong.Add(1)
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if wrong.Load() > 0 {
		b.Fatalf("%d answers went to the wrong caller", wrong.Load())
	}
	slices.Sort(lat)
	b.ReportMetric(float64(total)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(errs.Load()), "errors")
}
