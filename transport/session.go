package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/papi-dev/papi/internal/wire"
)

// ProtocolRPC sessions carry wire's frames (internal/wire/frame.go) on a
// raw stream: a call is written by its caller's goroutine and its reply read
// by one goroutine per session, with no codec, channel or goroutine between
// the caller and the stream. gorpc's streaming call put reflection, four
// goroutines and as many channel hand-offs on each call, which was most of
// its cost above a round trip on the stream itself.

// maxFrame is the largest frame a host reads on a session: an inline
// payload and its header.
func (l Limits) maxFrame() uint64 {
	return uint64(l.MaxInlineMessage) + wire.MaxFrameHeader
}

// frameWriter writes frames to a stream from many goroutines: one frame at
// a time, and one flush for the frames that queued meanwhile, so that
// concurrent calls share writes to the stream.
type frameWriter struct {
	s       network.Stream
	timeout time.Duration

	waiting  atomic.Int32
	mu       sync.Mutex
	w        *bufio.Writer
	deadline time.Time // the write deadline last set
	err      error     // the first write that failed; the stream is dead then
}

func newFrameWriter(s network.Stream, timeout time.Duration) *frameWriter {
	return &frameWriter{s: s, timeout: timeout, w: bufio.NewWriterSize(s, 16<<10)}
}

// lock takes the writer for one frame; unlock flushes, unless another
// frame is queued behind this one, and reports the first failure. A peer
// that does not take what it is sent within about the timeout (between
// seven eighths of it and all of it: the deadline moves only every eighth,
// since setting one costs a timer) fails the write.
func (f *frameWriter) lock() error {
	f.waiting.Add(1)
	f.mu.Lock()
	f.waiting.Add(-1)
	if f.err != nil {
		return f.err
	}
	if now := time.Now(); f.deadline.Sub(now) < f.timeout-f.timeout/8 {
		f.deadline = now.Add(f.timeout)
		f.s.SetWriteDeadline(f.deadline)
	}
	return nil
}

func (f *frameWriter) unlock(err error) error {
	// The last of the writers queued flushes for all of them.
	if err == nil && f.err == nil && f.waiting.Load() == 0 {
		err = f.w.Flush()
	}
	if err != nil && f.err == nil {
		f.err = err
	}
	err = f.err
	f.mu.Unlock()
	return err
}

// writeCall sends one call; its header is encoded straight into the
// writer's buffer.
func (f *frameWriter) writeCall(c *wire.Call) error {
	if err := f.lock(); err != nil {
		f.mu.Unlock()
		return err
	}
	f.w.Write(wire.AppendCallHeader(f.w.AvailableBuffer(), c))
	_, err := f.w.Write(c.Payload)
	return f.unlock(err)
}

// writeReply sends one reply.
func (f *frameWriter) writeReply(r *wire.Reply) error {
	if err := f.lock(); err != nil {
		f.mu.Unlock()
		return err
	}
	f.w.Write(wire.AppendReplyHeader(f.w.AvailableBuffer(), r))
	_, err := f.w.Write(r.Payload)
	return f.unlock(err)
}

// frameReader reads frames from a session stream: no frame larger than max,
// and a frame that has begun whole within timeout, against peers that
// trickle bytes. Between frames the stream may stay idle.
type frameReader struct {
	s       deadlineReader
	r       *bufio.Reader
	max     uint64
	timeout time.Duration
	armed   bool
}

// deadlineReader is what a frameReader needs of a stream: narrow, so that
// frames can be fuzzed without a network.
type deadlineReader interface {
	io.Reader
	SetReadDeadline(time.Time) error
}

func newFrameReader(s deadlineReader, max uint64, timeout time.Duration) *frameReader {
	return &frameReader{s: s, r: bufio.NewReaderSize(s, 16<<10), max: max, timeout: timeout}
}

// arm starts the frame's time, unless it has started; most frames arrive
// whole in one read and never need it.
func (f *frameReader) arm() {
	if !f.armed {
		f.armed = true
		f.s.SetReadDeadline(time.Now().Add(f.timeout))
	}
}

func (f *frameReader) disarm() {
	if f.armed {
		f.armed = false
		f.s.SetReadDeadline(time.Time{})
	}
}

// errTrickled marks a frame not whole within the message timeout.
var errTrickled = errors.New("frame not whole in time")

// next waits for a frame and returns its length. Errors from the stream
// come back as they are; a length past max is a protocolError.
func (f *frameReader) next() (uint64, error) {
	if _, err := f.r.Peek(1); err != nil {
		return 0, err
	}
	b, _ := f.r.Peek(min(f.r.Buffered(), binary.MaxVarintLen64))
	n, k := binary.Uvarint(b)
	switch {
	case k > 0:
		f.r.Discard(k)
	case k < 0:
		return 0, &protocolError{fmt.Errorf("%w: frame length past 64 bits", wire.ErrMalformed)}
	default:
		f.arm()
		var err error
		if n, err = binary.ReadUvarint(f.r); err != nil {
			return 0, f.failed(err)
		}
	}
	if n > f.max {
		return 0, &protocolError{fmt.Errorf("%w: frame of %d bytes, limit %d", errObjectTooLarge, n, f.max)}
	}
	if n == 0 {
		return 0, &protocolError{fmt.Errorf("%w: empty frame", wire.ErrMalformed)}
	}
	if uint64(f.r.Buffered()) < n {
		f.arm()
	}
	return n, nil
}

