package papi

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	mh "github.com/multiformats/go-multihash"

	"github.com/papi-dev/papi/transport"
)

// quicLoopback is where the benchmarks' DHT networks listen: QUIC, because
// a peer then holds one UDP socket however many peers it talks to, where TCP
// would spend two descriptors per connection in a process that holds both
// ends, past the process's limit at 200 peers.
const quicLoopback = "/ip4/127.0.0.1/udp/0/quic-v1"

// startDHT starts n peers, each placed by place, in one private DHT. They
// join in waves of eight, each peer through three random peers of the waves
// before it, so that no single peer is everyone's entry point. On error it
// returns the peers started so far.
func startDHT(n int, place func() (PeerOption, error)) ([]*Peer, error) {
	at, err := place()
	if err != nil {
		return nil, err
	}
	first, err := NewPeer(context.Background(), at, PrivateDHT())
	if err != nil {
		return nil, err
	}
	peers := []*Peer{first}
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	for len(peers) < n {
		wave := make([]*Peer, min(8, n-len(peers)))
		errs := make([]error, len(wave))
		var wg sync.WaitGroup
		for i := range wave {
			var bootstrap []string
			for range 3 {
				bootstrap = append(bootstrap, peers[rng.IntN(len(peers))].Addrs()...)
			}
			at, err := place()
			if err != nil {
				return peers, err
			}
			wg.Go(func() {
				wave[i], errs[i] = NewPeer(context.Background(), at, PrivateDHT(bootstrap...))
			})
		}
		wg.Wait()
		for i, p := range wave {
			if errs[i] != nil {
				return peers, errs[i]
			}
			peers = append(peers, p)
		}
	}
	return peers, nil
}

// onLoopback places peers on listen.
func onLoopback(listen string) func() (PeerOption, error) {
	return func() (PeerOption, error) { return ListenAddrs(listen), nil }
}

// onMocknet places peers on mn, each linked to every peer placed before it:
// libp2p's network in memory, with no sockets, no encryption and no
// multiplexer, where a DHT's lookups are what a test is about. Under the
// race detector 50 peers start there in a fraction of the time they take
// on loopback.
func onMocknet(mn mocknet.Mocknet) func() (PeerOption, error) {
	return func() (PeerOption, error) {
		h, err := mn.GenPeer()
		if err != nil {
			return nil, err
		}
		for _, other := range mn.Peers() {
			if other != h.ID() {
				if _, err := mn.LinkPeers(h.ID(), other); err != nil {
					return nil, err
				}
			}
		}
		return peerOptionFunc(func(c *peerConfig) error { c.transport.Libp2pHost = h; return nil }), nil
	}
}

func closeAll(peers []*Peer) {
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() { p.Close() })
	}
	wg.Wait()
}

// dhtNetwork starts n peers on listen in one private DHT, stopped when tb
// ends.
func dhtNetwork(tb testing.TB, n int, listen string) []*Peer {
	tb.Helper()
	peers, err := startDHT(n, onLoopback(listen))
	tb.Cleanup(func() { closeAll(peers) })
	if err != nil {
		tb.Fatal(err)
	}
	return peers
}

// sharedDHTPeers is the number of peers in the tests' DHT: more than a
// Kademlia bucket holds (20), so that not every peer knows every other and
// lookups take more than one hop.
const sharedDHTPeers = 50

var sharedDHT struct {
	once  sync.Once
	mn    mocknet.Mocknet
	peers []*Peer
	err   error
}

// sharedDHTNetwork returns the one DHT network of sharedDHTPeers peers on
// a mocknet that the tests share, started by the first test that needs it
// and stopped by TestMain. A test uses peers of its own choosing and leaves
// them as it found them: what it serves or publishes, it stops with its
// cleanup.
func sharedDHTNetwork(t *testing.T) []*Peer {
	t.Helper()
	sharedDHT.once.Do(func() {
		sharedDHT.mn = mocknet.New()
		sharedDHT.peers, sharedDHT.err = startDHT(sharedDHTPeers, onMocknet(sharedDHT.mn))
	})
	if sharedDHT.err != nil {
		t.Fatal(sharedDHT.err)
	}
	return sharedDHT.peers
}

