package papi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"lukechampine.com/blake3"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/spec"
	"github.com/papi-dev/papi/internal/store"
	"github.com/papi-dev/papi/transport"
)

// Client calls one bundle served by a remote peer. Make one with Dial; it is
// safe for concurrent use.
type Client struct {
	peer     *Peer
	remote   peer.ID
	dialed   Hash   // what the caller asked for: a bundle hash or an API hash
	bundle   Hash   // the bundle the remote serves for it
	target   string // bundle as a string, what each call is addressed to: made once, not per call
	apiHash  Hash
	spec     *Spec
	manifest *manifest
	seed     bool // the remote seeds the bundle without handlers
	lineage  []ancestor

	manifestBytes, specBytes []byte // verified, for Clone to store
	publishers               []peer.ID
	signatures               []signature // verified, for Clone to store

	mu      sync.Mutex
	checked map[typeCheck]error
}

type typeCheck struct {
	method    string
	req, resp reflect.Type
}

type dialConfig struct {
	providers []peer.AddrInfo
	publisher peer.ID // if set, only bundles it signed
	err       error   // the first option that failed
}

type cloneConfig struct {
	dialConfig
	storeDir string
	progress func(Progress)
	rate     int64 // bytes per second, 0 for no limit
	watch    *datasetWatch
}