// body reads the n bytes of the frame next announced.
func (f *frameReader) body(n uint64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(f.r, b); err != nil {
		return nil, f.failed(err)
	}
	f.disarm()
	return b, nil
}

// peekID reads the ID of the call frame of n bytes next announced,
// without consuming it.
func (f *frameReader) peekID(n uint64) (uint64, error) {
	b, err := f.r.Peek(int(min(n, 1+binary.MaxVarintLen64)))
	if err != nil {
		return 0, f.failed(err)
	}
	id, k := binary.Uvarint(b[1:])
	if k <= 0 {
		return 0, &protocolError{fmt.Errorf("%w: no call ID", wire.ErrMalformed)}
	}
	return id, nil
}

// skip passes over the n bytes of the frame next announced.
func (f *frameReader) skip(n uint64) error {
	if _, err := f.r.Discard(int(n)); err != nil {
		return f.failed(err)
	}
	f.disarm()
	return nil
}

func (f *frameReader) failed(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if f.armed && isTimeout(err) {
		return fmt.Errorf("%w within %v: %w", errTrickled, f.timeout, err)
	}
	return err
}

// openFramed opens the session stream to p, on ProtocolRPC when the peer
// speaks it. A peer that speaks only ProtocolRPC1 gets nil, and the caller
// opens a gorpc session instead.
//
// libp2p negotiates a protocol the peerstore says the peer speaks lazily,
// with the stream's first bytes; a peer that stopped speaking it since
// would reset the stream under the first calls. A read of nothing waits
// for the negotiation instead, once per session.
func (h *Host) openFramed(ctx context.Context, p peer.ID) (network.Stream, error) {
	st, err := h.h.NewStream(overRelays(ctx), p, ProtocolRPC, ProtocolRPC1)
	if err != nil {
		return nil, err
	}
	if st.Protocol() != ProtocolRPC {
		st.Reset()
		return nil, nil
	}
	if dl, ok := ctx.Deadline(); ok {
		st.SetReadDeadline(dl)
	}
	if _, err := st.Read(nil); err != nil {
		st.Reset()
		return nil, nil
	}
	st.SetReadDeadline(time.Time{})
	return st, nil
}

// runFramed runs the client side of a framed session on st: it reads
// replies and hands each to the call waiting for it.
func (h *Host) runFramed(s *session, st network.Stream) error {
	fr := newFrameReader(st, h.limits.maxFrame(), h.limits.MessageTimeout)
	for {
		n, err := fr.next()
		if err != nil {
			return err
		}
		b, err := fr.body(n)
		if err != nil {
			return err
		}
		var r wire.Reply
		if err := wire.DecodeReply(b, &r); err != nil {
			return err
		}
		s.deliver(&r)
	}
}

// deliver hands r to the call waiting for it, if one still is.
func (s *session) deliver(r *wire.Reply) {
	s.mu.Lock()
	ch, ok := s.pending[r.ID]
	delete(s.pending, r.ID)
	s.mu.Unlock()
	if ok {
		ch <- *r
	}
}

// replyChans are the channels calls wait on, reused: a channel goes back
// only once nothing more can be sent on it.
var replyChans = sync.Pool{New: func() any { return make(chan wire.Reply, 1) }}

// serverSession is the server side of one framed session.
type serverSession struct {
	s    *server
	st   network.Stream
	from peer.ID
	ctx  context.Context
	w    *frameWriter

	places chan struct{} // calls and replies outstanding, at most MaxQueuedReplies
	wg     sync.WaitGroup

	mu      sync.Mutex
	cancels map[uint64]context.CancelFunc

	// names interns targets and methods: a session sends the same few
	// again and again, and a string for each would be two allocations a call.
	names map[string]string
}

// maxInterned bounds the names a session keeps, against a peer that sends
// a new one with every call.
const maxInterned = 64

func (ss *serverSession) intern(b []byte) string {
	if s, ok := ss.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(ss.names) < maxInterned {
		ss.names[s] = s
	}
	return s
}

// serveSession answers one ProtocolRPC stream. It holds to the same limits
// as a gorpc session (see rpcService.Session): a call is admitted and its
// request memory charged before its payload is read, holds its place until
// its reply has gone, and a session holds at most MaxQueuedReplies calls
// and replies, past which it reads no more.
func (s *server) serveSession(st network.Stream) {
	limits := s.h.limits
	from := st.Conn().RemotePeer()
	ctx, stop := context.WithCancel(s.h.ctx)
	defer stop()
	ss := &serverSession{
		s: s, st: st, from: from, ctx: ctx,
		w:       newFrameWriter(st, limits.MessageTimeout),
		places:  make(chan struct{}, limits.MaxQueuedReplies),
		cancels: map[uint64]context.CancelFunc{},
		names:   map[string]string{},
	}
	// The host closing ends every session.
	unhook := context.AfterFunc(ctx, func() { st.Reset() })
	err := ss.read(newFrameReader(st, limits.maxFrame(), limits.MessageTimeout))
	stop()
	ss.wg.Wait()
	unhook()
	switch {
	case err == nil || errors.Is(err, io.EOF):
		st.Close()
		return
	case isOffence(err), errors.Is(err, errTrickled):
		s.h.offenders.punish(from, err)
	}
	st.Reset()
}

