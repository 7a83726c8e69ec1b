package papi

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/papi-dev/papi/transport"
)

// dhtNetwork starts n peers on loopback in one private DHT, all joining
// through the first.
func dhtNetwork(t testing.TB, n int) []*Peer {
	t.Helper()
	first, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), PrivateDHT())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Close() })
	peers := make([]*Peer, n)
	peers[0] = first
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := 1; i < n; i++ {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			p, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), PrivateDHT(first.Addrs()...))
			if err != nil {
				errs <- err
				return
			}
			peers[i] = p
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, p := range peers[1:] {
		t.Cleanup(func() { p.Close() })
	}
	// Refresh every routing table once, as a DHT does on its own every few
	// minutes, so that the network is in its steady state rather than
	// seconds old.
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
	return peers
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
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
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
	peers := dhtNetwork(t, 50)
	server, client := peers[17], peers[42]
	b := blobBundle(t, 3*PieceSize, 11)
	serveTest(t, server, b)
	waitProvided(t, client, b.Hash(), server.ID())
	waitProvided(t, client, b.APIHash(), server.ID())

	// No address given: the provider comes from the DHT.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, b.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if c.RemotePeer() != server.ID() {
		t.Fatalf("dialed %s, want %s", c.RemotePeer(), server.ID())
	}
	resp, err := Call[CountReq, CountResp](ctx, c, "Count", CountReq{})
	if err != nil || resp.N != len(someStations) {
		t.Fatalf("Count = %d, %v", resp.N, err)
	}
	other := peers[33]
	cloned, err := other.Clone(ctx, b.APIHash(), StoreDir(t.TempDir()))
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

// BenchmarkFirstProvider measures the time from Dial to the first verified
// provider, found through the DHT with no address given, against the size
// of the network. Lookups per second are the inverse of ns/op. (A network
// of 200 in-process peers on two cores does not converge reliably: some
// lookups find no provider.)
func BenchmarkFirstProvider(b *testing.B) {
	for _, n := range []int{10, 50, 100} {
		b.Run(strconv.Itoa(n)+"-peers", func(b *testing.B) {
			peers := dhtNetwork(b, n)
			server := peers[n/3]
			bundle := boothsBundle(b)
			serveTest(b, server, bundle)
			clients := peers[n/3+1:]
			waitProvided(b, clients[0], bundle.Hash(), server.ID())
			i := 0
			for b.Loop() {
				// A fresh client each time, not yet connected to the server.
				c := clients[i%len(clients)]
				i++
				c.host.Libp2p().Network().ClosePeer(server.ID())
				if _, err := c.Dial(context.Background(), bundle.Hash()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
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
