package papi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/papi-dev/papi/internal/sandbox"
	"github.com/papi-dev/papi/internal/spec"
)

// Server is one bundle served by a Peer.
type Server struct {
	peer *Peer
	b    *Bundle
	api  *API
	code *sandbox.Pool // the bundle's own handlers, when they serve
	// presence checks each method's request bytes for required fields
	// before any handler, native or sandboxed, decodes them.
	presence map[string]*spec.Presence
	// apis are the API hashes the server answers for: its bundle's, then
	// those of the ancestors it keeps working (Extends).
	apis []Hash

	drainTimeout time.Duration
	policy       Policy
	ctx          context.Context // cancelled when draining gives up
	cancel       context.CancelFunc
	stopWithCtx  func() bool   // stops closing the server when Serve's ctx ends
	ipfsOffered  chan struct{} // closed once the bundle is in the peer's block view

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
// hash, and by the API hash of each ancestor (Extends) whose callers b's API
// keeps working, until ctx ends or the Server is closed; when ctx ends, the server
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
	s := &Server{peer: p, b: b, api: c.api, code: code, drainTimeout: c.drainTimeout, policy: c.policy, ipfsOffered: make(chan struct{})}
	s.apis = append([]Hash{b.apiHash}, compatibleAncestors(b.spec, b.lineage)...)
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
	p.targets[b.hash.String()] = b.hash
	for _, h := range s.apis {
		p.api[h] = append(p.api[h], s)
		p.targets[h.String()] = h
	}
	if len(p.discovery) > 0 {
		go p.announce(s)
	}
	go p.offerIPFS(s)
	s.mu.Lock()
	s.stopWithCtx = context.AfterFunc(ctx, func() { s.Close() })
	s.mu.Unlock()
	return s, nil
}

// announce tells every discovery source that this peer provides s's bundle
// hash and the API hashes it answers for, until s is closed.
func (p *Peer) announce(s *Server) {
	keys := []mh.Multihash{s.b.hash.Multihash()}
	for _, h := range s.apis {
		keys = append(keys, h.Multihash())
	}
	p.announceKeys(s.ctx, keys)
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
	p.blocks.drop(s)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bundle[s.b.hash] == s {
		delete(p.bundle, s.b.hash)
		delete(p.targets, s.b.hash.String())
	}
	for _, h := range s.apis {
		list := p.api[h]
		for i, x := range list {
			if x == s {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(p.api, h)
			delete(p.targets, h.String())
		} else {
			p.api[h] = list
		}
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
