package papi

import (
	"context"
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/codes"
	"github.com/papi-dev/papi/internal/spec"
	"github.com/papi-dev/papi/transport"
)

// lookup finds what serves target: a bundle hash, or an API hash.
func (p *Peer) lookup(target string) (*Server, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	h, ok := p.targets[target]
	if !ok {
		var err error
		if h, err = ParseHash(target); err != nil {
			return nil, errorf(ErrMalformed, "target: %w", err)
		}
	}
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
	// Lineage is the specs of the APIs the bundle's derives from, in the
	// manifest's order, so that a dialer of one of them can judge the
	// bundle's API against it, and a clone can keep them.
	Lineage [][]byte `cbor:"lineage,omitempty"`
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
		out, err := canon.Marshal(description{Manifest: s.b.manifestBytes, Spec: s.b.specBytes, Signatures: s.b.signatures, Lineage: lineageBytes(s.b.lineage), Seed: s.api == nil && s.code == nil})
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
