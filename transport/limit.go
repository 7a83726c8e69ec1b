package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// limitedStream holds a gorpc stream to papi's limits before gorpc's codec
// reads from it: no message larger than the scanner's maximum, and once a
// message has begun, the whole of it within messageTimeout; and every write
// within messageTimeout too.
//
// Between messages a stream may stay idle: a session carries calls that may
// run for long, and the resource manager bounds how many streams a peer
// holds open.
type limitedStream struct {
	network.Stream
	scan           msgpackScanner
	messageTimeout time.Duration
	inMessage      bool
	offenders      *offenders
}

func (s *limitedStream) Read(p []byte) (int, error) {
	// Read no more than the current message may still hold, so that a
	// message announcing gigabytes costs at most its limit in memory.
	room := s.scan.max + 1
	if s.scan.inObject {
		room -= s.scan.size
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := s.Stream.Read(p)
	if n > 0 {
		if _, serr := s.scan.feed(p[:n]); serr != nil {
			s.Stream.Reset()
			s.offend(serr)
			return 0, serr
		}
		switch {
		case s.scan.inObject && !s.inMessage:
			s.inMessage = true
			s.Stream.SetReadDeadline(time.Now().Add(s.messageTimeout))
		case !s.scan.inObject && s.inMessage:
			s.inMessage = false
			s.Stream.SetReadDeadline(time.Time{})
		}
	}
	if err != nil && s.inMessage && isTimeout(err) {
		s.offend(fmt.Errorf("message not whole within %v: %w", s.messageTimeout, err))
	}
	return n, err
}

// Write sends within messageTimeout: a peer that stops taking what it is
// sent (replies, on a session it opened) has its stream cut rather than
// holding the writer, and what waits behind it, for ever.
func (s *limitedStream) Write(p []byte) (int, error) {
	s.Stream.SetWriteDeadline(time.Now().Add(s.messageTimeout))
	n, err := s.Stream.Write(p)
	if err != nil && isTimeout(err) && s.Stat().Direction == network.DirInbound {
		s.offenders.stalled(s.Conn().RemotePeer(), fmt.Errorf("replies not taken within %v: %w", s.messageTimeout, err))
	}
	return n, err
}

// offend bars the peer on the other end of a session it opened. A session
// this host opened failing is the caller's loss, not an attack on it; and a
// server configured for larger messages than this caller's is no offender.
func (s *limitedStream) offend(err error) {
	if s.Stat().Direction == network.DirInbound {
		s.offenders.punish(s.Conn().RemotePeer(), err)
	}
}

// pacedWriter writes an answer to a stream with a write deadline that
// moves with the bytes taken: StallGrace from the answer's start, then
// MinRate. A peer that stops reading is cut after StallGrace, whatever the
// answer's size, and a slow honest one is served.
type pacedWriter struct {
	s interface {
		io.Writer
		SetWriteDeadline(time.Time) error
	}
	limits  Limits
	start   time.Time
	written int64
	err     error // the first write that failed
}

// begin starts a new answer: its grace counts from now.
func (w *pacedWriter) begin() { w.start, w.written = time.Now(), 0 }

// pacedChunk is the most written under one deadline, so that the deadline
// of a large write moves as its bytes go.
const pacedChunk = 64 << 10

func (w *pacedWriter) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		w.s.SetWriteDeadline(w.limits.stallDeadline(w.start, w.written))
		n, err := w.s.Write(p[:min(len(p), pacedChunk)])
		w.written += int64(n)
		total += n
		p = p[n:]
		if err != nil {
			if w.err == nil {
				w.err = err
			}
			return total, err
		}
	}
	return total, nil
}

// stalled reports whether a write failed for the peer not taking it in time.
func (w *pacedWriter) stalled() bool { return w.err != nil && isTimeout(w.err) }

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// limitedHost is the host.Host gorpc is given: it wraps the streams of one
// protocol, inbound and outbound, in limitedStream.
type limitedHost struct {
	host.Host
	proto     protocol.ID
	limits    Limits
	offenders *offenders
}

func (h *limitedHost) wrap(s network.Stream) network.Stream {
	return &limitedStream{
		Stream:         s,
		scan:           msgpackScanner{max: int64(h.limits.MaxInlineMessage) + messageOverhead},
		messageTimeout: h.limits.MessageTimeout,
		offenders:      h.offenders,
	}
}

func (h *limitedHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	if pid != h.proto {
		h.Host.SetStreamHandler(pid, handler)
		return
	}
	h.Host.SetStreamHandler(pid, func(s network.Stream) { handler(h.wrap(s)) })
}

func (h *limitedHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(overRelays(ctx), p, pids...)
	if err != nil {
		return nil, err
	}
	if s.Protocol() == h.proto {
		return h.wrap(s), nil
	}
	return s, nil
}

// overRelays lets a stream run over a relayed connection. libp2p otherwise
// waits for a direct one, which a peer behind a NAT may never get: the relay
// is the only way to it. Relays cap what they carry (circuit relay v2 limits
// time and bytes per connection), so a large clone may be cut off there and
// go on from another provider; hole punching replaces the relayed connection
// with a direct one when it can.
func overRelays(ctx context.Context) context.Context {
	return network.WithAllowLimitedConn(ctx, "papi")
}
