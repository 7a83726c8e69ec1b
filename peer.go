package papi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/papi-dev/papi/internal/sandbox"
	"github.com/papi-dev/papi/transport"
)

// Peer is one libp2p host embedded in this process. Everything the process
// serves and dials goes through it: one identity, one set of connections,
// one set of resource limits. A process usually needs one; the package-level
// Serve, Dial and Clone use a default Peer made on first use, as
// http.DefaultClient is.
type Peer struct {
	host            *transport.Host
	log             *slog.Logger
	discovery       []transport.Discovery
	provideInterval time.Duration
	reachability    reachabilityState
	metrics         *metrics
	ctx             context.Context    // the peer's lifetime
	stop            context.CancelFunc // ends the peer's own goroutines
	names           nameRecords

	ownSandbox    bool // Sandbox or CompileCache given: not the process's shared runtime
	cacheSet      bool
	sandboxConfig sandbox.Config
	sandboxOnce   sync.Once
	sandbox       *sandbox.Runtime
	sandboxErr    error

	publicDHT bool       // announce UnixFS roots too, for IPFS nodes
	blocks    *blockView // what bitswap serves
	bitswap   *transport.Bitswap

	mu     sync.RWMutex
	bundle map[Hash]*Server   // by bundle hash
	api    map[Hash][]*Server // by API hash, in the order they were served
	// targets are the hashes served, by the strings calls name them with:
	// parsing a CID on every call cost more than the rest of finding its server.
	targets map[string]Hash
	closed  bool
}

// nameRecords are the records of names a peer holds: its own, those it was
// given to keep, and the newest it has resolved.
type nameRecords struct {
	publishing sync.Mutex // one Publish at a time, so sequence numbers do not collide

	mu        sync.Mutex
	held      map[Name]*NameRecord
	announced map[Name]bool
}

type peerConfig struct {
	transport transport.Options
	// discovery makes each source of providers once the host exists.
	discovery          []func(ctx context.Context, h *transport.Host) (transport.Discovery, error)
	provideInterval    time.Duration
	metrics            *metrics
	seed               transport.SeedLimits
	sandbox            sandbox.Config
	ownSandbox         bool
	cacheSet           bool
	publicDHT          bool
	relayService       bool
	relayLimit         *relayv2.RelayLimit
	forcedReachability Reachability
	identityFile       string                // read or made by NewPeer
	registerer         prometheus.Registerer // registered with by NewPeer
	err                error                 // the first option that failed
}

// finish does what options leave to NewPeer, the I/O: reading the identity
// file and registering metrics.
func (c *peerConfig) finish() error {
	if c.err != nil {
		return c.err
	}
	if c.relayService {
		c.transport.Libp2pOptions = append(c.transport.Libp2pOptions, c.relayServiceOption())
	}
	if c.identityFile != "" {
		k, err := loadOrCreateKey(c.identityFile)
		if err != nil {
			return fmt.Errorf("identity %s: %w", c.identityFile, err)
		}
		c.transport.PrivateKey = k
	}
	if c.registerer != nil {
		m, err := newMetrics(c.registerer)
		if err != nil {
			return err
		}
		c.metrics = m
	}
	return nil
}

// PrivateDHT makes the peer join a Kademlia DHT private to papi peers (its
// own protocol prefix), through bootstrap peers given as multiaddrs ending
// in /p2p/<id>. With none, the peer starts a DHT others may bootstrap from.
// Serving announces bundle and API hashes there; dialing and cloning look
// them up there.
func PrivateDHT(bootstrap ...string) PeerOption {
	return dhtOption(false, bootstrap)
}

// PublicDHT makes the peer join the public IPFS Amino DHT through its
// bootstrap peers (or those given), so that any peer on the internet can
// find what it serves. It needs an internet connection.
func PublicDHT(bootstrap ...string) PeerOption {
	return dhtOption(true, bootstrap)
}

func dhtOption(public bool, bootstrap []string) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		infos, err := addrInfos(bootstrap)
		if err != nil {
			return err
		}
		c.publicDHT = c.publicDHT || public
		c.discovery = append(c.discovery, func(ctx context.Context, h *transport.Host) (transport.Discovery, error) {
			return transport.NewDHT(ctx, h, transport.DHTOptions{Public: public, Bootstrap: infos})
		})
		return nil
	})
}

// MDNS makes the peer find other papi peers on the local network by
// multicast DNS, with no internet and no address given.
func MDNS() PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		c.discovery = append(c.discovery, func(_ context.Context, h *transport.Host) (transport.Discovery, error) {
			return transport.NewMDNS(h)
		})
		return nil
	})
}

// Discover adds a source of providers of the application's own, such as a
// fixed list or a rendezvous point.
func Discover(d transport.Discovery) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		c.discovery = append(c.discovery, func(context.Context, *transport.Host) (transport.Discovery, error) { return d, nil })
		return nil
	})
}

// ProvideInterval sets how often a served hash is announced again to the
// discovery sources; the default, 12 hours, renews DHT provider records
// well before they expire (48 hours).
func ProvideInterval(d time.Duration) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error { c.provideInterval = d; return nil })
}

// SeedRate bounds the bandwidth the peer gives to peers cloning from it, in
// bytes per second: total over all of them, and perPeer to any one. Zero
// means no limit, the default. Calls are not limited: their size is bounded
// per message (see transport.Limits).
func SeedRate(total, perPeer int64) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		if total < 0 || perPeer < 0 {
			return fmt.Errorf("seed rate %d, %d: negative", total, perPeer)
		}
		c.seed = transport.SeedLimits{Total: total, PerPeer: perPeer}
		return nil
	})
}