// refreshRoutingTables refreshes every routing table once, as a DHT does on
// its own every few minutes, so that a benchmark measures the network in its
// steady state rather than seconds old. The tests skip it: it took as long
// as starting the peers, and lookups succeed in a young network too.
func refreshRoutingTables(peers []*Peer) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, p := range peers {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dhtOf(p).RefreshRoutingTable(ctx)
		})
	}
	wg.Wait()
}

func dhtOf(p *Peer) *transport.DHT {
	for _, d := range p.discovery {
		if d, ok := d.(*transport.DHT); ok {
			return d
		}
	}
	return nil
}

// waitProvided waits until the DHT, asked from p, knows provider for h.
func waitProvided(t testing.TB, p *Peer, h Hash, provider peer.ID) {
	t.Helper()
	// A deadline to give up by, generous because lookups slow down with
	// the machine's load, not a measure of speed.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var ids []peer.ID
		for ai := range dhtOf(p).FindProviders(ctx, h.Multihash()) {
			ids = append(ids, ai.ID)
		}
		cancel()
		if slices.Contains(ids, provider) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the DHT never listed %s as a provider of %s", provider, h)
}

func TestDialAndCloneByHashAloneThroughTheDHT(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 peers")
	}
	peers := sharedDHTNetwork(t)
	server, client, other := peers[17], peers[42], peers[33]
	b := blobBundle(t, 3*PieceSize, 11)
	serveTest(t, server, b)
	// Wait until the provider records have reached the peers a lookup
	// from each client ends at; what follows does one lookup each.
	waitProvided(t, client, b.Hash(), server.ID())
	waitProvided(t, other, b.APIHash(), server.ID())

	// No address given: the provider comes from the DHT.
	c, err := client.Dial(t.Context(), b.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if c.RemotePeer() != server.ID() {
		t.Fatalf("dialed %s, want %s", c.RemotePeer(), server.ID())
	}
	resp, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{})
	if err != nil || resp.N != len(someStations) {
		t.Fatalf("Count = %d, %v", resp.N, err)
	}
	cloned, err := other.Clone(t.Context(), b.APIHash(), StoreDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, cloned, b)
}

func TestServeStopsAnnouncingOnClose(t *testing.T) {
	var d countingDiscovery
	p, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), Discover(&d), ProvideInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv := serveTest(t, p, boothsBundle(t))
	time.Sleep(100 * time.Millisecond)
	srv.Close()
	time.Sleep(20 * time.Millisecond) // an announcement already under way may finish
	after := d.n.Load()
	if after < 4 {
		t.Fatalf("announced %d times in 100 ms at a 20 ms interval", after)
	}
	time.Sleep(100 * time.Millisecond)
	if d.n.Load() != after {
		t.Fatalf("still announcing after Close: %d, then %d", after, d.n.Load())
	}
}

func TestACustomDiscoverySource(t *testing.T) {
	server := newTestPeer(t)
	b := boothsBundle(t)
	serveTest(t, server, b)
	list := transport.StaticProviders{{ID: server.ID(), Addrs: server.host.Libp2p().Addrs()}}
	client, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), Discover(list))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if _, err := client.Dial(t.Context(), b.Hash()); err != nil {
		t.Fatalf("dial through a static list: %v", err)
	}
	lonely := newTestPeer(t)
	if _, err := lonely.Dial(t.Context(), b.Hash()); !errors.Is(err, ErrNoProvider) {
		t.Fatalf("dial with no source at all: %v, want ErrNoProvider", err)
	}
}

// BenchmarkFirstProvider measures, against the size of a private DHT, the
// time from Dial to the first verified provider (what a user waits for),
// and beside it, in the same network, the DHT lookup alone: the time to the
// first provider record, and lookups per second from many peers at once.
func BenchmarkFirstProvider(b *testing.B) {
	for _, n := range []int{10, 50, 200} {
		b.Run(strconv.Itoa(n)+"-peers", func(b *testing.B) { benchmarkFirstProvider(b, n) })
	}
}

