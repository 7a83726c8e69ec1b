package transport

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// BenchmarkUnderAttack measures what honest callers see while a hostile
// peer attacks the server, side by side with no attack in the same run:
// the p50 and p99 latency of 32-byte calls, how many failed, and how far
// the process's heap grew (attacker included: all hosts share the process).
//
//	go test -run '^$' -bench UnderAttack -benchtime 2000x ./transport/
func BenchmarkUnderAttack(b *testing.B) {
	attacks := []struct {
		name string
		run  func(ctx context.Context, b *testing.B, attacker, server *Host)
	}{
		{"none", nil},
		{"garbage", attackGarbage},
		{"10k-streams", attackStreams},
		{"4GiB-prefix", attackHugePrefix},
		{"slowloris", attackTrickle},
	}
	for _, a := range attacks {
		b.Run(a.name, func(b *testing.B) {
			server, client := pair(b, Limits{MessageTimeout: 2 * time.Second, StreamsPerPeer: 256}, echo)
			ServeData(server.Libp2p(), func([32]byte) (DataSource, error) { return nil, ErrDataNotFound }, server.log, SeedLimits{})
			attacker := newHost(b, Limits{})
			connect(b, attacker, server)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if a.run != nil {
				wg.Go(func() { a.run(ctx, b, attacker, server) })
				time.Sleep(300 * time.Millisecond) // let the attack take hold
			}
			var peak atomic.Uint64
			wg.Go(func() {
				t := time.NewTicker(10 * time.Millisecond)
				defer t.Stop()
				for {
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					if m.HeapInuse > peak.Load() {
						peak.Store(m.HeapInuse)
					}
					select {
					case <-ctx.Done():
						return
					case <-t.C:
					}
				}
			})
			payload := make([]byte, 32)
			var lat []time.Duration
			errs := 0
			for b.Loop() {
				start := time.Now()
				if _, err := client.Call(context.Background(), server.ID(), "t", "echo", payload); err != nil {
					errs++
				}
				lat = append(lat, time.Since(start))
			}
			cancel()
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(errs), "errors")
			b.ReportMetric(float64(int64(peak.Load())-int64(before.HeapInuse))/(1<<20), "heap-growth-MiB")
		})
	}
}

// attackGarbage sends random bytes on random papi protocols, again and again.
func attackGarbage(ctx context.Context, b *testing.B, attacker, server *Host) {
	r := rand.New(rand.NewPCG(1, 1))
	junk := make([]byte, 64<<10)
	for i := 0; ctx.Err() == nil; i++ {
		for j := range junk {
			junk[j] = byte(r.Uint32())
		}
		s, err := attacker.Libp2p().NewStream(ctx, server.ID(), []protocol.ID{ProtocolRPC, ProtocolBody, ProtocolData}[i%3])
		if err != nil {
			continue
		}
		s.Write(junk[:1+r.IntN(len(junk))])
		s.Reset()
	}
}

// attackStreams opens up to 10,000 streams and holds them open.
func attackStreams(ctx context.Context, b *testing.B, attacker, server *Host) {
	var held []network.Stream
	for i := 0; i < 10000 && ctx.Err() == nil; i++ {
		s, err := attacker.Libp2p().NewStream(ctx, server.ID(), []protocol.ID{ProtocolRPC, ProtocolBody, ProtocolData}[i%3])
		if err != nil {
			continue
		}
		s.Write([]byte{0x81})
		held = append(held, s)
	}
	<-ctx.Done()
	for _, s := range held {
		s.Reset()
	}
}

// attackHugePrefix announces 4 GiB messages and sends as much as the server
// takes, on one session after another.
func attackHugePrefix(ctx context.Context, b *testing.B, attacker, server *Host) {
	chunk := make([]byte, 64<<10)
	for ctx.Err() == nil {
		s := rawSession(b, attacker, server)
		s.Write([]byte{0x81, 0xa1, 'p', 0xc6, 0xff, 0xff, 0xff, 0xff})
		for ctx.Err() == nil {
			if _, err := s.Write(chunk); err != nil {
				break
			}
		}
		s.Close()
	}
}

// attackTrickle holds 64 sessions, each sending a byte every 100 ms.
func attackTrickle(ctx context.Context, b *testing.B, attacker, server *Host) {
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for ctx.Err() == nil {
				s := rawSession(b, attacker, server)
				for ctx.Err() == nil {
					if _, err := s.Write([]byte{0x81}); err != nil {
						break
					}
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
				s.Close()
			}
		})
	}
	wg.Wait()
}
