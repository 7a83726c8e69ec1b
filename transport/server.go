package transport

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	rpc "github.com/libp2p/go-libp2p-gorpc"

	"github.com/papi-dev/papi/internal/codes"
	"github.com/papi-dev/papi/internal/wire"
)

// Request is one call that arrived.
type Request struct {
	Peer    peer.ID // who calls
	Target  string  // what the call is addressed to (papi: a hash)
	Method  string
	Payload []byte
}

// Response answers a Request. Code OK means Payload is the answer; any other
// code is an error, with Message, and Payload carries details if any.
type Response struct {
	Payload []byte
	Code    codes.Code
	Message string
}

// Handler answers every call a host receives. It runs in a goroutine of its
// own per call; ctx ends when the caller's deadline passes, the caller
// cancels or goes away, or the host closes.
type Handler func(ctx context.Context, req *Request) *Response

type peerKey struct{}

// PeerFromContext returns the caller's peer ID inside a Handler.
func PeerFromContext(ctx context.Context) (peer.ID, bool) {
	p, ok := ctx.Value(peerKey{}).(peer.ID)
	return p, ok
}

// server runs calls for a host, whichever protocol they came by.
type server struct {
	h        *Host
	handler  atomic.Pointer[Handler]
	draining atomic.Bool
	inflight sync.WaitGroup

	mu           sync.Mutex
	perPeer      map[peer.ID]int
	total        int
	bytesPerPeer map[peer.ID]int64
	bytesTotal   int64
}

func newServer(h *Host) *server {
	return &server{h: h, perPeer: map[peer.ID]int{}, bytesPerPeer: map[peer.ID]int64{}}
}

// holdRequest accounts for n bytes of request payload that a call of p's
// holds while it runs, against MaxRequestMemoryPerPeer and
// MaxRequestMemory. Like the count of calls, it refuses rather than waits:
// an honest caller retries, and waiting would let a peer park memory in
// the queue. release gives the bytes back.
func (s *server) holdRequest(p peer.ID, n int64) (release func(), refused *Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.h.limits
	if s.bytesPerPeer[p]+n > l.MaxRequestMemoryPerPeer {
		return nil, errResponse(codes.ResourceExhausted, "requests in flight from this peer would hold more than %d bytes", l.MaxRequestMemoryPerPeer)
	}
	if s.bytesTotal+n > l.MaxRequestMemory {
		return nil, errResponse(codes.ResourceExhausted, "requests in flight would hold more than %d bytes", l.MaxRequestMemory)
	}
	s.bytesPerPeer[p] += n
	s.bytesTotal += n
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.bytesTotal -= n
		if s.bytesPerPeer[p] -= n; s.bytesPerPeer[p] == 0 {
			delete(s.bytesPerPeer, p)
		}
	}, nil
}

// SetHandler sets the function that answers every call; until it is set,
// calls are answered Unimplemented.
func (h *Host) SetHandler(f Handler) { h.server.handler.Store(&f) }

// Drain stops taking new calls (they are answered Unavailable) and waits for
// those in flight to finish, or for ctx to end.
func (h *Host) Drain(ctx context.Context) error {
	h.server.draining.Store(true)
	done := make(chan struct{})
	go func() { h.server.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func errResponse(code codes.Code, format string, args ...any) *Response {
	return &Response{Code: code, Message: fmt.Sprintf(format, args...)}
}

// run runs one call with every guard: admission, deadline, panic recovery.
func (s *server) run(ctx context.Context, req *Request, timeout time.Duration) (resp *Response) {
	if s.draining.Load() {
		return errResponse(codes.Unavailable, "server is shutting down")
	}
	s.mu.Lock()
	if s.perPeer[req.Peer] >= s.h.limits.MaxCallsPerPeer {
		s.mu.Unlock()
		return errResponse(codes.ResourceExhausted, "more than %d calls in flight from this peer", s.h.limits.MaxCallsPerPeer)
	}
	if s.total >= s.h.limits.MaxCalls {
		s.mu.Unlock()
		return errResponse(codes.ResourceExhausted, "more than %d calls in flight", s.h.limits.MaxCalls)
	}
	s.perPeer[req.Peer]++
	s.total++
	s.inflight.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.total--
		if s.perPeer[req.Peer]--; s.perPeer[req.Peer] == 0 {
			delete(s.perPeer, req.Peer)
		}
		s.mu.Unlock()
		s.inflight.Done()
	}()

	hp := s.handler.Load()
	if hp == nil || *hp == nil {
		return errResponse(codes.Unimplemented, "no handler")
	}
	ctx = context.WithValue(ctx, peerKey{}, req.Peer)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			s.h.log.Error("papi: handler panicked", "peer", req.Peer.String(), "method", req.Method, "panic", p, "stack", string(debug.Stack()))
			resp = errResponse(codes.Internal, "handler panicked")
		}
	}()
	resp = (*hp)(ctx, req)
	if s.h.ctx.Err() != nil {
		return errResponse(codes.Unavailable, "server closed")
	}
	if resp == nil {
		return errResponse(codes.Internal, "handler returned no response")
	}
	if resp.Code == codes.OK && ctx.Err() != nil {
		// The caller has given up; say why rather than send an answer nobody reads.
		return errResponse(codes.DeadlineExceeded, "%v", ctx.Err())
	}
	return resp
}

// rpcServiceName is the gorpc service papi registers.
const rpcServiceName = "PapiRPC"

// rpcService is what gorpc calls: one Session per stream, for as long as the
// caller keeps it open.
type rpcService struct{ s *server }

// Session runs the calls that arrive on one session stream, each in its own
// goroutine, and sends their replies in the order they finish. ctx ends when
// the stream does, which cancels every call of the session.
func (r *rpcService) Session(ctx context.Context, in <-chan *wire.Call, out chan<- *wire.Reply) error {
	from, _ := rpc.GetRequestSender(ctx)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		cancels = map[uint64]context.CancelFunc{}
	)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// The host closing ends every session.
	defer context.AfterFunc(r.s.h.ctx, stop)()
	for msg := range in {
		if msg == nil {
			continue
		}
		if msg.Kind == wire.KindCancel {
			mu.Lock()
			if cancel, ok := cancels[msg.ID]; ok {
				cancel()
			}
			mu.Unlock()
			continue
		}
		callCtx, cancel := context.WithCancel(ctx)
		mu.Lock()
		cancels[msg.ID] = cancel
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(cancels, msg.ID)
				mu.Unlock()
				cancel()
			}()
			release, resp := r.s.holdRequest(from, int64(len(msg.Payload)))
			if resp == nil {
				req := &Request{Peer: from, Target: msg.Target, Method: msg.Method, Payload: msg.Payload}
				resp = r.s.run(callCtx, req, time.Duration(msg.Timeout))
				release()
			}
			reply := &wire.Reply{ID: msg.ID, Code: uint32(resp.Code), Message: resp.Message}
			if len(resp.Payload) > r.s.h.limits.MaxInlineMessage {
				reply.Token, reply.Size = r.s.h.bodies.put(from, resp.Payload), int64(len(resp.Payload))
			} else {
				reply.Payload = resp.Payload
			}
			select {
			case out <- reply:
			case <-ctx.Done():
			}
		}()
	}
	wg.Wait()
	close(out)
	return nil
}
