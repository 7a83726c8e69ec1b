package transport

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	mh "github.com/multiformats/go-multihash"
)

// Discovery finds the peers that provide a piece of content and tells others
// what this peer provides. papi asks every Discovery a peer has at once when
// it dials or clones a hash, and announces through every one what it serves.
// An application may plug in its own: a fixed list, a rendezvous point.
type Discovery interface {
	// Provide announces that this peer provides key. Announcements may
	// expire: papi calls Provide again while it serves the content.
	Provide(ctx context.Context, key mh.Multihash) error
	// FindProviders streams the peers known to provide key; the channel is
	// closed when the search is over or ctx ends.
	FindProviders(ctx context.Context, key mh.Multihash) <-chan peer.AddrInfo
}

// DHTProtocolPrefix is the protocol prefix of papi's private DHTs: peers of
// one application find each other's content without joining, or being
// seen by, the public IPFS DHT.
const DHTProtocolPrefix protocol.ID = "/papi"

// DHTOptions configure a Kademlia DHT.
type DHTOptions struct {
	// Public joins the public IPFS Amino DHT through its bootstrap peers
	// (unless Bootstrap names others). It needs the internet. Otherwise the
	// DHT is private to peers that use papi's DHT protocol prefix.
	Public bool
	// Bootstrap peers to join through: any peer already in the DHT. A private
	// DHT may start with none; its first peer is the one others bootstrap from.
	Bootstrap []peer.AddrInfo
}

// DHT is a Kademlia DHT (go-libp2p-kad-dht) on a Host, keyed by the
// multihash of the content, in server mode so that every papi peer also
// answers queries and stores provider records.
type DHT struct {
	d *dht.IpfsDHT
}

// NewDHT starts a DHT on h and joins it through the bootstrap peers.
func NewDHT(ctx context.Context, h *Host, o DHTOptions) (*DHT, error) {
	opts := []dht.Option{dht.Mode(dht.ModeServer)}
	bootstrap := o.Bootstrap
	if o.Public {
		opts = []dht.Option{dht.Mode(dht.ModeAuto)}
		if len(bootstrap) == 0 {
			bootstrap = dht.GetDefaultBootstrapPeerAddrInfos()
		}
	} else {
		opts = append(opts, dht.ProtocolPrefix(DHTProtocolPrefix))
	}
	if len(bootstrap) > 0 {
		opts = append(opts, dht.BootstrapPeers(bootstrap...))
	}
	d, err := dht.New(h.h, opts...)
	if err != nil {
		return nil, fmt.Errorf("start dht: %w", err)
	}
	var wg sync.WaitGroup
	for _, ai := range bootstrap {
		wg.Go(func() {
			if err := h.h.Connect(ctx, ai); err != nil {
				h.log.Debug("papi: dht bootstrap peer unreachable", "peer", ai.ID.String(), "err", err)
			}
		})
	}
	wg.Wait()
	if err := d.Bootstrap(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("bootstrap dht: %w", err)
	}
	return &DHT{d: d}, nil
}

func contentKey(key mh.Multihash) cid.Cid { return cid.NewCidV1(cid.Raw, key) }

// Provide announces key as a provider record on the peers closest to it.
func (d *DHT) Provide(ctx context.Context, key mh.Multihash) error {
	return d.d.Provide(ctx, contentKey(key), true)
}

// FindProviders asks the DHT for up to 20 providers of key.
func (d *DHT) FindProviders(ctx context.Context, key mh.Multihash) <-chan peer.AddrInfo {
	return d.d.FindProvidersAsync(ctx, contentKey(key), 20)
}

