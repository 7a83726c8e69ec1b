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

// server runs calls for a host, whichever protocol they came by.
type server struct {
	h        *Host
	handler  atomic.Pointer[Handler]
	inflight sync.WaitGroup
	workers  *workers

	mu           sync.Mutex
	perPeer      map[peer.ID]int
	total        int
	bytesPerPeer map[peer.ID]int64
	bytesTotal   int64
	largeTotal   int64 // of bytesTotal, what large requests hold
}

func newServer(h *Host) *server {
	return &server{h: h, perPeer: map[peer.ID]int{}, bytesPerPeer: map[peer.ID]int64{}, workers: newWorkers(h.ctx.Done())}
}

// reservation is request memory held for one call of a peer, against
// MaxRequestMemoryPerPeer and MaxRequestMemory. Large requests (those past
// MaxInlineMessage, over ProtocolBody) may not use the SmallRequestMemory
// kept for small ones.
type reservation struct {
	s     *server
	p     peer.ID
	large bool
	n     int64
}

// grow adds n bytes to the reservation. Like the count of calls, it refuses
// rather than waits: an honest caller retries, and waiting would let a peer
// park memory in the queue.
func (r *reservation) grow(n int64) (refused *Response) {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.h.limits
	if s.bytesPerPeer[r.p]+n > l.MaxRequestMemoryPerPeer {
		return errResponse(codes.ResourceExhausted, "requests in flight from this peer would hold more than %d bytes", l.MaxRequestMemoryPerPeer)
	}
	if s.bytesTotal+n > l.MaxRequestMemory {
		return errResponse(codes.ResourceExhausted, "requests in flight would hold more than %d bytes", l.MaxRequestMemory)
	}
	if r.large && s.largeTotal+n > l.MaxRequestMemory-l.SmallRequestMemory {
		return errResponse(codes.ResourceExhausted, "large requests in flight would hold more than %d bytes", l.MaxRequestMemory-l.SmallRequestMemory)
	}
	s.bytesPerPeer[r.p] += n
	s.bytesTotal += n
	if r.large {
		s.largeTotal += n
	}
	r.n += n
	return nil
}

// release gives back all the reservation holds.
func (r *reservation) release() {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytesTotal -= r.n
	if r.large {
		s.largeTotal -= r.n
	}
	if s.bytesPerPeer[r.p] -= r.n; s.bytesPerPeer[r.p] <= 0 {
		delete(s.bytesPerPeer, r.p)
	}
	r.n = 0
}

// admit takes a place for one call of p among MaxCallsPerPeer and
// MaxCalls, or refuses it; done gives the place back.
func (s *server) admit(p peer.ID) (done func(), refused *Response) {
	if refused := s.enter(p); refused != nil {
		return nil, refused
	}
	return func() { s.leave(p) }, nil
}

// enter is admit without the closure, for the framed session, which keeps
// what it needs to leave in one allocation per call.
func (s *server) enter(p peer.ID) (refused *Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perPeer[p] >= s.h.limits.MaxCallsPerPeer {
		return errResponse(codes.ResourceExhausted, "more than %d calls in flight from this peer", s.h.limits.MaxCallsPerPeer)
	}
	if s.total >= s.h.limits.MaxCalls {
		return errResponse(codes.ResourceExhausted, "more than %d calls in flight", s.h.limits.MaxCalls)
	}
	s.perPeer[p]++
	s.total++
	s.inflight.Add(1)
	return nil
}

// leave gives back a place enter took.
func (s *server) leave(p peer.ID) {
	s.mu.Lock()
	s.total--
	if s.perPeer[p]--; s.perPeer[p] == 0 {
		delete(s.perPeer, p)
	}
	s.mu.Unlock()
	s.inflight.Done()
}

// SetHandler sets the function that answers every call; until it is set,
// calls are answered Unimplemented.
func (h *Host) SetHandler(f Handler) { h.server.handler.Store(&f) }

func errResponse(code codes.Code, format string, args ...any) *Response {
	return &Response{Code: code, Message: fmt.Sprintf(format, args...)}
}

