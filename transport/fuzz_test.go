package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/ugorji/go/codec"

	"github.com/papi-dev/papi/internal/wire"
)

// Decoders of what other peers send on papi's own protocols. Each must
// return an error, never panic, and never allocate more than its limits
// allow. Seeds are committed under testdata/fuzz/<FuzzName>; run one for a
// minute with go test -run '^$' -fuzz '^FuzzDataRequests$' -fuzztime 1m ./transport/

// memSource is a dataset in memory.
type memSource struct {
	*bytes.Reader
	ob []byte
}

func (m memSource) Size() int64               { return m.Reader.Size() }
func (m memSource) Outboard() ([]byte, error) { return m.ob, nil }
func (m memSource) Close() error              { return nil }

// fakeConn feeds in to a data server and collects what it writes.
type fakeConn struct {
	io.Reader
	out bytes.Buffer
}

func (c *fakeConn) Write(p []byte) (int, error)     { return c.out.Write(p) }
func (c *fakeConn) SetReadDeadline(time.Time) error { return nil }

func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func dataRequest(kind byte, digest [32]byte, off, n uint64) []byte {
	b := append([]byte{kind}, digest[:]...)
	b = binary.AppendUvarint(b, off)
	return binary.AppendUvarint(b, n)
}

func FuzzDataRequests(f *testing.F) {
	var known [32]byte
	known[0] = 1
	f.Add(dataRequest(dataKindOutboard, known, 0, 0))
	f.Add(append(dataRequest(dataKindRange, known, 3, 100), dataRequest(dataKindRange, known, 0, 1<<62)...))
	f.Add(dataRequest(dataKindRange, [32]byte{}, 0, 10))
	f.Add(dataRequest(9, known, 0, 0))
	f.Add([]byte{dataKindRange, 1, 2})
	data := bytes.Repeat([]byte("papi"), 1000)
	lookup := func(d [32]byte) (DataSource, error) {
		if d != known {
			return nil, ErrDataNotFound
		}
		return memSource{Reader: bytes.NewReader(data), ob: []byte("outboard")}, nil
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &fakeConn{Reader: bytes.NewReader(in)}
		err := serveDataStream(t.Context(), c, Limits{}.withDefaults(), lookup)
		if err == nil {
			t.Fatal("a data stream ended without an error or EOF")
		}
		// Every byte sent is an answer to a request that was read: a
		// server never sends more than it holds, per request.
		if c.out.Len() > len(in)/34*(len(data)+16)+len(data) {
			t.Fatalf("answered %d bytes to %d bytes of requests", c.out.Len(), len(in))
		}
	})
}

func FuzzDataAnswers(f *testing.F) {
	ok := func(b []byte) []byte { return append(binary.AppendUvarint([]byte{dataStatusOK}, uint64(len(b))), b...) }
	f.Add(ok([]byte("12345678")), uint16(8))
	f.Add([]byte{dataStatusOK, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, uint16(8))
	f.Add([]byte{dataStatusNotFound, 0}, uint16(8))
	f.Add([]byte{7, 3, 1, 2, 3}, uint16(3))
	f.Fuzz(func(t *testing.T, in []byte, size uint16) {
		d := &DataStream{r: bufio.NewReader(bytes.NewReader(in)), w: bufio.NewWriter(io.Discard)}
		want := int(size % 4096)
		if ob, err := d.Outboard([32]byte{}, want); err == nil && len(ob) != want {
			t.Fatalf("outboard of %d bytes, asked for %d", len(ob), want)
		}
		dst := make([]byte, want)
		if err := d.ReadRange(dst); err == nil && d.r.Buffered() > len(in) {
			t.Fatal("read past the input")
		}
	})
}

func FuzzBodyFrames(f *testing.F) {
	var buf bytes.Buffer
	writeFrame(&buf, wire.BodyHeader{Size: 1 << 20})
	f.Add(buf.Bytes())
	buf.Reset()
	writeFrame(&buf, wire.BodyReply{Code: 3, Message: "bad", Size: 10})
	f.Add(buf.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		var h wire.BodyHeader
		readFrame(bufio.NewReader(bytes.NewReader(in)), &h)
		var r wire.BodyReply
		readFrame(bufio.NewReader(bytes.NewReader(in)), &r)
	})
}