// read reads calls until the stream or the session ends.
func (ss *serverSession) read(fr *frameReader) error {
	for {
		select {
		case ss.places <- struct{}{}:
		case <-ss.ctx.Done():
			return nil
		}
		n, err := fr.next()
		if err != nil {
			return err
		}
		// The call is admitted before its payload is read, and its size
		// charged: a refused call's bytes are passed over, not kept.
		call := &serverCall{ss: ss, res: reservation{s: ss.s, p: ss.from}}
		refused := ss.s.enter(ss.from)
		if refused == nil {
			if refused = call.res.grow(int64(n)); refused != nil {
				ss.s.leave(ss.from)
			}
		}
		if refused != nil {
			id, err := fr.peekID(n)
			if err == nil {
				err = fr.skip(n)
			}
			if err != nil {
				return err
			}
			ss.wg.Add(1)
			go func() {
				defer ss.wg.Done()
				ss.reply(&wire.Reply{ID: id, Code: uint32(refused.Code), Message: refused.Message})
				<-ss.places
			}()
			continue
		}
		b, err := fr.body(n)
		if err != nil {
			call.release()
			return err
		}
		var c wire.RawCall
		if err := wire.DecodeCall(b, &c); err != nil {
			call.release()
			return &protocolError{err}
		}
		if c.Kind == wire.KindCancel {
			call.release()
			ss.mu.Lock()
			if cancel, ok := ss.cancels[c.ID]; ok {
				cancel()
			}
			ss.mu.Unlock()
			<-ss.places
			continue
		}
		call.id, call.timeout = c.ID, time.Duration(c.Timeout)
		call.req = Request{Peer: ss.from, Target: ss.intern(c.Target), Method: ss.intern(c.Method), Payload: c.Payload}
		call.ctx, call.cancel = context.WithCancel(ss.ctx)
		ss.mu.Lock()
		ss.cancels[c.ID] = call.cancel
		ss.mu.Unlock()
		ss.wg.Add(1)
		ss.s.workers.run(call)
	}
}

// serverCall is one call of a session, with all it holds until its reply
// has gone, in one allocation.
type serverCall struct {
	ss      *serverSession
	id      uint64
	timeout time.Duration
	req     Request
	res     reservation
	ctx     context.Context
	cancel  context.CancelFunc
}

// release gives back the call's place and request memory.
func (c *serverCall) release() {
	c.res.release()
	c.ss.s.leave(c.ss.from)
}

func (c *serverCall) run() {
	ss := c.ss
	defer ss.wg.Done()
	resp := ss.s.call(c.ctx, &c.req, c.timeout)
	ss.mu.Lock()
	delete(ss.cancels, c.id)
	ss.mu.Unlock()
	c.cancel()
	reply := wire.Reply{ID: c.id, Code: uint32(resp.Code), Message: resp.Message}
	payload := resp.Payload
	if len(payload) > ss.s.h.limits.MaxInlineMessage {
		reply.Token, reply.Size = ss.s.h.bodies.put(ss.from, payload), int64(len(payload))
		payload = nil
	}
	reply.Payload = payload
	ss.reply(&reply)
	c.release()
	<-ss.places
}

// reply writes one reply; a peer that does not take it in time has its
// session cut, and a stall counted against it.
func (ss *serverSession) reply(r *wire.Reply) {
	if err := ss.w.writeReply(r); err != nil {
		ss.st.Reset()
		if isTimeout(err) {
			ss.s.h.offenders.stalled(ss.from, fmt.Errorf("replies not taken within %v: %w", ss.s.h.limits.MessageTimeout, err))
		}
	}
}

// workers run calls on goroutines kept from call to call. A goroutine
// starts with a small stack, and a handler that decodes CBOR grows it,
// copying it several times: that was a quarter of a typed call's time on
// the server. A call goes to a worker waiting for one, or to a new one.
type workers struct {
	calls  chan *serverCall
	closed <-chan struct{} // the host's end, which ends idle workers too
}

// workerIdle is how long a worker waits for another call before it ends.
const workerIdle = 10 * time.Second

func newWorkers(closed <-chan struct{}) *workers {
	return &workers{calls: make(chan *serverCall), closed: closed}
}

func (w *workers) run(c *serverCall) {
	select {
	case w.calls <- c:
	default:
		go w.loop(c)
	}
}

func (w *workers) loop(c *serverCall) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		c.run()
		c = nil
		idle.Reset(workerIdle)
		select {
		case c = <-w.calls:
		case <-idle.C:
			return
		case <-w.closed:
			return
		}
	}
}
