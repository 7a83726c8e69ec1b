package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// msgpackScanner finds where msgpack objects begin and end in a byte stream
// without decoding them, so that a stream can be held to a size and a time
// per object before gorpc's decoder, which has neither, sees the bytes.
type msgpackScanner struct {
	max int64 // largest object allowed, in bytes

	inObject bool
	size     int64  // bytes of the current object so far
	pending  uint64 // values still to read in the current object
	skip     uint64 // payload bytes of a string, binary or extension still to pass
	header   [9]byte
	have     int // bytes of header collected
	need     int // bytes of header wanted
}

var errMsgpackInvalid = errors.New("invalid msgpack")

// errObjectTooLarge is returned when one message is larger than allowed.
var errObjectTooLarge = errors.New("message too large")

// feed scans p; it returns how many objects ended in it.
func (s *msgpackScanner) feed(p []byte) (ended int, err error) {
	for len(p) > 0 {
		if !s.inObject {
			s.inObject, s.size, s.pending = true, 0, 1
		}
		switch {
		case s.skip > 0:
			n := uint64(len(p))
			if n > s.skip {
				n = s.skip
			}
			s.skip -= n
			s.size += int64(n)
			p = p[n:]
			if s.skip == 0 {
				s.valueDone()
			}
		case s.have < s.need:
			n := copy(s.header[s.have:s.need], p)
			s.have += n
			s.size += int64(n)
			p = p[n:]
			if s.have == s.need {
				if err := s.headerDone(); err != nil {
					return ended, err
				}
			}
		default:
			s.header[0] = p[0]
			s.have, s.need = 1, 1+extraHeader(p[0])
			s.size++
			p = p[1:]
			if s.need == 1 {
				if err := s.headerDone(); err != nil {
					return ended, err
				}
			}
		}
		if s.size > s.max {
			return ended, fmt.Errorf("%w: over %d bytes", errObjectTooLarge, s.max)
		}
		if s.inObject && s.pending == 0 && s.skip == 0 && s.have == s.need {
			s.inObject = false
			s.have, s.need = 0, 0
			ended++
		}
	}
	return ended, nil
}

// extraHeader is how many bytes follow a type byte before the payload.
func extraHeader(b byte) int {
	switch {
	case b <= 0x7f, b >= 0xe0, b >= 0x80 && b <= 0xbf, b == 0xc0, b == 0xc1, b == 0xc2, b == 0xc3:
		return 0
	}
	switch b {
	case 0xc4, 0xcc, 0xd0, 0xd9:
		return 1
	case 0xc5, 0xcd, 0xd1, 0xda, 0xdc, 0xde:
		return 2
	case 0xc6, 0xca, 0xce, 0xd2, 0xdb, 0xdd, 0xdf:
		return 4
	case 0xcb, 0xcf, 0xd3:
		return 8
	case 0xc7:
		return 2 // length, type
	case 0xc8:
		return 3
	case 0xc9:
		return 5
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return 1 // type; the fixed payload is skipped
	}
	return 0
}

// headerDone acts on a complete value header.
func (s *msgpackScanner) headerDone() error {
	h := s.header[:s.need]
	b := h[0]
	var children, payload uint64
	switch {
	case b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3:
	case b >= 0x80 && b <= 0x8f:
		children = 2 * uint64(b&0x0f)
	case b >= 0x90 && b <= 0x9f:
		children = uint64(b & 0x0f)
	case b >= 0xa0 && b <= 0xbf:
		payload = uint64(b & 0x1f)
	case b == 0xc1:
		return errMsgpackInvalid
	case b == 0xc4 || b == 0xd9:
		payload = uint64(h[1])
	case b == 0xc5 || b == 0xda:
		payload = uint64(binary.BigEndian.Uint16(h[1:]))
	case b == 0xc6 || b == 0xdb:
		payload = uint64(binary.BigEndian.Uint32(h[1:]))
	case b == 0xc7:
		payload = uint64(h[1])
	case b == 0xc8:
		payload = uint64(binary.BigEndian.Uint16(h[1:]))
	case b == 0xc9:
		payload = uint64(binary.BigEndian.Uint32(h[1:]))
	case b >= 0xd4 && b <= 0xd8:
		payload = 1 << (b - 0xd4)
	case b == 0xdc:
		children = uint64(binary.BigEndian.Uint16(h[1:]))
	case b == 0xdd:
		children = uint64(binary.BigEndian.Uint32(h[1:]))
	case b == 0xde:
		children = 2 * uint64(binary.BigEndian.Uint16(h[1:]))
	case b == 0xdf:
		children = 2 * uint64(binary.BigEndian.Uint32(h[1:]))
	}
	// Each child takes at least a byte: a count past the size limit cannot be honest.
	if children > uint64(s.max) || payload > uint64(s.max) {
		return fmt.Errorf("%w: announces %d elements or %d bytes", errObjectTooLarge, children, payload)
	}
	s.pending += children
	s.skip = payload
	if payload == 0 {
		s.valueDone()
	}
	return nil
}

func (s *msgpackScanner) valueDone() {
	s.pending--
	s.have, s.need = 0, 0
}
