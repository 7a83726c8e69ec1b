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
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/codes"
	"github.com/papi-dev/papi/internal/sandbox"
	"github.com/papi-dev/papi/internal/spec"
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

	mu     sync.RWMutex
	bundle map[Hash]*Server   // by bundle hash
	api    map[Hash][]*Server // by API hash, in the order they were served
	closed bool
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
	discovery       []func(ctx context.Context, h *transport.Host) (transport.Discovery, error)
	provideInterval time.Duration
	metrics         *metrics
	seed            transport.SeedLimits
	sandbox         sandbox.Config
	ownSandbox      bool
	cacheSet        bool
	identityFile    string                // read or made by NewPeer
	registerer      prometheus.Registerer // registered with by NewPeer
	err             error                 // the first option that failed
}

// finish does what options leave to NewPeer, the I/O: reading the identity
// file and registering metrics.
func (c *peerConfig) finish() error {
	if c.err != nil {
		return c.err
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

// ListenAddrs sets the multiaddrs the peer listens on. The default is TCP
// and QUIC on every interface, IPv4 and IPv6, on ports the system picks.
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
	p := &Peer{host: h, log: c.transport.Logger, bundle: map[Hash]*Server{}, api: map[Hash][]*Server{}, provideInterval: c.provideInterval, metrics: c.metrics,
		ownSandbox: c.ownSandbox, cacheSet: c.cacheSet, sandboxConfig: c.sandbox}
	p.names.held = map[Name]*NameRecord{}
	p.names.announced = map[Name]bool{}
	p.ctx, p.stop = context.WithCancel(context.Background())
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
// listens on every interface, TCP and QUIC, and asks the router to forward
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
	return p.host.Close()
}

// Server is one bundle served by a Peer.
type Server struct {
	peer *Peer
	b    *Bundle
	api  *API
	code *sandbox.Pool // the bundle's own handlers, when they serve
	// presence checks each method's request bytes for required fields
	// before any handler, native or sandboxed, decodes them.
	presence map[string]*spec.Presence

	drainTimeout time.Duration
	policy       Policy
	ctx          context.Context // cancelled when draining gives up
	cancel       context.CancelFunc
	stopWithCtx  func() bool // stops closing the server when Serve's ctx ends

	mu       sync.Mutex
	closing  bool
	inflight sync.WaitGroup
}

type serveConfig struct {
	api          *API
	drainTimeout time.Duration
	policy       Policy
	seedOnly     bool
	err          error // the first option that failed
}

// SeedOnly serves a bundle without handlers: other peers can dial it to read
// its spec, and clone it, but its methods answer ErrNoHandlers. It is how
// a peer shares an API it does not implement, such as the papi command.
func SeedOnly() ServeOption {
	return serveOptionFunc(func(c *serveConfig) error { c.seedOnly = true; return nil })
}

// Implement serves a bundle with the handlers of api, for a bundle that has
// none of its own, or in place of the WebAssembly handlers it carries. Serve
// refuses api unless its spec matches the bundle's, method by method, and
// says where they differ.
func Implement(api *API) ServeOption {
	return serveOptionFunc(func(c *serveConfig) error { c.api = api; return nil })
}

// DrainTimeout bounds how long Server.Close waits for calls in flight before
// it cancels their contexts; the default is 10 seconds.
func DrainTimeout(d time.Duration) ServeOption {
	return serveOptionFunc(func(c *serveConfig) error { c.drainTimeout = d; return nil })
}

// Serve serves b from the default peer; see Peer.Serve.
func Serve(ctx context.Context, b *Bundle, opts ...ServeOption) (*Server, error) {
	p, err := DefaultPeer()
	if err != nil {
		return nil, err
	}
	return p.Serve(ctx, b, opts...)
}

// Serve makes b callable by other peers, by its bundle hash and by its API
// hash, until ctx ends or the Server is closed; when ctx ends, the server
// closes as Server.Close does, draining calls in flight. ctx also bounds
// what Serve does before it returns, such as loading the bundle's
// WebAssembly handlers. One peer serves any number of bundles.
func (p *Peer) Serve(ctx context.Context, b *Bundle, opts ...ServeOption) (*Server, error) {
	c := serveConfig{api: b.api, drainTimeout: 10 * time.Second}
	for _, o := range opts {
		o.applyToServe(&c)
	}
	if c.err != nil {
		return nil, c.err
	}
	var code *sandbox.Pool
	switch {
	case c.seedOnly:
		c.api = nil
	case c.api == nil && b.code != nil:
		var err error
		if code, err = p.loadCode(ctx, b); err != nil {
			return nil, err
		}
	case c.api == nil:
		return nil, errorf(ErrSpecMismatch, "bundle %s has no handlers: serve it with papi.Implement(api), or papi.SeedOnly()", b.Hash())
	case c.api != b.api:
		if err := checkImplements(c.api, b.spec); err != nil {
			return nil, err
		}
	}
	s := &Server{peer: p, b: b, api: c.api, code: code, drainTimeout: c.drainTimeout, policy: c.policy}
	if s.api != nil || s.code != nil {
		var err error
		if s.presence, err = presenceChecks(b.spec); err != nil {
			s.closeCode()
			return nil, err
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		s.closeCode()
		return nil, errors.New("serve: peer is closed")
	}
	if _, dup := p.bundle[b.hash]; dup {
		s.closeCode()
		return nil, fmt.Errorf("bundle %s is already served", b.hash)
	}
	p.bundle[b.hash] = s
	p.api[b.apiHash] = append(p.api[b.apiHash], s)
	if len(p.discovery) > 0 {
		go p.announce(s)
	}
	s.mu.Lock()
	s.stopWithCtx = context.AfterFunc(ctx, func() { s.Close() })
	s.mu.Unlock()
	return s, nil
}

// announce tells every discovery source that this peer provides s's bundle
// and API hashes, until s is closed.
func (p *Peer) announce(s *Server) {
	p.announceKeys(s.ctx, []mh.Multihash{s.b.hash.Multihash(), s.b.apiHash.Multihash()})
}

// announceKeys tells every discovery source that this peer provides keys,
// and again every provideInterval, until ctx ends.
func (p *Peer) announceKeys(ctx context.Context, keys []mh.Multihash) {
	t := time.NewTicker(p.provideInterval)
	defer t.Stop()
	for {
		for _, d := range p.discovery {
			for _, k := range keys {
				if ctx.Err() != nil {
					return
				}
				actx, cancel := context.WithTimeout(ctx, time.Minute)
				if err := d.Provide(actx, k); err != nil && ctx.Err() == nil {
					p.log.Warn("papi: announce failed", "key", k.B58String(), "err", err)
				}
				cancel()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// presenceChecks compiles the presence check of every method's request.
func presenceChecks(s *Spec) (map[string]*spec.Presence, error) {
	out := make(map[string]*spec.Presence, len(s.Methods))
	for _, m := range s.Methods {
		pc, err := spec.NewPresence(m.Request, s.Defs)
		if err != nil {
			return nil, fmt.Errorf("method %s request: %w", m.Name, err)
		}
		out[m.Name] = pc
	}
	return out, nil
}

// checkImplements reports the first place where api's declarations differ
// from want.
func checkImplements(api *API, want *Spec) error {
	have, err := api.Spec()
	if err != nil {
		return err
	}
	for _, wm := range want.Methods {
		m, ok := api.lookup(wm.Name)
		if !ok {
			return errorf(ErrSpecMismatch, "no handler for method %s", wm.Name)
		}
		// From the Go types rather than from have, so that the message
		// names the Go field to change.
		if err := spec.CompareType(m.reqType, wm.Request, want.Defs); err != nil {
			return errorf(ErrSpecMismatch, "method %s request: the handler's type %s (local) does not match the bundle's spec (remote): %w", wm.Name, m.reqType, err)
		}
		if err := spec.CompareType(m.respType, wm.Response, want.Defs); err != nil {
			return errorf(ErrSpecMismatch, "method %s response: the handler's type %s (local) does not match the bundle's spec (remote): %w", wm.Name, m.respType, err)
		}
	}
	for _, hm := range have.Methods {
		if _, ok := findMethod(want, hm.Name); !ok {
			return errorf(ErrSpecMismatch, "handler for method %s, which the spec does not have", hm.Name)
		}
	}
	return nil
}

func findMethod(s *Spec, name string) (*MethodSpec, bool) {
	for i := range s.Methods {
		if s.Methods[i].Name == name {
			return &s.Methods[i], true
		}
	}
	return nil, false
}

// Bundle returns the bundle being served.
func (s *Server) Bundle() *Bundle { return s.b }

// Hash returns the served bundle's hash.
func (s *Server) Hash() Hash { return s.b.hash }

// Addrs returns the serving peer's addresses, each ending in /p2p/<id>.
func (s *Server) Addrs() []string { return s.peer.Addrs() }

// Peer returns the peer the bundle is served from.
func (s *Server) Peer() *Peer { return s.peer }

// Close stops taking calls for the bundle and waits for the calls in flight
// to finish. After the drain timeout (DrainTimeout) it cancels their contexts
// and returns without waiting for handlers that ignore cancellation.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.drainTimeout)
	defer cancel()
	return s.Shutdown(ctx)
}

// Shutdown is Close with a drain deadline of the caller's choosing: when ctx
// is done, calls still in flight have their contexts cancelled.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	already := s.closing
	s.closing = true
	stopWithCtx := s.stopWithCtx
	s.mu.Unlock()
	if !already {
		s.peer.unserve(s)
		if stopWithCtx != nil {
			stopWithCtx()
		}
	}
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		s.closeCode()
		return nil
	case <-ctx.Done():
		s.cancel()
		s.closeCode()
		return fmt.Errorf("drain %s: %w", s.b.hash, ctx.Err())
	}
}

func (s *Server) closeCode() {
	if s.code != nil {
		s.code.Close()
	}
}

func (p *Peer) unserve(s *Server) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bundle[s.b.hash] == s {
		delete(p.bundle, s.b.hash)
	}
	list := p.api[s.b.apiHash]
	for i, x := range list {
		if x == s {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(p.api, s.b.apiHash)
	} else {
		p.api[s.b.apiHash] = list
	}
}

// begin registers a call; false when the server no longer takes calls.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.inflight.Add(1)
	return true
}

// lookup finds what serves target: a bundle hash, or an API hash.
func (p *Peer) lookup(target string) (*Server, error) {
	h, err := ParseHash(target)
	if err != nil {
		return nil, errorf(ErrMalformed, "target: %w", err)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if s, ok := p.bundle[h]; ok {
		return s, nil
	}
	if list := p.api[h]; len(list) > 0 {
		return list[0], nil
	}
	return nil, errorf(ErrNotServed, "%s", h)
}

// describeMethod is the call by which a dialer fetches what it needs to
// verify a bundle. User method names cannot contain a dot, so it cannot
// collide with one.
const describeMethod = "papi.describe"

// description is the answer to describeMethod.
type description struct {
	Manifest   []byte      `cbor:"manifest"`
	Spec       []byte      `cbor:"spec"`
	Signatures []signature `cbor:"sigs,omitempty"`
	// Seed is set by a peer that serves the bundle without handlers, so
	// that a dialer for calls looks further. It is not covered by the hash:
	// a peer that lies about it only loses callers or gets calls it fails.
	Seed bool `cbor:"seed,omitempty"`
}

type callerKey struct{}

// CallerFromContext returns the peer ID of the caller whose call ctx belongs to.
func CallerFromContext(ctx context.Context) (peer.ID, bool) {
	id, ok := ctx.Value(callerKey{}).(peer.ID)
	return id, ok
}

// handle is the transport's one entry point for calls that arrive.
func (p *Peer) handle(ctx context.Context, req *transport.Request) *transport.Response {
	if req.Method == resolveMethod {
		out, err := p.answerResolve(req.Target)
		if err != nil {
			return errorResponse(err)
		}
		return &transport.Response{Payload: out}
	}
	s, err := p.lookup(req.Target)
	if err != nil {
		return errorResponse(err)
	}
	if req.Method == describeMethod {
		out, err := canon.Marshal(description{Manifest: s.b.manifestBytes, Spec: s.b.specBytes, Signatures: s.b.signatures, Seed: s.api == nil && s.code == nil})
		if err != nil {
			return errorResponse(err)
		}
		return &transport.Response{Payload: out}
	}
	if !s.begin() {
		return errorResponse(Errorf(CodeUnavailable, "%s is shutting down", s.b.hash))
	}
	defer s.inflight.Done()
	ctx, cancel := context.WithCancel(context.WithValue(ctx, callerKey{}, req.Peer))
	defer cancel()
	if s.policy != nil {
		if err := s.policy(ctx, CallInfo{Caller: req.Peer, Method: req.Method, Request: req.Payload}); err != nil {
			return errorResponse(errorf(ErrPermissionDenied, "%s: %w", req.Method, err))
		}
	}
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	if s.api == nil && s.code == nil {
		return errorResponse(errorf(ErrNoHandlers, "%s is seeded by %s, which runs none of its methods", s.b.hash, p.host.ID()))
	}
	start := time.Now()
	out, err := s.call(ctx, req.Method, req.Payload)
	label := req.Method
	if _, ok := findMethod(s.b.spec, req.Method); !ok {
		label = unknownMethodLabel
	}
	p.metrics.call(label, start, err)
	if err != nil {
		return errorResponse(err)
	}
	return &transport.Response{Payload: out}
}

// call runs one call of a method on s's handlers, native or sandboxed.
// The request's bytes are first checked for the fields the spec requires:
// decoding into a Go struct would make a missing field its zero value,
// which neither a handler nor a condition can tell from one sent, so a
// caller in any language would get weaker guarantees than a Go one.
func (s *Server) call(ctx context.Context, method string, payload []byte) ([]byte, error) {
	if pc := s.presence[method]; pc != nil {
		if err := pc.Check(payload); err != nil {
			if errors.Is(err, spec.ErrMalformedCBOR) {
				return nil, errorf(ErrMalformed, "%s request: %w", method, err)
			}
			return nil, errorf(ErrPrecondition, "%s request: %w", method, err)
		}
	}
	if s.api != nil {
		return s.api.invoke(ctx, s.b, method, payload, s.peer.log)
	}
	out, err := s.code.Call(ctx, method, payload)
	if err != nil {
		return nil, sandboxError(err)
	}
	return out, nil
}

// errorResponse carries an error over the wire: its code, its message and,
// in the payload, the name of its sentinel, so the caller's errors.Is works.
func errorResponse(err error) *transport.Response {
	e := asError(err)
	r := &transport.Response{Code: codes.Code(e.code), Message: e.msg}
	if name := e.reasonName(); name != "" {
		r.Payload, _ = canon.Marshal(errorDetail{Reason: name})
	}
	return r
}

// errorDetail is the payload of an error response.
type errorDetail struct {
	Reason string `cbor:"reason,omitempty"`
}

// lookupData finds a dataset of a served bundle by its digest: what a peer
// serves, it seeds for others to clone.
func (p *Peer) lookupData(digest [32]byte) (transport.DataSource, error) {
	p.mu.RLock()
	var found *Dataset
	for _, s := range p.bundle {
		for _, d := range s.b.datasets {
			if d.digest == digest {
				found = d
			}
		}
		if c := s.b.code; c != nil && c.digest == digest {
			found = c
		}
	}
	p.mu.RUnlock()
	if found == nil {
		return nil, transport.ErrDataNotFound
	}
	ra, closer, err := found.readerAt()
	if err != nil {
		return nil, err
	}
	return &datasetSource{ReaderAt: ra, Closer: closer, d: found}, nil
}

// datasetSource is a dataset opened for seeding.
type datasetSource struct {
	io.ReaderAt
	io.Closer
	d *Dataset
}

func (s *datasetSource) Size() int64               { return s.d.size }
func (s *datasetSource) Outboard() ([]byte, error) { return s.d.Outboard() }