// FuzzWireMessages decodes what the scanner lets through with the codec
// gorpc uses, as a session does.
func FuzzWireMessages(f *testing.F) {
	data, _ := sessionSample(f)
	f.Add(data)
	f.Fuzz(func(t *testing.T, in []byte) {
		s := msgpackScanner{max: 1 << 16}
		if _, err := s.feed(in); err != nil {
			return
		}
		// A server reads calls; a client reads replies.
		calls := codec.NewDecoderBytes(in, &codec.MsgpackHandle{})
		for range 8 {
			var c wire.Call
			if calls.Decode(&c) != nil {
				break
			}
		}
		replies := codec.NewDecoderBytes(in, &codec.MsgpackHandle{})
		for range 8 {
			var r wire.Reply
			if replies.Decode(&r) != nil {
				break
			}
		}
	})
}

// FuzzSessionFrames reads what a peer sends on a ProtocolRPC session as a
// server and as a client do: frames within the limit, decoded as calls and
// as replies. What decodes encodes back to what decodes the same.
func FuzzSessionFrames(f *testing.F) {
	var seed []byte
	for _, c := range []wire.Call{
		{ID: 1, Target: "bafkrei", Method: "Nearest", Payload: []byte{0xa1, 0x61, 'x', 1}},
		{ID: 2, Kind: wire.KindCancel},
		{ID: 1 << 40, Timeout: int64(time.Second), Method: "m"},
	} {
		seed = append(seed, callFrame(&c)...)
	}
	f.Add(seed)
	f.Add(append(wire.AppendReplyHeader(nil, &wire.Reply{ID: 7, Code: 3, Message: "bad", Payload: []byte("d")}), 'd'))
	f.Add(wire.AppendReplyHeader(nil, &wire.Reply{ID: 8, Token: make([]byte, 16), Size: 1 << 30}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := newFrameReader(&fakeConn{Reader: bytes.NewReader(in)}, 1<<16, time.Second)
		for range 8 {
			n, err := fr.next()
			if err != nil {
				return
			}
			if n > 1<<16 {
				t.Fatalf("frame of %d bytes past the limit", n)
			}
			b, err := fr.body(n)
			if err != nil {
				return
			}
			var c wire.RawCall
			if wire.DecodeCall(b, &c) == nil {
				again := wire.Call{ID: c.ID, Kind: c.Kind, Timeout: c.Timeout, Target: string(c.Target), Method: string(c.Method), Payload: c.Payload}
				frame := callFrame(&again)
				fr2 := newFrameReader(&fakeConn{Reader: bytes.NewReader(frame)}, 1<<16, time.Second)
				n2, err := fr2.next()
				if err != nil {
					t.Fatalf("a call re-encoded does not frame: %v", err)
				}
				b2, _ := fr2.body(n2)
				var c2 wire.RawCall
				if err := wire.DecodeCall(b2, &c2); err != nil || c2.ID != c.ID || c2.Kind != c.Kind || c2.Timeout != c.Timeout ||
					!bytes.Equal(c2.Target, c.Target) || !bytes.Equal(c2.Method, c.Method) || !bytes.Equal(c2.Payload, c.Payload) {
					t.Fatalf("call %+v re-encoded decodes as %+v, %v", c, c2, err)
				}
			}
			var r wire.Reply
			if wire.DecodeReply(b, &r) == nil {
				frame := append(wire.AppendReplyHeader(nil, &r), r.Payload...)
				var r2 wire.Reply
				n2, k := binary.Uvarint(frame)
				if k <= 0 || int(n2) != len(frame)-k || wire.DecodeReply(frame[k:], &r2) != nil ||
					r2.ID != r.ID || r2.Code != r.Code || r2.Message != r.Message || r2.Size != r.Size ||
					!bytes.Equal(r2.Token, r.Token) || !bytes.Equal(r2.Payload, r.Payload) {
					t.Fatalf("reply %+v re-encoded decodes as %+v", r, r2)
				}
			}
		}
	})
}
