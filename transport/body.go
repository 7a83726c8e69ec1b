package transport

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/codes"
	"github.com/papi-dev/papi/internal/wire"
)

// Bodies of 1 MiB and more skip gorpc's codec: a ProtocolBody stream carries
// a small CBOR header behind its uvarint length, then raw bytes.

const maxBodyHeader = 4096

var bodyHeaderDecoder = canon.NewDecoder(canon.Limits{MaxBytes: maxBodyHeader, MaxDepth: 2, MaxElements: 8})

// bodyChunk is the least a request body's buffer grows by, and is charged
// to the request memory budget, as its bytes arrive.
const bodyChunk = 1 << 20

func writeFrame(w io.Writer, v any) error {
	b, err := canon.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := w.Write(binary.AppendUvarint(nil, uint64(len(b)))); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func readFrame(r *bufio.Reader, v any) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	if n > maxBodyHeader {
		return &protocolError{fmt.Errorf("header of %d bytes, limit %d", n, maxBodyHeader)}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	if err := bodyHeaderDecoder.Unmarshal(b, v); err != nil {
		return &protocolError{err}
	}
	return nil
}

// serveBody answers one ProtocolBody stream.
func (s *server) serveBody(st network.Stream) {
	defer st.Close()
	limits := s.h.limits
	st.SetReadDeadline(time.Now().Add(limits.MessageTimeout))
	r := bufio.NewReader(st)
	var hdr wire.BodyHeader
	if err := readFrame(r, &hdr); err != nil {
		st.Reset()
		if isOffence(err) {
			s.h.offenders.punish(st.Conn().RemotePeer(), err)
		}
		return
	}
	from := st.Conn().RemotePeer()
	paced := &pacedWriter{s: st, limits: limits}
	w := bufio.NewWriterSize(paced, 256<<10)
	reply := func(resp *Response) {
		paced.begin()
		err := writeFrame(w, wire.BodyReply{Code: uint32(resp.Code), Message: resp.Message, Size: int64(len(resp.Payload))})
		if err == nil {
			err = w.Flush()
		}
		if err == nil { // straight to the stream: no copy through the buffer
			_, err = paced.Write(resp.Payload)
		}
		if err != nil {
			st.Reset()
			if paced.stalled() {
				s.h.offenders.stalled(from, fmt.Errorf("answer not taken at %d bytes/s: %w", limits.MinRate, err))
			}
		}
	}
	if hdr.Token != nil {
		b, ok := s.h.bodies.take(from, hdr.Token)
		if !ok {
			reply(errResponse(codes.NotFound, "no response body under that token (expired?)"))
			return
		}
		reply(&Response{Payload: b})
		return
	}
	if hdr.Size < 0 || hdr.Size > limits.MaxRequestBytes {
		reply(errResponse(codes.ResourceExhausted, "request of %d bytes, limit %d", hdr.Size, limits.MaxRequestBytes))
		return
	}
	res := &reservation{s: s, p: from, large: true}
	defer res.release()
	payload, refused, err := s.receive(st, r, res, hdr.Size)
	if refused != nil {
		reply(refused)
		return
	}
	if err != nil {
		st.Reset()
		if isTimeout(err) {
			s.h.offenders.stalled(from, fmt.Errorf("request body sent below %d bytes/s: %w", limits.MinRate, err))
		}
		return
	}
	// The caller going away cancels the call, as on a session.
	ctx, cancel := context.WithCancel(s.h.ctx)
	defer cancel()
	go func() {
		var b [1]byte
		if _, err := r.Read(b[:]); err != nil {
			cancel()
		}
	}()
	reply(s.run(ctx, &Request{Peer: from, Target: hdr.Target, Method: hdr.Method, Payload: payload}, time.Duration(hdr.Timeout)))
}

// receive reads a request body of size bytes from st. The body is charged
// to res as its bytes arrive, a chunk at a time, not as announced: a peer
// that announces much and sends little holds little. A body that arrives
// slower than MinRate once StallGrace has passed fails with a timeout.
func (s *server) receive(st network.Stream, r io.Reader, res *reservation, size int64) ([]byte, *Response, error) {
	limits := s.h.limits
	start := time.Now()
	var buf []byte
	for int64(len(buf)) < size {
		if len(buf) == cap(buf) {
			grown := min(size, max(2*int64(cap(buf)), bodyChunk))
			if refused := res.grow(grown - int64(cap(buf))); refused != nil {
				return nil, refused, nil
			}
			next := make([]byte, len(buf), grown)
			copy(next, buf)
			buf = next
		}
		st.SetReadDeadline(limits.stallDeadline(start, int64(len(buf))))
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, err
		}
	}
	st.SetReadDeadline(time.Time{})
	return buf, nil, nil
}

