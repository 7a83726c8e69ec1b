package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/ugorji/go/codec"

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
		name   string
		run    func(ctx context.Context, a *attackers)
		builds bool // calls attackers.holding once set up
	}{
		{"none", nil, false},
		{"garbage", attackGarbage, false},
		{"10k-streams", attackStreams, false},
		{"4GiB-prefix", attackHugePrefix, false},
		{"slowloris", attackTrickle, false},
		{"64MiB-requests", attackLargeRequests, false},
		{"stalled-uploads", attackStalledUploads, false},
		{"stalled-readers", attackStalledReaders, true},
		{"unread-replies", attackUnreadReplies, false},
	}
	for _, a := range attacks {
		b.Run(a.name, func(b *testing.B) {
			server, client := pair(b, Limits{MessageTimeout: 2 * time.Second, StreamsPerPeer: 256}, echo)
			ServeData(server, func(d [32]byte) (DataSource, error) {
				if d != benchDigest {
					return nil, ErrDataNotFound
				}
				return memSource{Reader: bytes.NewReader(benchData)}, nil
			}, SeedLimits{})
			attackers := &attackers{b: b, server: server, ready: make(chan struct{})}
			// Identities are made before the measurement, as an attacker
			// makes them on its own machine: making them here would take
			// the server's CPU.
			attackers.premint(80)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if a.run != nil {
				wg.Go(func() { a.run(ctx, attackers) })
				// Let the attack take hold: one that builds up what it holds
				// says when it is done; the others run a moment first.
				if a.builds {
					<-attackers.ready
				} else {
					time.Sleep(300 * time.Millisecond)
				}
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

// benchDigest names benchData, the one dataset the attacked server seeds.
var (
	benchDigest = [32]byte{7}
	benchData   = make([]byte, MaxDataRange)
)

// attackers hands an attack its peer: the same one until the server bars
// it, then a fresh identity, as a real attacker would mint one.
type attackers struct {
	b      *testing.B
	server *Host
	mu     sync.Mutex
	cur    *Host
	spare  []*Host // identities made ahead
	minted int
	ready  chan struct{} // closed by an attack once it holds all it will
	once   sync.Once
}

// holding tells the benchmark the attack holds what it set out to.
func (a *attackers) holding() { a.once.Do(func() { close(a.ready) }) }

func (a *attackers) current() *Host {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur == nil {
		a.cur = a.mint()
	}
	return a.cur
}

// premint makes n identities ahead, for current and fresh to hand out.
func (a *attackers) premint(n int) {
	for range n {
		h := newHost(a.b, Limits{})
		h.Libp2p().Peerstore().AddAddrs(a.server.ID(), a.server.Libp2p().Addrs(), time.Hour)
		a.spare = append(a.spare, h)
	}
}

// mint hands out an identity made ahead, or makes one; a.mu is held.
func (a *attackers) mint() *Host {
	a.minted++
	if len(a.spare) > 0 {
		h := a.spare[0]
		a.spare = a.spare[1:]
		return h
	}
	h := newHost(a.b, Limits{})
	h.Libp2p().Peerstore().AddAddrs(a.server.ID(), a.server.Libp2p().Addrs(), time.Hour)
	return h
}

// fresh mints an identity of its own for an attack that uses many at once.
func (a *attackers) fresh() *Host {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mint()
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

// session opens a gorpc RPC session, as rawSession does.
func (a *attackers) session(ctx context.Context) (network.Stream, error) {
	s, err := a.open(ctx, ProtocolRPC1)
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
		s, err := a.open(ctx, []protocol.ID{ProtocolRPC, ProtocolRPC1, ProtocolBody, ProtocolData}[i%4])
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
		s, err := a.current().Libp2p().NewStream(ctx, a.server.ID(), []protocol.ID{ProtocolRPC, ProtocolRPC1, ProtocolBody, ProtocolData}[i%4])
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

// attackStalledUploads: 4 identities hold 4 body streams each, every one
// announcing a 64 MiB request and sending nothing more, and open them again
// as they are cut.
func attackStalledUploads(ctx context.Context, a *attackers) {
	var wg sync.WaitGroup
	for range 4 {
		h := a.fresh()
		for range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					s, err := h.Libp2p().NewStream(ctx, a.server.ID(), ProtocolBody)
					if err != nil {
						return // barred for stalling: the attack has been seen off
					}
					w := bufio.NewWriter(s)
					writeFrame(w, wire.BodyHeader{Target: "t", Method: "echo", Size: 64 << 20})
					w.Flush()
					s.Read(make([]byte, 1)) // until the server cuts it
					s.Reset()
				}
			})
		}
	}
	wg.Wait()
}

// attackStalledReaders: 64 identities open 64 data streams each, ask for
// 16 MiB on every one and never read. The streams are raw, with no buffers
// of the attacker's own: the heap that grows is the server's, and the
// receive windows libp2p keeps on the attacker's side.
func attackStalledReaders(ctx context.Context, a *attackers) {
	var mu sync.Mutex
	var held []network.Stream
	var wg sync.WaitGroup
	req := binary.AppendUvarint(binary.AppendUvarint(append([]byte{dataKindRange}, benchDigest[:]...), 0), MaxDataRange)
	for range 64 {
		h := a.fresh()
		wg.Go(func() {
			for range 64 {
				s, err := h.Libp2p().NewStream(ctx, a.server.ID(), ProtocolData)
				if err != nil {
					continue
				}
				if _, err := s.Write(req); err != nil {
					s.Reset()
					continue // past DataStreamsPerPeer
				}
				mu.Lock()
				held = append(held, s)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	a.holding()
	<-ctx.Done()
	for _, s := range held {
		s.Reset()
	}
}

// attackUnreadReplies: one peer sends 200 calls of 900 KiB on a session
// and reads no reply, holding the session until it is cut; then again.
func attackUnreadReplies(ctx context.Context, a *attackers) {
	var msg bytes.Buffer
	enc := codec.NewEncoder(&msg, &codec.MsgpackHandle{})
	payload := make([]byte, 900<<10)
	for ctx.Err() == nil {
		s, err := a.session(ctx)
		if err != nil {
			return
		}
		for n := range 200 {
			msg.Reset()
			enc.Encode(&wire.Call{ID: uint64(n + 1), Target: "t", Method: "echo", Payload: payload})
			if _, err := s.Write(msg.Bytes()); err != nil {
				break
			}
		}
		// Hold the session, reading nothing, until the server cuts it
		// (MessageTimeout after a reply waits) or the benchmark ends.
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
		s.Reset()
	}
}
