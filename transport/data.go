package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/papi-dev/papi/internal/bandwidth"
)

// ProtocolData moves dataset bytes, outside gorpc's codec: outboard trees
// and byte ranges, raw on a stream, so a clone runs near stream speed.
//
// A stream carries requests one after another, and the answers come back in
// the same order, so a client may send the next request before reading the
// answer to the last. A request is a kind byte, a 32-byte digest and two
// uvarints (offset, length; zero for an outboard request). An answer is a
// status byte and a uvarint length, then that many bytes.
const ProtocolData protocol.ID = "/papi/data/1.0.0"

const (
	dataKindOutboard byte = 1
	dataKindRange    byte = 2

	dataStatusOK       byte = 0
	dataStatusNotFound byte = 1
	dataStatusBadRange byte = 2
	dataStatusFailed   byte = 3
)

// MaxDataRange bounds one range request, so a peer cannot make another
// hold a stream busy with one unbounded answer.
const MaxDataRange = 16 << 20

// DataSource is one dataset a peer seeds.
type DataSource interface {
	io.ReaderAt
	Size() int64
	Outboard() ([]byte, error)
	Close() error
}

// DataLookup finds the dataset with a digest among what a peer seeds; it
// returns ErrDataNotFound when the peer does not seed it.
type DataLookup func(digest [32]byte) (DataSource, error)

// ErrDataNotFound: the remote peer does not seed the dataset asked for.
var ErrDataNotFound = errors.New("dataset not seeded by this peer")

// dataIdleTimeout closes a data stream on which no request arrives: a
// client that stops asking gives its stream back.
const dataIdleTimeout = time.Minute

// SeedLimits bound the bandwidth a peer gives to others cloning from it, in
// bytes per second; zero means no limit. The resource manager bounds streams
// and memory; these bound the uplink, so that seeding does not starve the
// peer's calls or the rest of the machine.
type SeedLimits struct {
	Total   int64 // over every peer
	PerPeer int64 // to any one peer, over all its streams
}

// ServeData answers ProtocolData streams on h from lookup. The resource
// manager holds each peer to Limits.DataStreamsPerPeer streams and all to
// Limits.MaxDataStreams; an answer the peer does not take at Limits.MinRate
// past Limits.StallGrace cuts its stream.
func ServeData(h *Host, lookup DataLookup, limits SeedLimits) {
	total := bandwidth.New(limits.Total)
	perPeer := bandwidth.NewPerKey[peer.ID](limits.PerPeer)
	h.h.SetStreamHandler(ProtocolData, func(s network.Stream) {
		from := s.Conn().RemotePeer()
		mine, done := perPeer.Acquire(from)
		defer done()
		ctx, cancel := context.WithCancel(h.ctx)
		defer cancel()
		if err := serveDataStream(ctx, s, h.limits, lookup, total, mine); err != nil && !errors.Is(err, io.EOF) {
			h.log.Debug("papi: data stream ended", "peer", from.String(), "err", err)
			s.Reset()
			switch {
			case isOffence(err):
				h.offenders.punish(from, err)
			case errors.As(err, new(*stallError)):
				h.offenders.stalled(from, err)
			}
			return
		}
		s.Close()
	})
}

// stallError is an answer the peer did not take at MinRate.
type stallError struct{ err error }

func (e *stallError) Error() string { return "answer not taken: " + e.err.Error() }
func (e *stallError) Unwrap() error { return e.err }

// ioErrs remembers the error its reader returned, which tells a stream
// that failed from bytes that make no varint.
type ioErrs struct {
	r   io.ByteReader
	err error
}

func (b *ioErrs) ReadByte() (byte, error) {
	c, err := b.r.ReadByte()
	if err != nil {
		b.err = err
	}
	return c, err
}