// bodyStore keeps large responses until their caller fetches them.
type bodyStore struct {
	mu      sync.Mutex
	bodies  map[string]*heldBody
	total   int64
	maxHeld int64
}

type heldBody struct {
	peer  peer.ID
	data  []byte
	timer *time.Timer
}

// bodyHoldTime is how long a large response waits for its caller.
const bodyHoldTime = time.Minute

func newBodyStore() *bodyStore {
	return &bodyStore{bodies: map[string]*heldBody{}, maxHeld: 1 << 30}
}

// put holds b for p and returns the token to fetch it by. Past the memory
// bound, the oldest held bodies are not evicted: the caller of this one
// will find it missing and get NotFound, which is better than a server that
// holds without end.
func (bs *bodyStore) put(p peer.ID, b []byte) []byte {
	token := make([]byte, 16)
	rand.Read(token)
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.total+int64(len(b)) > bs.maxHeld {
		return token
	}
	key := string(token)
	bs.total += int64(len(b))
	bs.bodies[key] = &heldBody{peer: p, data: b, timer: time.AfterFunc(bodyHoldTime, func() { bs.take(p, token) })}
	return token
}

// take removes and returns the body held for p under token.
func (bs *bodyStore) take(p peer.ID, token []byte) ([]byte, bool) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	hb, ok := bs.bodies[string(token)]
	if !ok || hb.peer != p {
		return nil, false
	}
	delete(bs.bodies, string(token))
	hb.timer.Stop()
	bs.total -= int64(len(hb.data))
	return hb.data, true
}

// bodyCall runs a call, or fetches a held response, over a ProtocolBody stream.
func (h *Host) bodyCall(ctx context.Context, p peer.ID, hdr wire.BodyHeader, payload []byte) ([]byte, error) {
	st, err := h.h.NewStream(overRelays(ctx), p, ProtocolBody)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	// Write while reading: a server that refuses the request answers before
	// reading it, and the answer must not wait behind a body nobody reads.
	written := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(st, 256<<10)
		err := writeFrame(w, hdr)
		if err == nil {
			err = w.Flush()
		}
		if err == nil {
			_, err = st.Write(payload)
		}
		written <- err
	}()
	r := bufio.NewReaderSize(st, 256<<10)
	var rep wire.BodyReply
	if err := readFrame(r, &rep); err != nil {
		st.Reset()
		if werr := <-written; werr != nil {
			err = werr
		}
		return nil, h.streamErr(ctx, err)
	}
	select {
	case <-written:
	default: // answered before the body was all sent: the rest is not wanted
		st.Reset()
		<-written
	}
	if rep.Size < 0 || rep.Size > h.limits.MaxResponseBytes {
		st.Reset()
		return nil, &RemoteError{Code: codes.ResourceExhausted, Message: fmt.Sprintf("response of %d bytes, limit %d", rep.Size, h.limits.MaxResponseBytes)}
	}
	body := make([]byte, rep.Size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, h.streamErr(ctx, err)
	}
	if rep.Code != uint32(codes.OK) {
		if err := deadlinePassed(ctx); err != nil {
			return nil, err
		}
		return nil, &RemoteError{Code: codes.Code(rep.Code), Message: rep.Message, Payload: body}
	}
	return body, nil
}

// streamErr says why a stream failed: the caller's context, or the peer.
func (h *Host) streamErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
