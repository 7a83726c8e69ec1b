package transport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/papi-dev/papi/internal/codes"
	"github.com/papi-dev/papi/internal/wire"
)

// RemoteError is an error the remote side answered with.
type RemoteError struct {
	Code    codes.Code
	Message string
	Payload []byte // details the server attached, if any
}

func (e *RemoteError) Error() string { return e.Code.String() + ": " + e.Message }

// clients keeps one session per remote peer.
type clients struct {
	mu       sync.Mutex
	sessions map[peer.ID]*session
	closed   bool
	nextID   atomic.Uint64
}

// session is one gorpc streaming call kept open to a peer, carrying many
// calls at once: calls are told apart by ID, and replies come back in the
// order they finish.
type session struct {
	args    chan *wire.Call
	done    chan struct{} // closed when the session ends
	err     error         // why it ended; read after done
	sendMu  sync.RWMutex  // senders hold it shared; closing args takes it whole
	mu      sync.Mutex
	pending map[uint64]chan *wire.Reply
	cancel  context.CancelFunc
	// conns are the connections to the peer when the session began; its
	// stream runs on one of them. Guarded by clients.mu.
	conns []network.Conn
	// users counts the calls holding the session, and retired says that a
	// direct connection came while the session ran over a relay: new calls
	// take a new session, and this one ends once its calls are answered.
	// Both guarded by clients.mu.
	users   int
	retired bool
}

// relayedOnly reports whether conns are all relayed connections, and there
// is at least one.
func relayedOnly(conns []network.Conn) bool {
	for _, c := range conns {
		if !isRelayed(c) {
			return false
		}
	}
	return len(conns) > 0
}

func isRelayed(c network.Conn) bool {
	_, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// Relayed reports whether every connection to p is relayed, and there is
// at least one: a call to p now goes through a relay.
func (h *Host) Relayed(p peer.ID) bool {
	return relayedOnly(h.h.Network().ConnsToPeer(p))
}

// stranded reports whether every connection the session could run on has
// closed, though the session has not noticed yet: its stream learns of a
// closed connection only some time after, and a call sent meanwhile would
// fail although a fresh connection would carry it.
func (s *session) stranded(now []network.Conn) bool {
	if len(s.conns) == 0 {
		s.conns = now // the session dialed the peer itself
		return false
	}
	for _, c := range s.conns {
		if slices.Contains(now, c) {
			return false
		}
	}
	return true
}

func (c *clients) closeAll() {
	c.mu.Lock()
	c.closed = true
	all := c.sessions
	c.sessions = map[peer.ID]*session{}
	c.mu.Unlock()
	for _, s := range all {
		s.cancel()
	}
}

// session returns the live session to p, opening one if need be. The
// caller holds it until it calls release.
func (h *Host) session(p peer.ID) (*session, error) {
	c := &h.clients
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	now := h.h.Network().ConnsToPeer(p)
	if s, ok := c.sessions[p]; ok {
		select {
		case <-s.done:
		default:
			switch {
			case s.stranded(now):
				s.end(fmt.Errorf("%w: the connection to the peer closed", ErrUnavailable))
			case relayedOnly(s.conns) && !relayedOnly(now):
				// Hole punching (or a dial) made a direct connection: the
				// stream stays on the connection it began on, so calls move
				// to a new session, and the relay is no longer needed.
				delete(c.sessions, p)
				s.retired = true
				if s.users == 0 {
					s.end(fmt.Errorf("%w: session moved to a direct connection", ErrUnavailable))
				}
			default:
				s.users++
				return s, nil
			}
		}
	}
	ctx, cancel := context.WithCancel(h.ctx)
	s := &session{
		args:    make(chan *wire.Call, 64),
		done:    make(chan struct{}),
		pending: map[uint64]chan *wire.Reply{},
		cancel:  cancel,
		conns:   now,
		users:   1,
	}
	replies := make(chan *wire.Reply, 64)
	c.sessions[p] = s
	go func() {
		err := h.rpcClient.Stream(ctx, p, rpcServiceName, "Session", s.args, replies)
		if err == nil {
			err = errors.New("session closed by the peer")
		}
		s.end(fmt.Errorf("%w: %w", ErrUnavailable, err))
	}()
	go func() {
		for r := range replies {
			s.mu.Lock()
			ch, ok := s.pending[r.ID]
			delete(s.pending, r.ID)
			s.mu.Unlock()
			if ok {
				ch <- r
			}
		}
		s.end(fmt.Errorf("%w: session closed", ErrUnavailable))
	}()
	return s, nil
}

// release lets go of a session that session returned.
func (h *Host) release(s *session) {
	c := &h.clients
	c.mu.Lock()
	defer c.mu.Unlock()
	s.users--
	if s.retired && s.users == 0 {
		s.end(fmt.Errorf("%w: session moved to a direct connection", ErrUnavailable))
	}
}

// end marks the session dead, fails its pending calls and lets go of its
// goroutines. Only the first call does anything.
func (s *session) end(err error) {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return
	default:
	}
	s.err = err
	close(s.done)
	s.pending = map[uint64]chan *wire.Reply{}
	s.mu.Unlock()
	s.cancel()
	// Senders see done and stop; then args can be closed, ending gorpc's writer.
	s.sendMu.Lock()
	close(s.args)
	s.sendMu.Unlock()
}

