package papi

import (
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multicodec"
	mh "github.com/multiformats/go-multihash"
	"lukechampine.com/blake3"
)

// Hash is a content address: the BLAKE3 digest of some bytes, written as a
// CIDv1 string with a BLAKE3 multihash, so that it is also a valid IPFS and
// libp2p content key. The zero Hash is not a valid address.
//
// Hash values are comparable with ==.
type Hash struct {
	c cid.Cid
}

// Multicodecs of the parts papi names by hash: manifests and specs are
// DAG-CBOR documents (since manifest format 2; plain CBOR before), datasets
// are opaque bytes.
const (
	codecCBOR = uint64(multicodec.DagCbor)
	codecRaw  = uint64(multicodec.Raw)
)

// ErrInvalidHash is returned when text is not a papi content address.
var ErrInvalidHash = errors.New("invalid hash")

func newHash(codec uint64, digest [32]byte) Hash {
	m, err := mh.Encode(digest[:], mh.BLAKE3)
	if err != nil {
		panic(err) // a 32-byte BLAKE3 digest always encodes
	}
	return Hash{c: cid.NewCidV1(codec, m)}
}

func hashBytes(codec uint64, b []byte) Hash { return newHash(codec, blake3.Sum256(b)) }

// ParseHash parses a hash written by Hash.String. It accepts only CIDv1 with a
// 32-byte BLAKE3 multihash and a codec papi uses.
func ParseHash(s string) (Hash, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return Hash{}, fmt.Errorf("%w %q: %w", ErrInvalidHash, s, err)
	}
	return hashFromCid(c)
}

func hashFromCid(c cid.Cid) (Hash, error) {
	if c.Version() != 1 {
		return Hash{}, fmt.Errorf("%w %s: cid version %d, want 1", ErrInvalidHash, c, c.Version())
	}
	if t := c.Type(); t != codecCBOR && t != codecRaw {
		return Hash{}, fmt.Errorf("%w %s: codec 0x%x, want dag-cbor or raw", ErrInvalidHash, c, t)
	}
	dec, err := mh.Decode(c.Hash())
	if err != nil {
		return Hash{}, fmt.Errorf("%w %s: %w", ErrInvalidHash, c, err)
	}
	if dec.Code != mh.BLAKE3 || dec.Length != 32 {
		return Hash{}, fmt.Errorf("%w %s: multihash %s/%d, want blake3/32", ErrInvalidHash, c, mh.Codes[dec.Code], dec.Length)
	}
	return Hash{c: c}, nil
}

// String returns the CIDv1 text form (base32, "bafk…" or "bafy…").
func (h Hash) String() string {
	if !h.c.Defined() {
		return ""
	}
	return h.c.String()
}

// IsZero reports whether h is the zero Hash.
func (h Hash) IsZero() bool { return !h.c.Defined() }

// Digest returns the 32-byte BLAKE3 digest that h names.
func (h Hash) Digest() [32]byte {
	var d [32]byte
	if h.c.Defined() {
		dec, err := mh.Decode(h.c.Hash())
		if err == nil {
			copy(d[:], dec.Digest)
		}
	}
	return d
}

// Multihash returns the multihash of h, the key under which the DHT and other
// content routers know it.
func (h Hash) Multihash() mh.Multihash { return h.c.Hash() }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the rules of ParseHash.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}
