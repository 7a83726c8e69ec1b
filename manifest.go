package papi

import (
	"slices"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/guestabi"
	"github.com/papi-dev/papi/internal/unixfs"
)

// manifestFormat is the version of the manifest layout; a change to it
// changes every bundle hash, so it is part of what is hashed.
//
// Format 2 is DAG-CBOR: the spec and every dataset are CID links (tag 42),
// so an IPFS node that fetches a manifest can follow it to every part, and
// each dataset names its UnixFS view beside its bao root. Format 1 was plain
// deterministic CBOR naming its parts by raw digest.
const manifestFormat = 2

// manifest is the DAG-CBOR document a bundle hash is computed over.
type manifest struct {
	Format   uint64          `cbor:"papi"`
	Spec     canon.Link      `cbor:"spec"` // the spec, a DAG-CBOR block
	Datasets []manifestEntry `cbor:"datasets,omitempty"`
	// Parent is a digest, not a link: pinning a bundle in IPFS must not
	// fetch every bundle it derives from.
	Parent []byte        `cbor:"parent,omitempty"`
	Code   *manifestCode `cbor:"code,omitempty"`
	// Lineage names the APIs the bundle's API derives from (Extends), by
	// spec digest, the parent first. Like Parent these are digests, not
	// links: the ancestors' specs travel beside the bundle, not inside its
	// DAG. A bundle without has no such entry.
	Lineage [][]byte `cbor:"lineage,omitempty"`
}

// manifestCode names the bundle's handlers: a WebAssembly module, by hash,
// and the version of the contract between module and host it was built for.
type manifestCode struct {
	Hash   []byte     `cbor:"hash"`
	Size   uint64     `cbor:"size"`
	ABI    uint64     `cbor:"abi"`
	UnixFS canon.Link `cbor:"unixfs"`
}

// manifestEntry names a dataset twice: Hash is the BLAKE3 (bao) root that
// papi's own protocol verifies piece by piece, UnixFS the root of the same
// bytes as IPFS lays them out (see internal/unixfs). Up to PieceSize bytes
// the two are the same CID; a manifest that says otherwise is refused.
type manifestEntry struct {
	Name   string     `cbor:"name"`
	Hash   []byte     `cbor:"hash"`
	Size   uint64     `cbor:"size"`
	UnixFS canon.Link `cbor:"unixfs"`
}

// Limits on documents read from disk or from other peers.
const (
	maxManifestBytes = 1 << 20
	maxSpecBytes     = 8 << 20
	maxDatasets      = 1024
	maxCodeBytes     = 1 << 30 // what a manifest may claim; Sandbox limits what a peer runs
)

var (
	manifestDecoder = canon.NewDAGDecoder(canon.Limits{MaxBytes: maxManifestBytes, MaxDepth: 8, MaxElements: maxDatasets})
	specDecoder     = canon.NewDAGDecoder(canon.Limits{MaxBytes: maxSpecBytes, MaxDepth: 200, MaxElements: 1 << 16})
)

// newManifest describes b, whose datasets are sorted, named once each and
// free of errors.
func newManifest(b *Bundle) (manifest, error) {
	m := manifest{Format: manifestFormat, Spec: canon.Link{Cid: b.apiHash.c}, Lineage: lineageDigests(b.lineage)}
	for _, d := range b.datasets {
		e, err := d.manifestEntry()
		if err != nil {
			return m, err
		}
		m.Datasets = append(m.Datasets, e)
	}
	if !b.parent.IsZero() {
		m.Parent = digestSlice(b.parent)
	}
	if b.code != nil {
		e, err := b.code.manifestEntry()
		if err != nil {
			return m, err
		}
		m.Code = &manifestCode{Hash: e.Hash, Size: e.Size, ABI: guestabi.Version, UnixFS: e.UnixFS}
	}
	return m, nil
}

func (d *Dataset) manifestEntry() (manifestEntry, error) {
	root, err := d.unixfsRoot()
	if err != nil {
		return manifestEntry{}, err
	}
	return manifestEntry{Name: d.name, Hash: slices.Clone(d.digest[:]), Size: uint64(d.size), UnixFS: canon.Link{Cid: root}}, nil
}