// run admits one call and runs it.
func (s *server) run(ctx context.Context, req *Request, timeout time.Duration) *Response {
	done, refused := s.admit(req.Peer)
	if refused != nil {
		return refused
	}
	defer done()
	return s.call(ctx, req, timeout)
}

// call runs one admitted call with every guard: deadline, panic recovery.
func (s *server) call(ctx context.Context, req *Request, timeout time.Duration) (resp *Response) {
	hp := s.handler.Load()
	if hp == nil || *hp == nil {
		return errResponse(codes.Unimplemented, "no handler")
	}
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

// queuedReply is a reply waiting to be sent, with what its call holds
// until it is: its place among the calls, its request memory, its place in
// the session's queue.
type queuedReply struct {
	reply   *wire.Reply
	release func()
}

// Session runs the calls that arrive on one session stream, each in its own
// goroutine once admitted, and sends their replies in the order they
// finish. A call holds its place and its request memory until its reply
// has gone to the stream, and a session holds at most MaxQueuedReplies
// calls and replies: past that it reads no more until the peer takes its
// replies, and a reply the peer does not take within MessageTimeout (the
// stream's write deadline) cuts the session. ctx ends when the stream does,
// which cancels every call of the session.
func (r *rpcService) Session(ctx context.Context, in <-chan *wire.Call, out chan<- *wire.Reply) error {
	from, _ := rpc.GetRequestSender(ctx)
	limits := r.s.h.limits
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		cancels = map[uint64]context.CancelFunc{}
	)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// The host closing ends every session.
	defer context.AfterFunc(r.s.h.ctx, stop)()

	// places bounds the calls and replies outstanding; queue never blocks,
	// since no more than len(places) replies are ever in it.
	places := make(chan struct{}, limits.MaxQueuedReplies)
	queue := make(chan queuedReply, limits.MaxQueuedReplies)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for q := range queue {
			select {
			case out <- q.reply:
			case <-ctx.Done():
			}
			q.release()
			<-places
		}
	}()
	enqueue := func(reply *wire.Reply, release func()) {
		queue <- queuedReply{reply: reply, release: release}
	}
	nothing := func() {}

read:
	for {
		select {
		case places <- struct{}{}:
		case <-ctx.Done():
			break read
		}
		var msg *wire.Call
		select {
		case m, ok := <-in:
			if !ok {
				<-places
				break read
			}
			msg = m
		case <-ctx.Done():
			<-places
			break read
		}
		if msg == nil || msg.Kind == wire.KindCancel {
			if msg != nil {
				mu.Lock()
				if cancel, ok := cancels[msg.ID]; ok {
					cancel()
				}
				mu.Unlock()
			}
			<-places
			continue
		}
		// Admit before spawning: a refused call costs a small reply, and
		// its payload is let go at once.
		done, refused := r.s.admit(from)
		if refused != nil {
			enqueue(&wire.Reply{ID: msg.ID, Code: uint32(refused.Code), Message: refused.Message}, nothing)
			continue
		}
		res := &reservation{s: r.s, p: from}
		if refused := res.grow(int64(len(msg.Payload))); refused != nil {
			done()
			enqueue(&wire.Reply{ID: msg.ID, Code: uint32(refused.Code), Message: refused.Message}, nothing)
			continue
		}
		release := func() { res.release(); done() }
		callCtx, cancel := context.WithCancel(ctx)
		mu.Lock()
		cancels[msg.ID] = cancel
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &Request{Peer: from, Target: msg.Target, Method: msg.Method, Payload: msg.Payload}
			resp := r.s.call(callCtx, req, time.Duration(msg.Timeout))
			mu.Lock()
			delete(cancels, msg.ID)
			mu.Unlock()
			cancel()
			reply := &wire.Reply{ID: msg.ID, Code: uint32(resp.Code), Message: resp.Message}
			if len(resp.Payload) > limits.MaxInlineMessage {
				reply.Token, reply.Size = r.s.h.bodies.put(from, resp.Payload), int64(len(resp.Payload))
			} else {
				reply.Payload = resp.Payload
			}
			enqueue(reply, release)
		}()
	}
	wg.Wait()
	close(queue)
	<-sent
	close(out)
	return nil
}
