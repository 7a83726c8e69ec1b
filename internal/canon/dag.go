package canon

import (
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/ipfs/go-cid"
)

// DAG-CBOR is the subset of deterministic CBOR that IPFS reads as a node of
// a DAG: the same map order and shortest integers, floats always in 64 bits,
// and tag 42 as the only tag, for links to other nodes. Manifests and specs
// are written in it so that an IPFS node can follow a bundle's links to its
// parts.

var dagEncMode = mustDAGEncMode()

func mustDAGEncMode() cbor.EncMode {
	opts := cbor.CoreDetEncOptions()
	// Length-first is the order DAG-CBOR names; for text keys it is the
	// same as core deterministic encoding's bytewise order.
	opts.Sort = cbor.SortLengthFirst
	opts.ShortestFloat = cbor.ShortestFloatNone
	opts.Time = cbor.TimeRFC3339Nano
	opts.TimeTag = cbor.EncTagNone
	opts.TagsMd = cbor.TagsAllowed // for Link's tag 42 alone: the DAG decoder refuses every other
	opts.NilContainers = cbor.NilContainerAsEmpty
	em, err := opts.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}

// MarshalDAG encodes v as DAG-CBOR. Floats must be float64: a float32
// would be written in 32 bits, which DAG-CBOR does not allow.
func MarshalDAG(v any) ([]byte, error) { return dagEncMode.Marshal(v) }

// NewDAGDecoder returns a strict decoder of DAG-CBOR with the given limits;
// zero fields take the values of DefaultLimits. Its UnmarshalExact accepts
// only what MarshalDAG writes again, with no tag but links.
func NewDAGDecoder(l Limits) *Decoder { return newDecoder(l, true) }

// ErrTag reports a tag other than a link in DAG-CBOR, or a link that is not one.
var ErrTag = errors.New("cbor tag other than a cid link")

// linkTag is the CBOR tag of a CID link in DAG-CBOR.
const linkTag = 42

// Link is a CID link: in DAG-CBOR, tag 42 around a byte string holding a
// zero byte (the identity multibase) and the CID's binary form.
type Link struct{ Cid cid.Cid }

// MarshalCBOR writes the link as DAG-CBOR does; an undefined CID is an
// error, as a link must name something.
func (l Link) MarshalCBOR() ([]byte, error) {
	if !l.Cid.Defined() {
		return nil, errors.New("link to an undefined cid")
	}
	return dagEncMode.Marshal(cbor.Tag{Number: linkTag, Content: append([]byte{0}, l.Cid.Bytes()...)})
}

// UnmarshalCBOR reads a link, refusing anything but tag 42 around a byte
// string of a zero byte and one whole CID.
func (l *Link) UnmarshalCBOR(b []byte) error {
	var t cbor.RawTag
	if err := t.UnmarshalCBOR(b); err != nil {
		return err
	}
	if t.Number != linkTag {
		return fmt.Errorf("%w: tag %d where a link belongs", ErrTag, t.Number)
	}
	var body []byte
	if err := cbor.Unmarshal(t.Content, &body); err != nil {
		return fmt.Errorf("%w: %w", ErrTag, err)
	}
	c, err := linkCid(body)
	if err != nil {
		return err
	}
	l.Cid = c
	return nil
}

func linkCid(body []byte) (cid.Cid, error) {
	if len(body) < 2 || body[0] != 0 {
		return cid.Undef, fmt.Errorf("%w: link is not a zero byte and a cid", ErrTag)
	}
	n, c, err := cid.CidFromBytes(body[1:])
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: link: %w", ErrTag, err)
	}
	if n != len(body)-1 {
		return cid.Undef, fmt.Errorf("%w: link has bytes after its cid", ErrTag)
	}
	return c, nil
}

// onlyLinks walks a generically decoded value and refuses every tag but
// well-formed links; a decoder that is not DAG-CBOR forbids tags outright.
func (d *Decoder) onlyLinks(v any) error {
	if !d.dag {
		return nil
	}
	switch v := v.(type) {
	case big.Int, *big.Int, time.Time: // what tags 0 to 3 decode to
		return fmt.Errorf("%w: %T", ErrTag, v)
	case cbor.Tag:
		if v.Number != linkTag {
			return fmt.Errorf("%w: tag %d", ErrTag, v.Number)
		}
		body, ok := v.Content.([]byte)
		if !ok {
			return fmt.Errorf("%w: link content is not a byte string", ErrTag)
		}
		_, err := linkCid(body)
		return err
	case []any:
		for _, e := range v {
			if err := d.onlyLinks(e); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, e := range v {
			if err := d.onlyLinks(e); err != nil {
				return err
			}
		}
	}
	return nil
}