// ResourceLimits sets what remote peers may make this peer do: message and
// body sizes, calls in flight per peer and in all, connections and streams
// per peer and in all, stream memory. Zero fields keep their defaults,
// documented on transport.Limits; a peer that goes past a limit has its call
// refused (ErrTooLarge, or CodeResourceExhausted) or its stream reset, and
// others carry on.
func ResourceLimits(l transport.Limits) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error { c.transport.Limits = l; return nil })
}

// ListenAddrs sets the multiaddrs the peer listens on. The default is TCP,
// QUIC, WebTransport and WebRTC-direct on every interface, IPv4 and IPv6, on
// ports the system picks; the last two are what web pages dial. Addresses
// given here replace the default, so a peer that names only TCP and QUIC is
// out of browsers' reach.
func ListenAddrs(addrs ...string) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		for _, a := range addrs {
			if _, err := ma.NewMultiaddr(a); err != nil {
				return fmt.Errorf("listen address %q: %w", a, err)
			}
		}
		c.transport.ListenAddrs = addrs
		return nil
	})
}

// IdentityFile gives the peer a persistent identity: the private key in the
// file at path, made (Ed25519, mode 0600) if the file does not exist. Without
// it a peer has a new identity, and so a new peer ID, every run.
func IdentityFile(path string) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error { c.identityFile = path; return nil })
}

// Logger sets where the peer logs; the default discards everything.
func Logger(l *slog.Logger) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error { c.transport.Logger = l; return nil })
}

func loadOrCreateKey(path string) (crypto.PrivKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return crypto.UnmarshalPrivateKey(b)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// O_EXCL: two processes starting at once must not end up with two keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return loadOrCreateKey(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

// NewPeer starts a libp2p host in this process.
func NewPeer(ctx context.Context, opts ...PeerOption) (*Peer, error) {
	var c peerConfig
	for _, o := range opts {
		o.applyToPeer(&c)
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	if c.transport.Logger == nil {
		c.transport.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := transport.New(ctx, c.transport)
	if err != nil {
		return nil, fmt.Errorf("start peer: %w", err)
	}
	p := &Peer{host: h, log: c.transport.Logger, bundle: map[Hash]*Server{}, api: map[Hash][]*Server{}, targets: map[string]Hash{}, provideInterval: c.provideInterval, metrics: c.metrics,
		ownSandbox: c.ownSandbox, cacheSet: c.cacheSet, sandboxConfig: c.sandbox, publicDHT: c.publicDHT, blocks: newBlockView()}
	p.names.held = map[Name]*NameRecord{}
	p.names.announced = map[Name]bool{}
	p.ctx, p.stop = context.WithCancel(context.Background())
	p.reachability.Store(int32(c.forcedReachability))
	if p.provideInterval <= 0 {
		p.provideInterval = 12 * time.Hour
	}
	for _, start := range c.discovery {
		d, err := start(ctx, h)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("start peer: %w", err)
		}
		p.discovery = append(p.discovery, d)
	}
	if err := p.watchReachability(p.ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("start peer: %w", err)
	}
	h.SetHandler(p.handle)
	transport.ServeData(h, p.lookupData, c.seed)
	p.bitswap = transport.ServeBitswap(h, p.blocks, c.seed)
	return p, nil
}

var (
	defaultPeerMu sync.Mutex
	defaultPeer   *Peer
	// defaultPeerOptions are the default peer's; tests keep it on loopback.
	defaultPeerOptions = []PeerOption{NATTraversal()}
)

// DefaultPeer returns the Peer that the package-level Serve, Dial and Clone
// use, starting it on first use with default options and NATTraversal: it
// listens on every interface, TCP, QUIC, WebTransport and WebRTC-direct, and asks the router to forward
// a port. A start that fails is tried again on the next use. Close it to
// stop it (its bundles with it); the next use starts a new one. A program
// that wants other options, or several peers, makes its own with NewPeer.
func DefaultPeer() (*Peer, error) {
	defaultPeerMu.Lock()
	defer defaultPeerMu.Unlock()
	if defaultPeer != nil && !defaultPeer.isClosed() {
		return defaultPeer, nil
	}
	p, err := NewPeer(context.Background(), defaultPeerOptions...)
	if err != nil {
		return nil, err
	}
	defaultPeer = p
	return p, nil
}

func (p *Peer) isClosed() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.closed
}

// ID returns the peer's libp2p identity.
func (p *Peer) ID() peer.ID { return p.host.ID() }

// Addrs returns the multiaddrs at which other peers reach this one, each
// ending in /p2p/<id>, ready to share.
func (p *Peer) Addrs() []string {
	var out []string
	for _, a := range p.host.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// Host returns the transport host, for what papi does not wrap.
func (p *Peer) Host() *transport.Host { return p.host }

// Close stops serving every bundle, draining calls in flight, and stops the host.
func (p *Peer) Close() error {
	p.mu.Lock()
	p.closed = true
	var servers []*Server
	for _, s := range p.bundle {
		servers = append(servers, s)
	}
	p.mu.Unlock()
	for _, s := range servers {
		s.Close()
	}
	for _, d := range p.discovery {
		if c, ok := d.(io.Closer); ok {
			c.Close()
		}
	}
	if p.stop != nil {
		p.stop()
	}
	if p.sandbox != nil {
		p.sandbox.Close(context.Background())
	}
	if p.bitswap != nil {
		p.bitswap.Close()
	}
	return p.host.Close()
}
