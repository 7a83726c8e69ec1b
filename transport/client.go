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

// session is one stream kept open to a peer, carrying many calls at once:
// calls are told apart by ID, and replies come back in the order they
// finish. It is a framed ProtocolRPC stream, or, to a peer that speaks only
// ProtocolRPC1, a gorpc streaming call.
type session struct {
	ready   chan struct{} // closed once the stream is open, or the session ended
	done    chan struct{} // closed when the session ends
	err     error         // why it ended; read after done
	mu      sync.Mutex
	pending map[uint64]chan wire.Reply
	cancel  context.CancelFunc

	// Set before ready closes: a framed session's stream and writer, or
	// a gorpc session's channel of calls.
	stream network.Stream
	w      *frameWriter
	args   chan *wire.Call
	sendMu sync.RWMutex // gorpc senders hold it shared; closing args takes it whole

	// conns are the connections to the peer when a gorpc session began;
	// its stream runs on one of them. Guarded by clients.mu.
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
func (s *session) stranded(h *Host, p peer.ID) bool {
	select {
	case <-s.ready:
	default:
		return false // still opening
	}
	if s.stream != nil {
		return s.stream.Conn().IsClosed()
	}
	now := h.h.Network().ConnsToPeer(p)
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

// directNow reports whether the session runs over a relay while a direct
// connection to p has come since. Only a relayed session looks at the
// peer's connections, which costs a slice each time.
func (s *session) directNow(h *Host, p peer.ID) bool {
	select {
	case <-s.ready:
	default:
		return false
	}
	if s.stream != nil {
		return isRelayed(s.stream.Conn()) && !relayedOnly(h.h.Network().ConnsToPeer(p))
	}
	return relayedOnly(s.conns) && !relayedOnly(h.h.Network().ConnsToPeer(p))
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
// stream opens in the background: the first calls wait for it in send. The
// caller holds the session until it calls release.
func (h *Host) session(p peer.ID) (*session, error) {
	c := &h.clients
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if s, ok := c.sessions[p]; ok {
		select {
		case <-s.done:
		default:
			switch {
			case s.stranded(h, p):
				s.end(fmt.Errorf("%w: the connection to the peer closed", ErrUnavailable))
			case s.directNow(h, p):
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
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
		pending: map[uint64]chan wire.Reply{},
		cancel:  cancel,
		users:   1,
	}
	c.sessions[p] = s
	go func() {
		err := h.runSession(ctx, s, p)
		if err == nil {
			err = errors.New("session closed by the peer")
		}
		s.end(fmt.Errorf("%w: %w", ErrUnavailable, err))
	}()
	return s, nil
}

// runSession opens the session's stream and reads its replies until it ends.
func (h *Host) runSession(ctx context.Context, s *session, p peer.ID) error {
	octx, cancel := context.WithTimeout(ctx, h.limits.MessageTimeout)
	st, err := h.openFramed(octx, p)
	cancel()
	if err != nil {
		close(s.ready)
		return err
	}
	if st != nil {
		s.stream, s.w = st, newFrameWriter(st, h.limits.MessageTimeout)
		close(s.ready)
		defer context.AfterFunc(ctx, func() { st.Reset() })()
		return h.runFramed(s, st)
	}
	s.args = make(chan *wire.Call, 64)
	close(s.ready)
	replies := make(chan *wire.Reply, 64)
	go func() {
		for r := range replies {
			s.deliver(r)
		}
		s.end(fmt.Errorf("%w: session closed", ErrUnavailable))
	}()
	return h.rpcClient.Stream(ctx, p, rpcServiceName, "Session", s.args, replies)
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
	s.pending = map[uint64]chan wire.Reply{}
	s.mu.Unlock()
	s.cancel()
	<-s.ready
	if s.stream != nil {
		s.stream.Reset()
		return
	}
	// Senders see done and stop; then args can be closed, ending gorpc's writer.
	s.sendMu.Lock()
	if s.args != nil {
		close(s.args)
	}
	s.sendMu.Unlock()
}

// send sends one call on the session, once its stream is open.
func (s *session) send(ctx context.Context, m *wire.Call) error {
	select {
	case <-s.ready:
	case <-s.done:
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.w != nil {
		if err := s.w.writeCall(m); err != nil {
			s.end(fmt.Errorf("%w: %w", ErrUnavailable, err))
			<-s.done
			return s.err
		}
		return nil
	}
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	select {
	case <-s.done:
		return s.err
	default:
	}
	if s.args == nil {
		<-s.done
		return s.err
	}
	held := new(*m) // gorpc holds on to it; a framed call's stays on the caller's stack
	select {
	case s.args <- held:
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
	ch := replyChans.Get().(chan wire.Reply)
	s.mu.Lock()
	s.pending[id] = ch
	s.mu.Unlock()
	// forget takes the call out of the session; once it has, nothing can
	// be sent on ch any more, so ch can be used again.
	forget := func() {
		s.mu.Lock()
		_, ok := s.pending[id]
		delete(s.pending, id)
		s.mu.Unlock()
		if ok {
			replyChans.Put(ch)
		}
	}
	if err := s.send(ctx, &wire.Call{ID: id, Target: target, Method: method, Timeout: timeout, Payload: payload}); err != nil {
		forget()
		return nil, err
	}
	select {
	case r := <-ch:
		replyChans.Put(ch)
		if r.Code != uint32(codes.OK) {
			if err := deadlinePassed(ctx); err != nil {
				return nil, err
			}
		}
		return h.reply(ctx, p, &r)
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
