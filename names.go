package papi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"lukechampine.com/blake3"

	"github.com/papi-dev/papi/internal/canon"
)

// Name is a line of versions: a publisher and a label of its choosing,
// written "<peer ID>/<label>". The publisher points the name at a bundle with
// a signed NameRecord, and at newer bundles with records of higher sequence
// numbers, in the spirit of IPNS; DialName dials the newest.
type Name struct {
	Publisher peer.ID
	Label     string
}

// maxLabelLen bounds a name's label.
const maxLabelLen = 64

// ParseName parses a name written by Name.String.
func ParseName(s string) (Name, error) {
	id, label, ok := strings.Cut(s, "/")
	if !ok {
		return Name{}, errorf(ErrMalformed, "name %q: want <peer ID>/<label>", s)
	}
	pid, err := peer.Decode(id)
	if err != nil {
		return Name{}, errorf(ErrMalformed, "name %q: publisher: %w", s, err)
	}
	n := Name{Publisher: pid, Label: label}
	if err := checkLabel(label); err != nil {
		return Name{}, errorf(ErrMalformed, "name %q: %w", s, err)
	}
	return n, nil
}

// checkLabel allows what reads unambiguously in a URL, a file name and a
// command line: letters, digits, '.', '_' and '-', up to 64 bytes.
func checkLabel(label string) error {
	if label == "" || len(label) > maxLabelLen {
		return fmt.Errorf("label must be 1 to %d bytes, is %d", maxLabelLen, len(label))
	}
	for _, r := range label {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("label %q: %q is not a letter, digit, '.', '_' or '-'", label, r)
		}
	}
	return nil
}

// String returns "<peer ID>/<label>".
func (n Name) String() string { return n.Publisher.String() + "/" + n.Label }

// key is what the name's holders announce to discovery sources: a digest of
// the name, so that any content router that finds providers of a hash also
// finds the peers that hold the name's records.
func (n Name) key() mh.Multihash {
	d := blake3.Sum256([]byte("papi name\n" + string(n.Publisher) + "/" + n.Label))
	m, _ := mh.Encode(d[:], mh.BLAKE3)
	return m
}

// NameRecord says that a name points at a bundle, from sequence number Seq
// on, signed by the name's publisher. Records are self-certifying: any peer
// can hold and pass on a record, and no peer can forge one or change what it
// says.
type NameRecord struct {
	Name   Name
	Seq    uint64
	Bundle Hash

	raw []byte // the signed record as it travels
}

// nameRecordWire is a NameRecord on the wire and on disk: canonical CBOR.
// The signature covers the encoding of the record with Sig empty.
type nameRecordWire struct {
	Key    []byte `cbor:"key"` // the publisher's libp2p-marshalled public key
	Label  string `cbor:"name"`
	Seq    uint64 `cbor:"seq"`
	Bundle []byte `cbor:"bundle"` // CID bytes
	Sig    []byte `cbor:"sig,omitempty"`
}

// maxNameRecordBytes bounds a record: an RSA-4096 key and signature fit.
const maxNameRecordBytes = 4 << 10

var nameRecordDecoder = canon.NewDecoder(canon.Limits{MaxBytes: maxNameRecordBytes, MaxDepth: 2, MaxElements: 16})

// nameSigningContext keeps a name record's signature from meaning anything
// in another protocol that signs with the same key.
const nameSigningContext = "papi name record v1\n"

func (w nameRecordWire) signedBytes() ([]byte, error) {
	w.Sig = nil
	b, err := canon.Marshal(w)
	if err != nil {
		return nil, err
	}
	return append([]byte(nameSigningContext), b...), nil
}

// SignName makes the record that points the name (the key's peer, label) at
// bundle with sequence number seq. Peer.Publish signs with the peer's own
// key and picks seq itself; SignName is for keys kept elsewhere.
func SignName(key crypto.PrivKey, label string, seq uint64, bundle Hash) (*NameRecord, error) {
	if err := checkLabel(label); err != nil {
		return nil, fmt.Errorf("sign name: %w", err)
	}
	if bundle.IsZero() {
		return nil, fmt.Errorf("sign name: %w: zero hash", ErrInvalidHash)
	}
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		return nil, fmt.Errorf("sign name: %w", err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("sign name: %w", err)
	}
	w := nameRecordWire{Key: pub, Label: label, Seq: seq, Bundle: bundle.c.Bytes()}
	msg, err := w.signedBytes()
	if err != nil {
		return nil, fmt.Errorf("sign name: %w", err)
	}
	if w.Sig, err = key.Sign(msg); err != nil {
		return nil, fmt.Errorf("sign name: %w", err)
	}
	raw, err := canon.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("sign name: %w", err)
	}
	return &NameRecord{Name: Name{Publisher: id, Label: label}, Seq: seq, Bundle: bundle, raw: raw}, nil
}