// benchmarkFirstProvider runs BenchmarkFirstProvider in one network of n
// peers, built only when a benchmark of that size is selected.
func benchmarkFirstProvider(b *testing.B, n int) {
	peers := dhtNetwork(b, n, quicLoopback)
	refreshRoutingTables(peers)
	server := peers[n/3]
	bundle := boothsBundle(b)
	serveTest(b, server, bundle)
	clients := slices.Concat(peers[:n/3], peers[n/3+1:])
	waitProvided(b, clients[0], bundle.Hash(), server.ID())
	idle := settle(b)
	// Another client each time, cut off from the server first, so that
	// every dial finds and connects afresh.
	dials := func(b *testing.B, opts ...DialOption) {
		var took []time.Duration
		for b.Loop() {
			c := clients[len(took)%len(clients)]
			c.host.Libp2p().Network().ClosePeer(server.ID())
			start := time.Now()
			if _, err := c.Dial(context.Background(), bundle.Hash(), opts...); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		reportPercentiles(b, took)
	}
	b.Run("dial", func(b *testing.B) {
		dials(b)
		b.ReportMetric(idle, "idle-cpu-%")
	})
	// The baseline: the same dial with the server's address given, so
	// that no lookup is needed.
	b.Run("dial-with-address", func(b *testing.B) { dials(b, Provider(server.Addrs()...)) })
	b.Run("dht-lookup", func(b *testing.B) {
		i, queries := 0, 0
		for b.Loop() {
			c := clients[i%len(clients)]
			i++
			queries += firstProvider(b, c, bundle.Hash())
		}
		b.ReportMetric(float64(queries)/float64(i), "queries/lookup")
	})
	b.Run("dht-lookups-parallel", func(b *testing.B) {
		var next atomic.Int64
		b.SetParallelism(4)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				firstProvider(b, clients[int(next.Add(1))%len(clients)], bundle.Hash())
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lookups/s")
	})
}

// reportPercentiles reports the median and the 99th percentile of took,
// which a mean hides when a few dials wait on a slow peer.
func reportPercentiles(b *testing.B, took []time.Duration) {
	b.Helper()
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}

// settle waits, up to a minute, until the freshly built network is at rest:
// for a few seconds after n peers join at once, each refreshes its routing
// table (at 200 peers the process then spends nearly two cores), and
// lookups queue behind those queries. It returns the CPU the network at
// rest still spends: keep-alives and routing table upkeep of 200 peers in
// nearly a full mesh, which comes in bursts and makes the slowest dials.
func settle(b *testing.B) float64 {
	b.Helper()
	last := idleCPU(b, time.Second)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		now := idleCPU(b, time.Second)
		b.Logf("idle CPU %.1f%%", now)
		if now > last*0.9 {
			return now
		}
		last = now
	}
	return last
}

// idleCPU measures the CPU the process spends, in percent of one core, over
// d while no benchmark runs: the background work of n peers (keep-alives,
// acknowledgements, timers) that, sharing the machine's cores, slows every
// dial in the process as the network grows. Peers on their own machines do
// not share it.
func idleCPU(b *testing.B, d time.Duration) float64 {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before, start := cpu(), time.Now()
	time.Sleep(d)
	return 100 * float64(cpu()-before) / float64(time.Since(start))
}

// firstProvider asks the DHT from p for providers of h and returns, at the
// first record, how many DHT queries p had sent by then: the hops that
// should grow with the logarithm of the network's size.
func firstProvider(b *testing.B, p *Peer, h Hash) (queries int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx, events := routing.RegisterForQueryEvents(ctx)
	var sent atomic.Int64
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		for e := range events {
			if e.Type == routing.SendingQuery {
				sent.Add(1)
			}
		}
	}()
	_, ok := <-dhtOf(p).FindProviders(ctx, h.Multihash())
	queries = int(sent.Load())
	if !ok {
		b.Error("no provider found")
	}
	cancel()
	<-counted
	return queries
}

// countingDiscovery counts announcements and finds nothing.
type countingDiscovery struct{ n atomic.Int64 }

func (d *countingDiscovery) Provide(context.Context, mh.Multihash) error { d.n.Add(1); return nil }
func (d *countingDiscovery) FindProviders(context.Context, mh.Multihash) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo)
	close(ch)
	return ch
}

func TestNATOptionsStillServeOnLoopback(t *testing.T) {
	relay, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), RelayService())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	server, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), NATTraversal(), Relays(relay.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	if r := server.Reachability(); r != network.ReachabilityUnknown {
		t.Errorf("reachability before AutoNAT has spoken: %s", r)
	}
	b := boothsBundle(t)
	serveTest(t, server, b)
	c := dialTest(t, newTestPeer(t), b.Hash(), server)
	if _, err := Call[CountReq, CountResp](t.Context(), c, "Count", CountReq{}); err != nil {
		t.Fatal(err)
	}
}