// specDigest is the BLAKE3 digest of the spec, checked by decodeManifest.
func (m *manifest) specDigest() [32]byte { return Hash{c: m.Spec.Cid}.Digest() }

// entry describes the module as the store and the data protocol see it: one
// more object, fetched and verified as datasets are.
func (c *manifestCode) entry() manifestEntry {
	return manifestEntry{Name: codeFile, Hash: c.Hash, Size: c.Size, UnixFS: c.UnixFS}
}

// storedDataset is the dataset of e kept at path by a clone, verified piece
// by piece as it arrived; its UnixFS root is the manifest's until the
// UnixFS view is built from the bytes and checked against it.
func (e manifestEntry) storedDataset(path string) *Dataset {
	d := &Dataset{name: e.Name, path: path, size: int64(e.Size), digest: [32]byte(e.Hash)}
	d.ipfs.claimed = e.UnixFS.Cid
	return d
}

// decodeManifest decodes and checks a manifest from untrusted bytes.
func decodeManifest(b []byte) (*manifest, error) {
	var m manifest
	if err := manifestDecoder.UnmarshalExact(b, &m); err != nil {
		return nil, errorf(ErrMalformed, "manifest: %w", err)
	}
	if m.Format != manifestFormat {
		return nil, errorf(ErrMalformed, "manifest: format %d, this version reads %d", m.Format, manifestFormat)
	}
	if h, err := hashFromCid(m.Spec.Cid); err != nil || h.c.Type() != codecCBOR {
		return nil, errorf(ErrMalformed, "manifest: spec link %s is not a papi spec hash", m.Spec.Cid)
	}
	if m.Parent != nil && len(m.Parent) != 32 {
		return nil, errorf(ErrMalformed, "manifest: parent hash of %d bytes, want 32", len(m.Parent))
	}
	if err := checkLineageDigests(&m); err != nil {
		return nil, errorf(ErrMalformed, "manifest: %w", err)
	}
	if c := m.Code; c != nil {
		switch {
		case c.Size == 0 || c.Size > maxCodeBytes:
			return nil, errorf(ErrMalformed, "manifest: code of %d bytes out of range", c.Size)
		case c.ABI != guestabi.Version:
			return nil, errorf(ErrMalformed, "manifest: code for module contract %d, this version runs %d", c.ABI, guestabi.Version)
		}
		if err := c.entry().check(); err != nil {
			return nil, err
		}
	}
	for i, e := range m.Datasets {
		if err := checkDatasetName(e.Name); err != nil {
			return nil, errorf(ErrMalformed, "manifest: %w", err)
		}
		if i > 0 && m.Datasets[i-1].Name >= e.Name {
			return nil, errorf(ErrMalformed, "manifest: datasets not sorted by name or duplicated at %q", e.Name)
		}
		if e.Size > 1<<50 {
			return nil, errorf(ErrMalformed, "manifest: dataset %s: size %d out of range", e.Name, e.Size)
		}
		if err := e.check(); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// check checks an entry's hashes on their own: a bao root of 32 bytes, and a
// UnixFS root that is the same raw block up to one leaf and a BLAKE3 dag-pb
// node above.
func (e manifestEntry) check() error {
	if len(e.Hash) != 32 {
		return errorf(ErrMalformed, "manifest: %s: hash of %d bytes, want 32", e.Name, len(e.Hash))
	}
	root := e.UnixFS.Cid
	if e.Size <= unixfs.LeafSize {
		if root != unixfs.RawCid([32]byte(e.Hash)) {
			return errorf(ErrMalformed, "manifest: %s: UnixFS root %s of one leaf is not its hash", e.Name, root)
		}
		return nil
	}
	if p := root.Prefix(); p.Version != 1 || p.Codec != cid.DagProtobuf || !isBLAKE3(root) {
		return errorf(ErrMalformed, "manifest: %s: UnixFS root %s is not a BLAKE3 dag-pb node", e.Name, root)
	}
	return nil
}

func isBLAKE3(c cid.Cid) bool {
	p := c.Prefix()
	return p.MhType == mh.BLAKE3 && p.MhLength == 32
}
