package transport

import (
	"bufio"
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
	"github.com/papi-dev/papi/internal/wire"
)

// BenchmarkUnderAttack measures what honest callers see while a hostile
// peer attacks the server, side by side with no attack in the same run:
// the p50 and p99 latency of 32-byte calls, how many failed, and how far
// the process's heap grew (attacker included: all hosts share the process).
// Barred for breaking a protocol, the attacker comes back under a new
// identity, as a real one would; attacker-ids counts them.
//
//	go test -run '^$' -bench UnderAttack -benchtime 2000x ./transport/
func BenchmarkUnderAttack(b *testing.B) {
	attacks := []struct {
		name string
		run  func(ctx context.Context, a *attackers)
	}{
		{"none", nil},
		{"garbage", attackGarbage},
		{"10k-streams", attackStreams},
		{"4GiB-prefix", attackHugePrefix},
		{"slowloris", attackTrickle},
		{"64MiB-requests", attackLargeRequests},
	}
	for _, a := range attacks {
		b.Run(a.name, func(b *testing.B) {
			server, client := pair(b, Limits{MessageTimeout: 2 * time.Second, StreamsPerPeer: 256}, echo)
			ServeData(server, func([32]byte) (DataSource, error) { return nil, ErrDataNotFound }, SeedLimits{})
			attackers := &attackers{b: b, server: server}
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if a.run != nil {
				wg.Go(func() { a.run(ctx, attackers) })
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
			b.ReportMetric(float64(attackers.minted), "attacker-ids")
			b.ReportMetric(float64(int64(peak.Load())-int64(before.HeapInuse))/(1<<20), "heap-growth-MiB")
		})
	}
}

// attackers hands an attack its peer: the same one until the server bars
// it, then a fresh identity, as a real attacker would mint one.
type attackers struct {
	b      *testing.B
	server *Host
	mu     sync.Mutex
	cur    *Host
	minted int
}

func (a *attackers) current() *Host {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur == nil {
		a.cur = newHost(a.b, Limits{})
		a.cur.Libp2p().Peerstore().AddAddrs(a.server.ID(), a.server.Libp2p().Addrs(), time.Hour)
		a.minted++
	}
	return a.cur
}

// open opens a stream to the server, minting a new identity when the
// current one is refused.
func (a *attackers) open(ctx context.Context, proto protocol.ID) (network.Stream, error) {
	for ctx.Err() == nil {
		h := a.current()
		s, err := h.Libp2p().NewStream(ctx, a.server.ID(), proto)
		if err == nil {
			return s, nil
		}
		a.mu.Lock()
		if a.cur == h {
			a.cur = nil
		}
		a.mu.Unlock()
	}
	return nil, ctx.Err()
}

// session opens an RPC session, as rawSession does.
func (a *attackers) session(ctx context.Context) (network.Stream, error) {
	s, err := a.open(ctx, ProtocolRPC)
	if err != nil {
		return nil, err
	}
	if _, err := s.Write(sessionHeader()); err != nil {
		s.Reset()
		return nil, err
	}
	return s, nil
}

// attackGarbage sends random bytes on random papi protocols, again and again.
func attackGarbage(ctx context.Context, a *attackers) {
	r := rand.New(rand.NewPCG(1, 1))
	junk := make([]byte, 64<<10)
	for i := 0; ctx.Err() == nil; i++ {
		for j := range junk {
			junk[j] = byte(r.Uint32())
		}
		s, err := a.open(ctx, []protocol.ID{ProtocolRPC, ProtocolBody, ProtocolData}[i%3])
		if err != nil {
			return
		}
		s.Write(junk[:1+r.IntN(len(junk))])
		s.Reset()
	}
}

// attackStreams opens up to 10,000 streams and holds them open.
func attackStreams(ctx context.Context, a *attackers) {
	var held []network.Stream
	for i := 0; i < 10000 && ctx.Err() == nil; i++ {
		s, err := a.current().Libp2p().NewStream(ctx, a.server.ID(), []protocol.ID{ProtocolRPC, ProtocolBody, ProtocolData}[i%3])
		if err != nil {
			continue // past the stream limit: refused, not barred
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
func attackHugePrefix(ctx context.Context, a *attackers) {
	chunk := make([]byte, 64<<10)
	for ctx.Err() == nil {
		s, err := a.session(ctx)
		if err != nil {
			return
		}
		s.Write([]byte{0x81, 0xa1, 'p', 0xc6, 0xff, 0xff, 0xff, 0xff})
		for ctx.Err() == nil {
			if _, err := s.Write(chunk); err != nil {
				break
			}
		}
		s.Reset()
	}
}

// attackTrickle holds 64 sessions, each sending a byte every 100 ms.
func attackTrickle(ctx context.Context, a *attackers) {
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for ctx.Err() == nil {
				s, err := a.session(ctx)
				if err != nil {
					return
				}
				for ctx.Err() == nil {
					if _, err := s.Write([]byte{0x81}); err != nil {
						break
					}
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
				s.Reset()
			}
		})
	}
	wg.Wait()
}

// attackLargeRequests opens 16 body streams, each announcing a request of
// the largest size allowed, sends a MiB of each and stalls: the request
// memory budget admits as many as fit and refuses the rest.
func attackLargeRequests(ctx context.Context, a *attackers) {
	var held []network.Stream
	chunk := make([]byte, 1<<20)
	for range 16 {
		s, err := a.open(ctx, ProtocolBody)
		if err != nil {
			return
		}
		// A refused request is not read: its writes stall, so give up on
		// them rather than wait.
		s.SetWriteDeadline(time.Now().Add(time.Second))
		w := bufio.NewWriter(s)
		writeFrame(w, wire.BodyHeader{Target: "t", Method: "echo", Size: 64 << 20})
		w.Write(chunk)
		w.Flush()
		held = append(held, s)
	}
	<-ctx.Done()
	for _, s := range held {
		s.Reset()
	}
}