// RefreshRoutingTable refreshes the routing table now, rather than on its schedule.
func (d *DHT) RefreshRoutingTable(ctx context.Context) error {
	select {
	case err := <-d.d.RefreshRoutingTable():
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RoutingTableSize is how many peers the DHT knows.
func (d *DHT) RoutingTableSize() int { return d.d.RoutingTable().Size() }

// Close stops the DHT.
func (d *DHT) Close() error { return d.d.Close() }

// MDNSServiceName is what papi peers announce themselves as on the local network.
const MDNSServiceName = "_papi._udp"

// MDNS finds papi peers on the local network by multicast DNS, with no
// internet and no address given, and connects to them; a dial then asks
// them, as it asks every connected peer. It needs multicast, which loopback
// and many CI machines lack.
//
// Anyone on the network can announce, under as many identities as it
// likes, so what mDNS keeps is bounded: the mdnsMaxPeers heard from most
// recently, mdnsMaxAddrs addresses each, and mdnsMaxConnecting connection
// attempts at a time (an announcement that finds them all busy is not
// followed; the peer announces again).
type MDNS struct {
	h          *Host
	svc        mdns.Service
	connecting chan struct{} // one token per connection attempt under way

	mu    sync.Mutex
	peers map[peer.ID]mdnsPeer
}

type mdnsPeer struct {
	ai   peer.AddrInfo
	seen time.Time
}

const (
	mdnsMaxPeers      = 256
	mdnsMaxAddrs      = 16
	mdnsMaxConnecting = 8
	mdnsConnectWithin = 10 * time.Second
)

// NewMDNS starts mDNS discovery on h.
func NewMDNS(h *Host) (*MDNS, error) {
	m := newMDNS(h)
	m.svc = mdns.NewMdnsService(h.h, MDNSServiceName, m)
	if err := m.svc.Start(); err != nil {
		return nil, fmt.Errorf("start mdns: %w", err)
	}
	return m, nil
}

// HandlePeerFound is called by mDNS for every peer it sees.
func (m *MDNS) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == m.h.ID() {
		return
	}
	ai.Addrs = ai.Addrs[:min(len(ai.Addrs), mdnsMaxAddrs)]
	m.mu.Lock()
	if _, known := m.peers[ai.ID]; !known && len(m.peers) >= mdnsMaxPeers {
		m.forgetOldest()
	}
	m.peers[ai.ID] = mdnsPeer{ai: ai, seen: time.Now()}
	m.mu.Unlock()
	if m.h.h.Network().Connectedness(ai.ID) == network.Connected {
		return
	}
	select {
	case m.connecting <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-m.connecting }()
		ctx, cancel := context.WithTimeout(m.h.ctx, mdnsConnectWithin)
		defer cancel()
		m.h.h.Connect(ctx, ai)
	}()
}

func newMDNS(h *Host) *MDNS {
	return &MDNS{h: h, peers: map[peer.ID]mdnsPeer{}, connecting: make(chan struct{}, mdnsMaxConnecting)}
}

// forgetOldest drops the peer heard from least recently; m.mu is held.
func (m *MDNS) forgetOldest() {
	var oldest peer.ID
	var at time.Time
	for id, p := range m.peers {
		if oldest == "" || p.seen.Before(at) {
			oldest, at = id, p.seen
		}
	}
	delete(m.peers, oldest)
}

// Provide does nothing: on a local network every peer is asked.
func (m *MDNS) Provide(context.Context, mh.Multihash) error { return nil }

// FindProviders returns every papi peer mDNS has seen; which of them serve
// key, the dial finds out.
func (m *MDNS) FindProviders(ctx context.Context, _ mh.Multihash) <-chan peer.AddrInfo {
	m.mu.Lock()
	found := make([]peer.AddrInfo, 0, len(m.peers))
	for _, p := range m.peers {
		found = append(found, p.ai)
	}
	m.mu.Unlock()
	return staticChannel(ctx, found)
}

// Close stops mDNS.
func (m *MDNS) Close() error { return m.svc.Close() }

// StaticProviders is a Discovery that names the same peers for every key:
// a fixed list of peers known to serve an application's bundles.
type StaticProviders []peer.AddrInfo

// Provide does nothing: the list is fixed.
func (s StaticProviders) Provide(context.Context, mh.Multihash) error { return nil }

// FindProviders returns the list.
func (s StaticProviders) FindProviders(ctx context.Context, _ mh.Multihash) <-chan peer.AddrInfo {
	return staticChannel(ctx, s)
}

func staticChannel(ctx context.Context, infos []peer.AddrInfo) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo, len(infos))
	for _, ai := range infos {
		ch <- ai
	}
	close(ch)
	return ch
}
