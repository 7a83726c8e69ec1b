package wire

import (
	"encoding/binary"
	"errors"
	"math"
)

// The framed session protocol (papi's RPC protocol 2) carries the same Call
// and Reply messages as the gorpc one, written by hand rather than by a
// reflective codec: a call costs a few bytes of header and no allocation to
// encode, and a decoder reads a frame whose size it knows before it reads
// a byte of it.
//
// A frame is a uvarint length, then that many bytes:
//
//	call:  kind byte, id uvarint, timeout uvarint, target, method, payload
//	reply: id uvarint, code uvarint, message, token, size uvarint, payload
//
// where target, method, message and token are a uvarint length and that
// many bytes, and the payload is the rest of the frame.

// ErrMalformed reports a frame that does not decode.
var ErrMalformed = errors.New("malformed frame")

// MaxFrameHeader bounds what a frame carries besides its payload, so a
// reader can size a frame's limit from its payload limit.
const MaxFrameHeader = 4096

// RawCall is a Call decoded in place: its byte slices alias the frame.
type RawCall struct {
	ID      uint64
	Kind    uint8
	Timeout int64
	Target  []byte
	Method  []byte
	Payload []byte
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendBytes(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendCallHeader appends the frame of c up to its payload, which the
// caller writes after it: len(c.Payload) is counted in the frame's length,
// and c.Payload itself is not appended, so a large payload is not copied.
func AppendCallHeader(dst []byte, c *Call) []byte {
	n := 1 + uvarintLen(c.ID) + uvarintLen(uint64(c.Timeout)) +
		uvarintLen(uint64(len(c.Target))) + len(c.Target) +
		uvarintLen(uint64(len(c.Method))) + len(c.Method) + len(c.Payload)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, c.Kind)
	dst = binary.AppendUvarint(dst, c.ID)
	dst = binary.AppendUvarint(dst, uint64(max(c.Timeout, 0)))
	dst = appendBytes(dst, c.Target)
	return appendBytes(dst, c.Method)
}

// AppendReplyHeader is AppendCallHeader for a Reply.
func AppendReplyHeader(dst []byte, r *Reply) []byte {
	n := uvarintLen(r.ID) + uvarintLen(uint64(r.Code)) +
		uvarintLen(uint64(len(r.Message))) + len(r.Message) +
		uvarintLen(uint64(len(r.Token))) + len(r.Token) +
		uvarintLen(uint64(max(r.Size, 0))) + len(r.Payload)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = binary.AppendUvarint(dst, r.ID)
	dst = binary.AppendUvarint(dst, uint64(r.Code))
	dst = appendBytes(dst, r.Message)
	dst = binary.AppendUvarint(dst, uint64(len(r.Token)))
	dst = append(dst, r.Token...)
	return binary.AppendUvarint(dst, uint64(max(r.Size, 0)))
}

// frameReader takes a frame apart; the first failure sticks.
type frameReader struct {
	b   []byte
	bad bool
}

func (f *frameReader) uvarint() uint64 {
	v, n := binary.Uvarint(f.b)
	if n <= 0 {
		f.bad = true
		f.b = nil
		return 0
	}
	f.b = f.b[n:]
	return v
}

func (f *frameReader) bytes() []byte {
	n := f.uvarint()
	if f.bad || n > uint64(len(f.b)) {
		f.bad = true
		f.b = nil
		return nil
	}
	out := f.b[:n:n]
	f.b = f.b[n:]
	return out
}

// DecodeCall decodes a call frame's body (without its length) into c,
// whose slices then alias b.
func DecodeCall(b []byte, c *RawCall) error {
	if len(b) == 0 {
		return ErrMalformed
	}
	f := frameReader{b: b[1:]}
	c.Kind = b[0]
	c.ID = f.uvarint()
	timeout := f.uvarint()
	c.Target = f.bytes()
	c.Method = f.bytes()
	if f.bad || timeout > math.MaxInt64 || c.Kind > KindCancel {
		return ErrMalformed
	}
	c.Timeout = int64(timeout)
	c.Payload = f.b
	if len(c.Payload) == 0 {
		c.Payload = nil
	}
	return nil
}

// DecodeReply decodes a reply frame's body (without its length) into r,
// whose Payload and Token then alias b.
func DecodeReply(b []byte, r *Reply) error {
	f := frameReader{b: b}
	r.ID = f.uvarint()
	code := f.uvarint()
	msg := f.bytes()
	r.Token = f.bytes()
	size := f.uvarint()
	if f.bad || code > math.MaxUint32 || size > math.MaxInt64 {
		return ErrMalformed
	}
	r.Code, r.Size = uint32(code), int64(size)
	r.Message = ""
	if len(msg) > 0 {
		r.Message = string(msg)
	}
	if len(r.Token) == 0 {
		r.Token = nil
	}
	r.Payload = f.b
	if len(r.Payload) == 0 {
		r.Payload = nil
	}
	return nil
}
