package papi

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	format "github.com/ipfs/go-ipld-format"
	_ "github.com/ipld/go-ipld-prime/codec/dagcbor" // IPFS nodes decode DAG-CBOR through go-ipld-prime's registry
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/papi-dev/papi/internal/unixfs"
)

// ipfsNode is an IPFS node as Kubo puts one together, in miniature: a
// libp2p host, a blockstore, boxo's bitswap (client and server) and a DAG
// service over them, so what it fetches is verified by boxo's rules alone.
type ipfsNode struct {
	host  host.Host
	bs    blockstore.Blockstore
	dserv format.DAGService
}

func newIPFSNode(t testing.TB) *ipfsNode {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	swap := bitswap.New(t.Context(), bsnet.NewFromIpfsHost(h), nil, bs)
	t.Cleanup(func() { swap.Close() })
	return &ipfsNode{host: h, bs: bs, dserv: dag.NewDAGService(blockservice.New(bs, swap))}
}

func (n *ipfsNode) connect(t testing.TB, p *Peer) {
	t.Helper()
	if err := n.host.Connect(t.Context(), peer.AddrInfo{ID: p.ID(), Addrs: p.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// refs lists every block under root, as ipfs refs -r does, fetching them.
// readFile reads the UnixFS file at root as an IPFS node would, block by
// block over bitswap.
func (n *ipfsNode) readFile(t testing.TB, root cid.Cid) []byte {
	t.Helper()
	nd, err := n.dserv.Get(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	r, err := uio.NewDagReader(t.Context(), nd, n.dserv)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (n *ipfsNode) refs(t testing.TB, root cid.Cid) map[cid.Cid]bool {
	t.Helper()
	seen := map[cid.Cid]bool{}
	err := dag.Walk(t.Context(), dag.GetLinksWithDAG(n.dserv), root, func(c cid.Cid) bool {
		if seen[c] {
			return false
		}
		seen[c] = true
		return true
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return seen
}

// ipfsTestBundle has a dataset of one leaf, one of several under a dag-pb
// root, and one of exactly a leaf.
func ipfsTestBundle(t testing.TB) *Bundle {
	t.Helper()
	b, err := boothsBundle(t).WithData(
		Data("blob", randomBytes(5*PieceSize+1234, 20)),
		DataBytes("piece", append([]byte{0x5a, 0, 3, 0xff, 0xfb}, randomBytes(PieceSize-5, 21)...)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIPFSNodeFetchesABundleByBitswap(t *testing.T) {
	b := ipfsTestBundle(t)
	p := newTestPeer(t)
	s := serveTest(t, p, b)
	<-s.ipfsOffered
	node := newIPFSNode(t)
	node.connect(t, p)

	// ipfs pin add / refs -r: the manifest links lead to every part.
	got := node.refs(t, b.Hash().c)
	want := map[cid.Cid]bool{b.Hash().c: true, b.APIHash().c: true}
	for _, d := range b.Datasets() {
		g, err := d.unixfsDAG()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range g.Nodes {
			want[n.Cid] = true
		}
		for _, c := range g.Leaves {
			want[c] = true
		}
	}
	if len(got) != len(want) {
		t.Errorf("refs -r found %d blocks, want %d", len(got), len(want))
	}
	for c := range want {
		if !got[c] {
			t.Errorf("refs -r did not reach %s", c)
		}
	}

	// Manifest and spec are the bytes the hashes name.
	for c, wantBytes := range map[cid.Cid][]byte{b.Hash().c: b.Manifest(), b.APIHash().c: b.specBytes} {
		blk, err := node.bs.Get(t.Context(), c)
		if err != nil || !bytes.Equal(blk.RawData(), wantBytes) {
			t.Fatalf("block %s: %v, or other bytes", c, err)
		}
	}

	// ipfs cat of each dataset's UnixFS root gives every byte.
	for _, d := range b.Datasets() {
		root, err := d.unixfsRoot()
		if err != nil {
			t.Fatal(err)
		}
		if d.size <= PieceSize && root != d.Hash().c {
			t.Errorf("dataset %s of one piece: UnixFS root %s, papi hash %s", d.name, root, d.Hash())
		}
		fetched := node.readFile(t, root)
		mine, _ := d.Bytes()
		if !bytes.Equal(fetched, mine) {
			t.Errorf("dataset %s: IPFS read %d bytes that differ from the %d served", d.name, len(fetched), len(mine))
		}
	}
}

func TestIPFSViewOfAClonedBundle(t *testing.T) {
	b := ipfsTestBundle(t)
	author := newTestPeer(t)
	serveTest(t, author, b)
	mirror := newTestPeer(t)
	cloned, err := mirror.Clone(t.Context(), b.Hash(), Provider(author.Addrs()...), StoreDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	s := serveTest(t, mirror, cloned, SeedOnly())
	<-s.ipfsOffered
	node := newIPFSNode(t)
	node.connect(t, mirror) // the mirror alone
	blob, _ := b.Dataset("blob")
	root, _ := blob.unixfsRoot()
	fetched := node.readFile(t, root)
	if mine, _ := blob.Bytes(); !bytes.Equal(fetched, mine) {
		t.Fatal("the mirror served other bytes than the author's")
	}
}

// A manifest may name a UnixFS root its data does not make: its author
// lies, or altered it. Readers of the bundle catch it, and a peer serving
// it never offers IPFS nodes that root: IPFS and papi see the same bytes or
// none.
func TestLyingUnixFSRootIsCaught(t *testing.T) {
	data := randomBytes(3*PieceSize, 22)
	lie := Data("blob", data)
	m, _ := mh.Sum([]byte("not the data"), mh.BLAKE3, 32)
	bogus := cid.NewCidV1(cid.DagProtobuf, m)
	lie.ipfs.claimed = bogus
	b, err := boothsBundle(t).WithData(lie)
	if err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBundle(&buf); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("ReadBundle of a manifest with a false UnixFS root: %v, want ErrHashMismatch", err)
	}
	dir := t.TempDir()
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBundle(dir); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("OpenBundle of a manifest with a false UnixFS root: %v, want ErrHashMismatch", err)
	}

	lieBytes, _ := lie.Bytes()
	real, err := unixfs.Build(t.Context(), bytes.NewReader(lieBytes), int64(len(lieBytes)))
	if err != nil {
		t.Fatal(err)
	}
	// A clone verifies the bao root only, so it takes the bundle; serving
	// it to IPFS, it finds the lie.
	author := newTestPeer(t)
	serveTest(t, author, b)
	mirror := newTestPeer(t)
	cloned, err := mirror.Clone(t.Context(), b.Hash(), Provider(author.Addrs()...), StoreDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		peer   *Peer
		bundle *Bundle
	}{{author, b}, {mirror, cloned}} {
		var s *Server
		if p.peer == mirror {
			s = serveTest(t, mirror, cloned, SeedOnly())
		} else {
			s = p.peer.bundle[b.Hash()]
		}
		<-s.ipfsOffered
		for _, c := range []cid.Cid{bogus, real.Root, real.Leaves[0]} {
			if ok, _ := p.peer.blocks.Has(t.Context(), c); ok {
				t.Errorf("a peer offers %s of a dataset whose UnixFS root is false", c)
			}
		}
		if ok, _ := p.peer.blocks.Has(t.Context(), b.Hash().c); !ok {
			t.Error("the manifest itself is no longer offered")
		}
	}
}