func (c *cloneConfig) openStore() (*store.Store, error) {
	dir := c.storeDir
	if dir == "" {
		var err error
		if dir, err = DefaultStoreDir(); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Provider names peers to ask for the hash, as multiaddrs ending in
// /p2p/<id> (what Server.Addrs returns). Dial and Clone also ask every peer
// they are already connected to.
func Provider(addrs ...string) ProviderOption {
	return providerOptionFunc(func(c *dialConfig) error {
		infos, err := addrInfos(addrs)
		if err != nil {
			return err
		}
		c.providers = append(c.providers, infos...)
		return nil
	})
}

func addrInfos(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, a := range addrs {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			return nil, fmt.Errorf("provider address %q: %w", a, err)
		}
		out = append(out, *ai)
	}
	return out, nil
}

// Dial dials h from the default peer; see Peer.Dial.
func Dial(ctx context.Context, h Hash, opts ...DialOption) (*Client, error) {
	p, err := DefaultPeer()
	if err != nil {
		return nil, err
	}
	return p.Dial(ctx, h, opts...)
}

// Dial finds a peer that serves h, fetches the bundle's manifest and spec
// from it and verifies them against h, and returns a client for it.
//
// h may be a bundle hash, which only a peer serving exactly that data
// answers, or an API hash, which any peer serving that interface answers,
// whatever its data. A peer whose answer does not verify is dropped (its
// error is ErrHashMismatch) and the others are tried; when none answers,
// Dial returns an error matching ErrNoProvider that lists why each failed.
func (p *Peer) Dial(ctx context.Context, h Hash, opts ...DialOption) (*Client, error) {
	c, err := newDialConfig(opts)
	if err != nil {
		return nil, err
	}
	clients, err := p.providers(ctx, h, c, false)
	if err != nil {
		return nil, err
	}
	return clients[0], nil
}

// describeTimeout bounds how long one candidate may take to answer, so that
// a peer that never answers does not hold up a clone that asks everyone.
const describeTimeout = 10 * time.Second

// collectWindow is how long a clone, once one provider has answered, waits
// for others to answer too, so that it can fetch from all of them.
const collectWindow = time.Second

// providers asks every candidate peer for h as candidates come in: the peers
// named with Provider, the peers already connected, and what every
// discovery source finds. It returns the first whose answer verifies or,
// with all, every one that answers within collectWindow of the first.
// Without all, a peer that seeds the bundle without handlers is taken only
// when no peer with handlers answers within collectWindow of it, or at all:
// a client is for calls.
func (p *Peer) providers(ctx context.Context, h Hash, c *dialConfig, all bool) ([]*Client, error) {
	if h.IsZero() {
		return nil, fmt.Errorf("%w: zero hash", ErrInvalidHash)
	}
	var (
		found []*Client
		seeds []*Client // without all: answers from peers without handlers
		errs  []error
	)
	ask := func(ctx context.Context, ai peer.AddrInfo) (*Client, error) { return p.tryProvider(ctx, c, h, ai) }
	askAll(ctx, p, c.providers, h.Multihash(), collectWindow, ask, func(id peer.ID, cl *Client, err error) verdict {
		switch {
		case err != nil:
			p.log.DebugContext(ctx, "papi: provider dropped", "hash", h.String(), "peer", id.String(), "err", err)
			errs = append(errs, peerError{id, err})
			return keepAsking
		case !all && cl.seed:
			seeds = append(seeds, cl)
			return startWindow
		case !all:
			found = append(found, cl)
			return stopAsking
		}
		found = append(found, cl)
		return startWindow
	})
	if len(found) > 0 {
		return found, nil
	}
	if len(seeds) > 0 {
		return seeds, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, NewError(CodeOf(err), fmt.Errorf("find %s: %w", h, err))
	}
	if len(errs) == 0 {
		return nil, errorf(ErrNoProvider, "%s: no peer to ask (give one with papi.Provider, or join a DHT)", h)
	}
	return nil, errorf(ErrNoProvider, "%s: %w", h, joinPeerErrors(errs))
}

// maxConnectedAsked caps how many already-connected peers a dial asks. A
// peer in a DHT is connected to hundreds of others, and asking all of them
// made the time to the first provider grow with the network; the DHT finds
// providers beyond this sample.
const maxConnectedAsked = 16

// connectedToAsk picks the connected peers a dial asks: those that speak
// papi, or whose protocols are not known yet (identify still running, as
// just after mDNS found them), in random order, at most maxConnectedAsked.
// Peers known to speak other protocols only, such as the public DHT's
// servers, are never asked.
func (p *Peer) connectedToAsk() []peer.ID {
	h := p.host.Libp2p()
	var ask []peer.ID
	for _, id := range h.Network().Peers() {
		protos, err := h.Peerstore().GetProtocols(id)
		if err != nil {
			continue
		}
		if len(protos) == 0 || slices.Contains(protos, transport.ProtocolRPC) || slices.Contains(protos, transport.ProtocolRPC1) {
			ask = append(ask, id)
		}
	}
	rand.Shuffle(len(ask), func(i, j int) { ask[i], ask[j] = ask[j], ask[i] })
	return ask[:min(len(ask), maxConnectedAsked)]
}

// candidates streams the peers to ask for key: those named, those already
// connected, and what every discovery source finds, as they come. The
// channel closes when every source is done or ctx ends.
func (p *Peer) candidates(ctx context.Context, named []peer.AddrInfo, key mh.Multihash) <-chan peer.AddrInfo {
	candidates := make(chan peer.AddrInfo, 64)
	send := func(ai peer.AddrInfo) bool {
		select {
		case candidates <- ai:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var feeders sync.WaitGroup
	feeders.Go(func() {
		for _, ai := range named {
			if !send(ai) {
				return
			}
		}
		for _, id := range p.connectedToAsk() {
			if !send(peer.AddrInfo{ID: id}) {
				return
			}
		}
	})
	for _, d := range p.discovery {
		feeders.Go(func() {
			for ai := range d.FindProviders(ctx, key) {
				if !send(ai) {
					return
				}
			}
		})
	}
	go func() { feeders.Wait(); close(candidates) }()
	return candidates
}

// descriptionDecoder reads a provider's answer: manifest, spec, ancestor
// specs and signatures.
var descriptionDecoder = canon.NewDecoder(canon.Limits{MaxBytes: maxManifestBytes + maxSpecBytes + maxLineageBytes + 64<<10, MaxDepth: 4, MaxElements: max(maxSignatures, maxLineage)})

func (p *Peer) tryProvider(ctx context.Context, c *dialConfig, h Hash, ai peer.AddrInfo) (*Client, error) {
	id := ai.ID
	if len(ai.Addrs) > 0 {
		if err := p.host.Connect(ctx, ai); err != nil {
			return nil, NewError(CodeUnavailable, err)
		}
	}
	out, err := p.host.Call(ctx, id, h.String(), describeMethod, nil)
	if err != nil {
		return nil, wireError(err)
	}
	var d description
	// Not UnmarshalExact: the description is an envelope that no hash
	// covers (its manifest and spec are verified below), and fields a later
	// version adds, like seed, must not make an older dialer drop the peer.
	if err := descriptionDecoder.Unmarshal(out, &d); err != nil {
		return nil, errorf(ErrMalformed, "description: %w", err)
	}
	m, s, lineage, err := verifyDescription(h, d)
	if err != nil {
		return nil, err
	}
	bundle := hashBytes(codecCBOR, d.Manifest)
	publishers, err := verifySignatures(bundle, d.Signatures)
	if err != nil {
		return nil, err
	}
	if c.publisher != "" && !slices.Contains(publishers, c.publisher) {
		return nil, errorf(ErrPermissionDenied, "bundle %s is not signed by publisher %s", bundle, c.publisher)
	}
	return &Client{
		peer: p, remote: id, dialed: h, publishers: publishers, signatures: d.Signatures,
		bundle: bundle, target: bundle.String(), apiHash: newHash(codecCBOR, m.specDigest()),
		spec: s, manifest: m, manifestBytes: d.Manifest, specBytes: d.Spec, seed: d.Seed, lineage: lineage,
		checked: map[typeCheck]error{},
	}, nil
}

// verifyDescription checks a provider's manifest and spec against the hash
// that was dialed, whether it names the bundle, its API, or an API that
// the bundle's derives from and keeps working.
func verifyDescription(h Hash, d description) (*manifest, *spec.Spec, []ancestor, error) {
	want := h.Digest()
	byBundle := blake3.Sum256(d.Manifest) == want
	bySpec := !byBundle && blake3.Sum256(d.Spec) == want
	m, err := decodeManifest(d.Manifest)
	if err != nil {
		if !byBundle && !bySpec {
			err = errorf(ErrHashMismatch, "provider's answer for %s hashes to neither its manifest nor its spec", h)
		}
		return nil, nil, nil, err
	}
	byAncestor := !byBundle && !bySpec && slices.ContainsFunc(m.Lineage, func(d []byte) bool { return bytes.Equal(d, want[:]) })
	if !byBundle && !bySpec && !byAncestor {
		return nil, nil, nil, errorf(ErrHashMismatch, "provider's answer for %s hashes to neither its manifest nor its spec", h)
	}
	if bySpec && m.specDigest() != want {
		return nil, nil, nil, errorf(ErrHashMismatch, "provider's manifest names another spec than %s", h)
	}
	s, err := decodeSpec(d.Spec, m.specDigest())
	if err != nil {
		return nil, nil, nil, err
	}
	lineage, err := verifyLineage(m.Lineage, d.Lineage)
	if err != nil {
		return nil, nil, nil, err
	}
	if byAncestor {
		if _, err := answersFor(want, s, lineage); err != nil {
			return nil, nil, nil, err
		}
	}
	return m, s, lineage, nil
}

// wireError turns what the transport returned into papi's error.
func wireError(err error) error {
	var re *transport.RemoteError
	switch {
	case errors.As(err, &re):
		var d errorDetail
		if len(re.Payload) > 0 {
			_ = canon.Unmarshal(re.Payload, &d) // a bad detail only loses the sentinel
		}
		return remoteError(Code(re.Code), re.Message, d.Reason)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return NewError(CodeOf(err), err)
	default:
		return NewError(CodeUnavailable, err)
	}
}

// Spec returns the remote bundle's spec, verified against the dialed hash.
// When the dialed hash is an API the remote's derives from (Extends), it is
// the remote's own spec, which keeps the dialed API's callers working.
func (c *Client) Spec() *Spec { return c.spec }

// Hash returns the hash of the bundle the client calls: the dialed hash, or,
// when an API hash was dialed, the bundle of the peer that answered.
func (c *Client) Hash() Hash { return c.bundle }

// APIHash returns the hash of the remote bundle's API.
func (c *Client) APIHash() Hash { return c.apiHash }

// DatasetInfo describes a dataset of a remote bundle, as its manifest names it.
type DatasetInfo struct {
	Name string
	Size int64
	Hash Hash
}

// Datasets lists the remote bundle's datasets, from its verified manifest.
func (c *Client) Datasets() []DatasetInfo {
	var out []DatasetInfo
	for _, e := range c.manifest.Datasets {
		out = append(out, DatasetInfo{Name: e.Name, Size: int64(e.Size), Hash: newHash(codecRaw, [32]byte(e.Hash))})
	}
	return out
}

// Parent returns the hash of the bundle the remote one derives from, if any.
func (c *Client) Parent() (Hash, bool) {
	if c.manifest.Parent == nil {
		return Hash{}, false
	}
	return newHash(codecCBOR, [32]byte(c.manifest.Parent)), true
}

// Publishers returns the publishers whose signatures of the bundle the
// provider sent and that verified.
func (c *Client) Publishers() []peer.ID { return slices.Clone(c.publishers) }

// RemotePeer returns the peer the client calls.
func (c *Client) RemotePeer() peer.ID { return c.remote }

// Relayed reports whether the client reaches its peer only through a relay
// now: true while every connection to the peer is relayed, false once hole
// punching or a dial has made a direct one (calls then move to it), and
// false with no connection at all, as the next call dials again.
func (c *Client) Relayed() bool { return c.peer.host.Relayed(c.remote) }

// Call calls method on the bundle c is dialed to, with a typed request and
// response. Before the first call of a method with these types, Req and Resp
// are checked against the remote spec by shape, with the rules of
// compatibility (see the package documentation): they need not be the
// author's types. A request type may leave out the spec's conditions or
// have looser ones, and pointers where the spec requires a value: the
// server enforces the spec, and a request that breaks it gets
// ErrPrecondition. A response type may leave out fields and may use values
// where the spec has pointers. What cannot work, a field the remote does not
// know, a required one missing, another type, a response condition
// tighter than the remote's, is an error matching ErrSpecMismatch that names
// the field, says what the local type and the remote spec each have there,
// and what to change in the local type. A request that breaks a condition
// of the local type is refused before it is sent (ErrPrecondition).
func Call[Req, Resp any](ctx context.Context, c *Client, method string, req Req) (Resp, error) {
	var resp Resp
	reqCheck, err := c.checkTypes(method, reflect.TypeFor[Req](), reflect.TypeFor[Resp]())
	if err != nil {
		return resp, err
	}
	if err := reqCheck.Check(reflect.ValueOf(&req).Elem()); err != nil {
		return resp, errorf(ErrPrecondition, "%s request: %w", method, err)
	}
	payload, err := canon.Marshal(req)
	if err != nil {
		return resp, Errorf(CodeInvalidArgument, "%s request: %w", method, err)
	}
	out, err := c.CallCBOR(ctx, method, payload)
	if err != nil {
		return resp, err
	}
	if err := requestDecoder.Unmarshal(out, &resp); err != nil {
		return resp, errorf(ErrMalformed, "%s response: %w", method, err)
	}
	return resp, nil
}

// checkTypes compares local Go types with the remote method, once per
// method and pair of types.
func (c *Client) checkTypes(method string, req, resp reflect.Type) (*spec.Validator, error) {
	key := typeCheck{method, req, resp}
	c.mu.Lock()
	err, done := c.checked[key]
	c.mu.Unlock()
	if !done {
		err = compareTypes(c.spec, method, req, resp)
		c.mu.Lock()
		c.checked[key] = err
		c.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return spec.ValidatorFor(req)
}

func compareTypes(s *Spec, method string, req, resp reflect.Type) error {
	m, ok := findMethod(s, method)
	if !ok {
		return errorf(ErrUnknownMethod, "%s has no method %q", s.Name, method)
	}
	local := func(dir spec.Direction, t reflect.Type, remote *Schema) error {
		if err := spec.CheckType(t, dir, remote, s.Defs); err != nil {
			return errorf(ErrSpecMismatch, "%s %s: local type %s cannot talk to the remote spec: %w", method, dir, t, err)
		}
		return nil
	}
	if err := local(spec.Request, req, m.Request); err != nil {
		return err
	}
	return local(spec.Response, resp, m.Response)
}

// CallCBOR calls method with a request already encoded as CBOR and returns
// the response's CBOR. It is the untyped form of Call, for tools: the server
// still checks the request against the spec.
func (c *Client) CallCBOR(ctx context.Context, method string, payload []byte) ([]byte, error) {
	out, err := c.peer.host.Call(ctx, c.remote, c.target, method, payload)
	if err != nil {
		return nil, wireError(err)
	}
	return out, nil
}

// CallJSON calls method with a request written as JSON and returns the
// response as JSON, like grpcurl does. The request is checked against the
// remote spec and converted to what it describes (numbers to integers,
// base64 text to bytes) before it is sent.
func (c *Client) CallJSON(ctx context.Context, method string, in []byte) ([]byte, error) {
	m, ok := findMethod(c.spec, method)
	if !ok {
		return nil, errorf(ErrUnknownMethod, "%s has no method %q", c.spec.Name, method)
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errorf(ErrMalformed, "%s request: %w", method, err)
	}
	// A second value would be dropped without a word, and the caller
	// would get the answer to a request it did not mean to send.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errorf(ErrMalformed, "%s request: data after the JSON value at offset %d", method, dec.InputOffset())
	}
	conformed, err := spec.Conform(v, m.Request, c.spec.Defs)
	if err != nil {
		return nil, errorf(ErrPrecondition, "%s request: %w", method, err)
	}
	payload, err := canon.Marshal(conformed)
	if err != nil {
		return nil, Errorf(CodeInvalidArgument, "%s request: %w", method, err)
	}
	out, err := c.CallCBOR(ctx, method, payload)
	if err != nil {
		return nil, err
	}
	var resp any
	if err := requestDecoder.Unmarshal(out, &resp); err != nil {
		return nil, errorf(ErrMalformed, "%s response: %w", method, err)
	}
	return json.Marshal(resp)
}