// ParseNameRecord decodes a record made by NameRecord.Bytes and checks its
// signature; a record that does not verify is an error matching
// ErrHashMismatch, one that does not decode matches ErrMalformed.
func ParseNameRecord(b []byte) (*NameRecord, error) {
	var w nameRecordWire
	if err := nameRecordDecoder.UnmarshalExact(b, &w); err != nil {
		return nil, errorf(ErrMalformed, "name record: %w", err)
	}
	if err := checkLabel(w.Label); err != nil {
		return nil, errorf(ErrMalformed, "name record: %w", err)
	}
	c, err := cid.Cast(w.Bundle)
	if err != nil {
		return nil, errorf(ErrMalformed, "name record: bundle: %w", err)
	}
	h, err := hashFromCid(c)
	if err != nil {
		return nil, errorf(ErrMalformed, "name record: bundle: %w", err)
	}
	pub, err := crypto.UnmarshalPublicKey(w.Key)
	if err != nil {
		return nil, errorf(ErrMalformed, "name record: key: %w", err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return nil, errorf(ErrMalformed, "name record: key: %w", err)
	}
	msg, err := w.signedBytes()
	if err != nil {
		return nil, errorf(ErrMalformed, "name record: %w", err)
	}
	if ok, err := pub.Verify(msg, w.Sig); err != nil || !ok {
		return nil, errorf(ErrHashMismatch, "name record %s/%s: signature does not verify", id, w.Label)
	}
	return &NameRecord{Name: Name{Publisher: id, Label: w.Label}, Seq: w.Seq, Bundle: h, raw: bytes.Clone(b)}, nil
}

// Bytes returns the signed record, for ParseNameRecord.
func (r *NameRecord) Bytes() []byte { return bytes.Clone(r.raw) }

// newer reports whether r supersedes old: a higher sequence number or, should
// a publisher sign two records with one number, the greater encoding, so that
// every peer settles on the same one.
func (r *NameRecord) newer(old *NameRecord) bool {
	if old == nil || r.Seq != old.Seq {
		return old == nil || r.Seq > old.Seq
	}
	return bytes.Compare(r.raw, old.raw) > 0
}

// resolveMethod asks a peer for the newest record it holds of the name given
// as the call's target. Like describeMethod, it cannot collide with a user's
// method.
const resolveMethod = "papi.resolve"

// resolveWindow is how long Resolve, once one peer has answered, waits for
// others that may hold a newer record.
const resolveWindow = 500 * time.Millisecond

// Publish points the name (this peer, label) at bundle: it signs a record with
// the peer's key, with a sequence number one above the newest record of the
// name this peer holds or, if it holds none (a publisher that restarted),
// the newest it can resolve. The peer then answers Resolve for the name and
// announces it to its discovery sources until it closes.
//
// bundle need not be served by this peer; it is usually served by the same
// peer, with Serve, before Publish.
func (p *Peer) Publish(ctx context.Context, label string, bundle Hash) (*NameRecord, error) {
	if err := checkLabel(label); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	n := Name{Publisher: p.ID(), Label: label}
	p.names.publishing.Lock()
	defer p.names.publishing.Unlock()
	last := p.heldRecord(n)
	if last == nil {
		var err error
		last, err = p.Resolve(ctx, n)
		if err != nil && !errors.Is(err, ErrNoProvider) {
			return nil, fmt.Errorf("publish %s: find the newest record: %w", n, err)
		}
	}
	var seq uint64 = 1
	if last != nil {
		seq = last.Seq + 1
	}
	key := p.host.Libp2p().Peerstore().PrivKey(p.ID())
	if key == nil {
		return nil, fmt.Errorf("publish %s: the peer has no private key", n)
	}
	r, err := SignName(key, label, seq, bundle)
	if err != nil {
		return nil, err
	}
	return r, p.PublishRecord(ctx, r)
}

// PublishRecord makes the peer hold r, answer Resolve with it and announce
// it until the peer closes: for records signed with SignName by a key kept
// elsewhere, and for mirrors that keep a publisher's name resolvable while
// the publisher is offline. A record older than one the peer holds is
// refused with an error matching ErrPrecondition.
func (p *Peer) PublishRecord(ctx context.Context, r *NameRecord) error {
	if _, err := ParseNameRecord(r.raw); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if !p.holdRecord(r) {
		held := p.heldRecord(r.Name)
		if held.Seq != r.Seq || !bytes.Equal(held.raw, r.raw) {
			return errorf(ErrPrecondition, "publish %s: holds sequence %d, newer than %d", r.Name, held.Seq, r.Seq)
		}
	}
	p.names.mu.Lock()
	announced := p.names.announced[r.Name]
	p.names.announced[r.Name] = true
	p.names.mu.Unlock()
	if !announced && len(p.discovery) > 0 {
		go p.announceKeys(p.ctx, []mh.Multihash{r.Name.key()})
	}
	return nil
}

// heldRecord returns the newest record of n this peer holds, or nil.
func (p *Peer) heldRecord(n Name) *NameRecord {
	p.names.mu.Lock()
	defer p.names.mu.Unlock()
	return p.names.held[n]
}

// holdRecord keeps r if it is newer than the record of its name the peer
// holds, and reports whether it did.
func (p *Peer) holdRecord(r *NameRecord) bool {
	p.names.mu.Lock()
	defer p.names.mu.Unlock()
	if !r.newer(p.names.held[r.Name]) {
		return false
	}
	p.names.held[r.Name] = r
	return true
}

// Resolve resolves n on the default peer; see Peer.Resolve.
func Resolve(ctx context.Context, n Name, opts ...DialOption) (*NameRecord, error) {
	p, err := DefaultPeer()
	if err != nil {
		return nil, err
	}
	return p.Resolve(ctx, n, opts...)
}

// Resolve finds the newest record of n. It asks the peers named with
// Provider, every connected peer, and the holders of the name that the
// discovery sources find (the publisher, and any mirror), all at once; once
// one answers it waits a moment for newer answers and keeps the record with
// the highest sequence number whose signature verifies. Forged records are
// dropped.
//
// A peer never goes back: Resolve remembers the newest record it has seen of
// every name for the peer's lifetime, and returns it rather than an older
// one that the peers it reaches now hold. When no peer holds a record of n,
// the error matches ErrNoProvider.
//
// Records travel between peers rather than through the DHT's value store:
// the public Amino DHT stores only its own record types, so a papi record
// there would be dropped, whereas provider records under the name's digest
// work in every DHT and every discovery source.
func (p *Peer) Resolve(ctx context.Context, n Name, opts ...DialOption) (*NameRecord, error) {
	if err := checkLabel(n.Label); err != nil || n.Publisher == "" {
		return nil, errorf(ErrMalformed, "resolve %q: not a name", n)
	}
	c, err := newDialConfig(opts)
	if err != nil {
		return nil, err
	}
	var (
		newest = p.heldRecord(n)
		found  bool
		errs   []error
	)
	ask := func(ctx context.Context, ai peer.AddrInfo) (*NameRecord, error) { return p.askRecord(ctx, n, ai) }
	askAll(ctx, p, c.providers, n.key(), resolveWindow, ask, func(id peer.ID, r *NameRecord, err error) verdict {
		if err != nil {
			if !errors.Is(err, ErrNotServed) {
				p.log.DebugContext(ctx, "papi: name record dropped", "name", n.String(), "peer", id.String(), "err", err)
				errs = append(errs, peerError{id, err})
			}
			return keepAsking
		}
		found = true
		if r.newer(newest) {
			newest = r
		}
		return startWindow
	})
	if newest != nil {
		p.holdRecord(newest)
		return newest, nil
	}
	if !found {
		if err := ctx.Err(); err != nil {
			return nil, NewError(CodeOf(err), fmt.Errorf("resolve %s: %w", n, err))
		}
	}
	if len(errs) > 0 {
		return nil, errorf(ErrNoProvider, "resolve %s: %w", n, joinPeerErrors(errs))
	}
	return nil, errorf(ErrNoProvider, "resolve %s: no peer holds a record of it", n)
}

// askRecord asks one peer for its newest record of n and verifies it.
func (p *Peer) askRecord(ctx context.Context, n Name, ai peer.AddrInfo) (*NameRecord, error) {
	if len(ai.Addrs) > 0 {
		if err := p.host.Connect(ctx, ai); err != nil {
			return nil, NewError(CodeUnavailable, err)
		}
	}
	out, err := p.host.Call(ctx, ai.ID, n.String(), resolveMethod, nil)
	if err != nil {
		return nil, wireError(err)
	}
	r, err := ParseNameRecord(out)
	if err != nil {
		return nil, err
	}
	if r.Name != n {
		return nil, errorf(ErrHashMismatch, "asked for %s, answered with a record of %s", n, r.Name)
	}
	return r, nil
}

// answerResolve answers resolveMethod from the records this peer holds.
func (p *Peer) answerResolve(target string) ([]byte, error) {
	n, err := ParseName(target)
	if err != nil {
		return nil, err
	}
	r := p.heldRecord(n)
	if r == nil {
		return nil, errorf(ErrNotServed, "no record of %s", n)
	}
	return r.raw, nil
}

// DialName dials the newest bundle of n on the default peer; see Peer.DialName.
func DialName(ctx context.Context, n Name, opts ...DialOption) (*Client, error) {
	p, err := DefaultPeer()
	if err != nil {
		return nil, err
	}
	return p.DialName(ctx, n, opts...)
}

// DialName resolves n to its newest record and dials the bundle it names.
// The record's signature ties the bundle's hash to the publisher, and Dial
// verifies the bundle against the hash, so no peer can hand over an older
// or forged version of the API.
func (p *Peer) DialName(ctx context.Context, n Name, opts ...DialOption) (*Client, error) {
	r, err := p.Resolve(ctx, n, opts...)
	if err != nil {
		return nil, err
	}
	return p.Dial(ctx, r.Bundle, opts...)
}