// dataConn is what serving a data stream needs of it: a narrow interface,
// so that the request parser can be fuzzed without a network.
type dataConn interface {
	io.ReadWriter
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// serveDataStream answers the requests on one data stream until it ends.
// Waiting for the bandwidth limiters ends with ctx, and at most after
// dataIdleTimeout; writing an answer is paced by limits' MinRate.
func serveDataStream(ctx context.Context, s dataConn, limits Limits, lookup DataLookup, limiters ...*bandwidth.Limiter) (err error) {
	r := bufio.NewReader(s)
	paced := &pacedWriter{s: s, limits: limits}
	w := bufio.NewWriterSize(paced, 256<<10)
	defer func() {
		if err != nil && paced.stalled() {
			err = &stallError{err}
		}
	}()
	open := map[[32]byte]DataSource{}
	defer func() {
		for _, src := range open {
			src.Close()
		}
	}()
	var hdr [33]byte
	for {
		s.SetReadDeadline(time.Now().Add(dataIdleTimeout))
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		br := ioErrs{r: r}
		off, err := binary.ReadUvarint(&br)
		var n uint64
		if err == nil {
			n, err = binary.ReadUvarint(&br)
		}
		switch {
		case err != nil && br.err != nil: // the stream ended or stalled
			return err
		case err != nil: // a varint past 64 bits
			return &protocolError{fmt.Errorf("bad data request: %w", err)}
		}
		paced.begin()
		digest := [32]byte(hdr[1:])
		src, ok := open[digest]
		if !ok {
			var err error
			src, err = lookup(digest)
			if err != nil {
				if err := writeDataAnswer(w, dataStatusNotFound, nil); err != nil {
					return err
				}
				continue
			}
			open[digest] = src
		}
		switch hdr[0] {
		case dataKindOutboard:
			ob, err := src.Outboard()
			// The first request computes the outboard, reading the whole
			// dataset: the peer's grace to take the answer starts once the
			// answer is there.
			paced.begin()
			if err != nil {
				if err := writeDataAnswer(w, dataStatusFailed, nil); err != nil {
					return err
				}
				continue
			}
			if err := writeDataAnswer(w, dataStatusOK, ob); err != nil {
				return err
			}
		case dataKindRange:
			if n > MaxDataRange || off > uint64(src.Size()) || n > uint64(src.Size())-off {
				if err := writeDataAnswer(w, dataStatusBadRange, nil); err != nil {
					return err
				}
				continue
			}
			// Waiting for the rate before writing, at most dataIdleTimeout,
			// bounds how long a limited peer holds a stream.
			wctx, cancel := context.WithTimeout(ctx, dataIdleTimeout)
			err := bandwidth.Wait(wctx, int64(n), limiters...)
			cancel()
			if err != nil {
				return err
			}
			paced.begin()
			w.WriteByte(dataStatusOK)
			w.Write(binary.AppendUvarint(nil, n))
			if _, err := io.CopyN(w, io.NewSectionReader(src, int64(off), int64(n)), int64(n)); err != nil {
				return fmt.Errorf("read dataset: %w", err)
			}
			if r.Buffered() == 0 { // no request waiting: send what we have
				if err := w.Flush(); err != nil {
					return err
				}
			}
		default:
			return &protocolError{fmt.Errorf("bad data request kind %d", hdr[0])}
		}
	}
}

func writeDataAnswer(w *bufio.Writer, status byte, b []byte) error {
	w.WriteByte(status)
	w.Write(binary.AppendUvarint(nil, uint64(len(b))))
	w.Write(b)
	return w.Flush()
}

// DataStream is a client's stream to one peer for dataset bytes.
type DataStream struct {
	s network.Stream
	r *bufio.Reader
	w *bufio.Writer
}

// OpenData opens a data stream to p.
func OpenData(ctx context.Context, h host.Host, p peer.ID) (*DataStream, error) {
	s, err := h.NewStream(overRelays(ctx), p, ProtocolData)
	if err != nil {
		return nil, fmt.Errorf("%w: open data stream: %w", ErrUnavailable, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	}
	return &DataStream{s: s, r: bufio.NewReaderSize(s, 256<<10), w: bufio.NewWriter(s)}, nil
}

// Close closes the stream.
func (d *DataStream) Close() error { return d.s.Close() }

// Reset abandons the stream, for a peer that misbehaved.
func (d *DataStream) Reset() error { return d.s.Reset() }

// SetDeadline bounds the stream's next reads and writes.
func (d *DataStream) SetDeadline(t time.Time) error { return d.s.SetDeadline(t) }

func (d *DataStream) send(kind byte, digest [32]byte, off, n uint64) error {
	d.w.WriteByte(kind)
	d.w.Write(digest[:])
	d.w.Write(binary.AppendUvarint(nil, off))
	d.w.Write(binary.AppendUvarint(nil, n))
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("%w: data request: %w", ErrUnavailable, err)
	}
	return nil
}

// answer reads an answer's header and checks its length against want.
func (d *DataStream) answer(want func(n uint64) bool) (uint64, error) {
	status, err := d.r.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("%w: data answer: %w", ErrUnavailable, err)
	}
	n, err := binary.ReadUvarint(d.r)
	if err != nil {
		return 0, fmt.Errorf("%w: data answer: %w", ErrUnavailable, err)
	}
	switch status {
	case dataStatusOK:
	case dataStatusNotFound:
		return 0, ErrDataNotFound
	case dataStatusBadRange:
		return 0, errors.New("peer refused the range")
	default:
		return 0, fmt.Errorf("peer failed to read the dataset (status %d)", status)
	}
	if !want(n) {
		return 0, fmt.Errorf("peer answered %d bytes, not what was asked", n)
	}
	return n, nil
}

// Outboard fetches the outboard tree of a dataset, which must be exactly
// size bytes long (the caller knows its size from the manifest).
func (d *DataStream) Outboard(digest [32]byte, size int) ([]byte, error) {
	if err := d.send(dataKindOutboard, digest, 0, 0); err != nil {
		return nil, err
	}
	if _, err := d.answer(func(n uint64) bool { return n == uint64(size) }); err != nil {
		return nil, err
	}
	ob := make([]byte, size)
	if _, err := io.ReadFull(d.r, ob); err != nil {
		return nil, fmt.Errorf("%w: outboard: %w", ErrUnavailable, err)
	}
	return ob, nil
}

// RequestRange asks for length bytes of a dataset from offset. The answer
// is read by ReadRange; requests may be sent ahead of reads.
func (d *DataStream) RequestRange(digest [32]byte, offset, length int64) error {
	if length > MaxDataRange {
		return fmt.Errorf("range of %d bytes, limit %d", length, MaxDataRange)
	}
	return d.send(dataKindRange, digest, uint64(offset), uint64(length))
}

// ReadRange reads the answer to the oldest range request into dst, whose
// length must be that request's.
func (d *DataStream) ReadRange(dst []byte) error {
	if _, err := d.answer(func(n uint64) bool { return n == uint64(len(dst)) }); err != nil {
		return err
	}
	if _, err := io.ReadFull(d.r, dst); err != nil {
		return fmt.Errorf("%w: range: %w", ErrUnavailable, err)
	}
	return nil
}