func (s *session) send(ctx context.Context, m *wire.Call) error {
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	select {
	case <-s.done:
		return s.err
	default:
	}
	select {
	case s.args <- m:
		return nil
	case <-s.done:
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Call calls method on target at peer p with payload and returns the answer's
// payload. An error the server answered with is a *RemoteError; a peer that
// cannot be reached or goes away gives an error wrapping ErrUnavailable; a
// context that ends gives its error.
func (h *Host) Call(ctx context.Context, p peer.ID, target, method string, payload []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var timeout int64
	if dl, ok := ctx.Deadline(); ok {
		timeout = int64(time.Until(dl))
		if timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	if len(payload) > h.limits.MaxInlineMessage {
		if int64(len(payload)) > h.limits.MaxRequestBytes {
			return nil, &RemoteError{Code: codes.ResourceExhausted, Message: fmt.Sprintf("request of %d bytes, limit %d", len(payload), h.limits.MaxRequestBytes)}
		}
		return h.bodyCall(ctx, p, wire.BodyHeader{Target: target, Method: method, Timeout: timeout, Size: int64(len(payload))}, payload)
	}
	s, err := h.session(p)
	if err != nil {
		return nil, err
	}
	defer h.release(s)
	id := h.clients.nextID.Add(1)
	ch := make(chan *wire.Reply, 1)
	s.mu.Lock()
	s.pending[id] = ch
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}
	if err := s.send(ctx, &wire.Call{ID: id, Target: target, Method: method, Timeout: timeout, Payload: payload}); err != nil {
		forget()
		return nil, err
	}
	select {
	case r := <-ch:
		if r.Code != uint32(codes.OK) {
			if err := deadlinePassed(ctx); err != nil {
				return nil, err
			}
		}
		return h.reply(ctx, p, r)
	case <-s.done:
		return nil, s.err
	case <-ctx.Done():
		forget()
		// Tell the server, so that its handler stops; no need to wait.
		go s.send(context.Background(), &wire.Call{ID: id, Kind: wire.KindCancel})
		return nil, ctx.Err()
	}
}

// deadlinePassed returns the caller's context error once its deadline has
// passed by the clock, even before the context's timer fires: an error
// answer that comes with it is most likely the server's deadline, carried
// over and fired first under load, and the caller's own error is the one it
// can test for.
func deadlinePassed(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

func (h *Host) reply(ctx context.Context, p peer.ID, r *wire.Reply) ([]byte, error) {
	payload := r.Payload
	if r.Token != nil {
		if r.Size > h.limits.MaxResponseBytes {
			return nil, &RemoteError{Code: codes.ResourceExhausted, Message: fmt.Sprintf("response of %d bytes, limit %d", r.Size, h.limits.MaxResponseBytes)}
		}
		var err error
		if payload, err = h.bodyCall(ctx, p, wire.BodyHeader{Token: r.Token}, nil); err != nil {
			return nil, err
		}
	}
	if r.Code != uint32(codes.OK) {
		return nil, &RemoteError{Code: codes.Code(r.Code), Message: r.Message, Payload: payload}
	}
	return payload, nil
}
