// Package canon holds the one CBOR encoding every papi hash depends on:
// RFC 8949 core deterministic encoding, and a strict decoder with explicit
// limits for bytes that arrive from other peers.
package canon

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// Limits bound what a decoder accepts, so that input from an untrusted peer
// cannot make it allocate or recurse without bound.
type Limits struct {
	MaxBytes    int // whole input
	MaxDepth    int // nesting of arrays and maps
	MaxElements int // elements of one array, pairs of one map
}

// DefaultLimits fit manifests, specs and call payloads.
var DefaultLimits = Limits{MaxBytes: 16 << 20, MaxDepth: 32, MaxElements: 1 << 20}

var encMode = mustEncMode()

func mustEncMode() cbor.EncMode {
	opts := cbor.CoreDetEncOptions()
	// Times become RFC 3339 text so that no tag is needed on the wire: the
	// decoder forbids tags, and the spec describes a time as a date-time string.
	opts.Time = cbor.TimeRFC3339Nano
	opts.TimeTag = cbor.EncTagNone
	opts.TagsMd = cbor.TagsForbidden
	// A nil slice or map is sent as an empty one, so the spec can say
	// "array" and "object" without "or null" for every field of those kinds.
	opts.NilContainers = cbor.NilContainerAsEmpty
	em, err := opts.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}

// Decoder is a strict CBOR decoder with fixed limits.
type Decoder struct {
	mode   cbor.DecMode
	limits Limits
	enc    cbor.EncMode // what UnmarshalExact compares against
	dag    bool         // DAG-CBOR: links are the only tags
}

// NewDecoder returns a strict decoder with the given limits; zero fields take
// the values of DefaultLimits.
func NewDecoder(l Limits) *Decoder { return newDecoder(l, false) }

func newDecoder(l Limits, dag bool) *Decoder {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	maxElems := max(l.MaxElements, 16) // the library's own floor
	tags, enc := cbor.TagsForbidden, encMode
	if dag {
		tags, enc = cbor.TagsAllowed, dagEncMode
	}
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   max(l.MaxDepth, 4),
		MaxArrayElements:  maxElems,
		MaxMapPairs:       maxElems,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            tags,
		UTF8:              cbor.UTF8RejectInvalid,
		NaN:               cbor.NaNDecodeForbidden,
		Inf:               cbor.InfDecodeForbidden,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
		DefaultMapType:    reflect.TypeOf(map[string]any(nil)),
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return &Decoder{mode: dm, limits: l, enc: enc, dag: dag}
}

var defaultDecoder = NewDecoder(DefaultLimits)

// Errors a decoder reports; wrapped with detail.
var (
	ErrTooLarge     = errors.New("cbor input too large")
	ErrNonCanonical = errors.New("cbor input is not in core deterministic encoding")
	ErrMalformed    = errors.New("malformed cbor")
)

// Marshal encodes v in core deterministic encoding.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// Unmarshal decodes data into v with DefaultLimits; it does not require
// canonical input. Use Decoder.UnmarshalCanonical where a hash depends on the bytes.
func Unmarshal(data []byte, v any) error { return defaultDecoder.Unmarshal(data, v) }

// UnmarshalCanonical decodes data into v with DefaultLimits and rejects
// anything that would not re-encode to the same bytes.
func UnmarshalCanonical(data []byte, v any) error {
	return defaultDecoder.UnmarshalCanonical(data, v)
}

// Unmarshal decodes exactly one CBOR data item into v.
func (d *Decoder) Unmarshal(data []byte, v any) error {
	if len(data) > d.limits.MaxBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), d.limits.MaxBytes)
	}
	if err := d.mode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// UnmarshalCanonical decodes data into v and checks that the data is the
// canonical encoding of what it holds. The check is done on the generic form
// of the data, so a field that v does not know still counts against it.
func (d *Decoder) UnmarshalCanonical(data []byte, v any) error {
	if err := d.CheckCanonical(data); err != nil {
		return err
	}
	return d.Unmarshal(data, v)
}

// CheckCanonical reports whether data is one well-formed data item in core
// deterministic encoding, within the decoder's limits.
func (d *Decoder) CheckCanonical(data []byte) error {
	var generic any
	if err := d.Unmarshal(data, &generic); err != nil {
		return err
	}
	if err := d.onlyLinks(generic); err != nil {
		return err
	}
	again, err := d.enc.Marshal(generic)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !bytes.Equal(again, data) {
		return ErrNonCanonical
	}
	return nil
}

// UnmarshalExact decodes data into v, a pointer to a struct type whose
// encoding round-trips, and rejects data that is not exactly the encoding of
// the decoded value: non-canonical forms, and fields v does not know, which
// would otherwise be dropped silently while still counting in a hash.
func (d *Decoder) UnmarshalExact(data []byte, v any) error {
	if d.dag {
		// A tag inside a field of type any would re-encode as it came;
		// look at the generic form for tags other than links.
		var generic any
		if err := d.Unmarshal(data, &generic); err != nil {
			return err
		}
		if err := d.onlyLinks(generic); err != nil {
			return err
		}
	}
	if err := d.Unmarshal(data, v); err != nil {
		return err
	}
	again, err := d.enc.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !bytes.Equal(again, data) {
		return fmt.Errorf("%w (or has fields this version does not know)", ErrNonCanonical)
	}
	return nil
}
