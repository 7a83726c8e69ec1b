package unixfs

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/exchange/offline"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	format "github.com/ipfs/go-ipld-format"
	"lukechampine.com/blake3"
)

func randomBytes(n int64, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

// importWithBoxo adds data as `ipfs add --raw-leaves --hash=blake3
// --chunker=size-262144` does, with boxo's own importer.
func importWithBoxo(t *testing.T, data []byte, maxLinks int) (format.DAGService, format.Node) {
	t.Helper()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dserv := dag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	params := helpers.DagBuilderParams{Dagserv: dserv, Maxlinks: maxLinks, RawLeaves: true, CidBuilder: pbBuilder}
	db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), LeafSize))
	if err != nil {
		t.Fatal(err)
	}
	root, err := balanced.Layout(db)
	if err != nil {
		t.Fatal(err)
	}
	return dserv, root
}

func TestBuildMatchesBoxoImporter(t *testing.T) {
	if MaxLinks != helpers.DefaultLinksPerBlock {
		t.Fatalf("MaxLinks %d, boxo's importer uses %d", MaxLinks, helpers.DefaultLinksPerBlock)
	}
	tests := []struct {
		name     string
		size     int64
		maxLinks int
	}{
		{"empty", 0, MaxLinks},
		{"one byte", 1, MaxLinks},
		{"one leaf less a byte", LeafSize - 1, MaxLinks},
		{"one leaf", LeafSize, MaxLinks},
		{"one leaf and a byte", LeafSize + 1, MaxLinks},
		{"many leaves", 7*LeafSize + 12345, MaxLinks},
		// Narrow nodes give deep trees from little data: full and partial
		// subtrees on every level.
		{"two levels exactly full", 9 * LeafSize, 3},
		{"three levels and a leaf", 27*LeafSize + 1, 3},
		{"four levels partial", 50*LeafSize + 99, 3},
		{"one more than a full level", 5 * LeafSize, 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := randomBytes(tt.size, uint64(i))
			got, err := build(t.Context(), bytes.NewReader(data), tt.size, tt.maxLinks)
			if err != nil {
				t.Fatal(err)
			}
			dserv, want := importWithBoxo(t, data, tt.maxLinks)
			if got.Root != want.Cid() {
				t.Fatalf("root %s, boxo's importer made %s", got.Root, want.Cid())
			}
			if tt.size <= LeafSize && got.Root != RawCid(blake3.Sum256(data)) {
				t.Errorf("a dataset of one leaf has root %s, not its own raw hash", got.Root)
			}
			for _, n := range got.Nodes {
				bn, err := dserv.Get(t.Context(), n.Cid)
				if err != nil {
					t.Fatalf("node %s is not in boxo's DAG: %v", n.Cid, err)
				}
				if !bytes.Equal(bn.RawData(), n.Data) {
					t.Fatalf("node %s: bytes differ from boxo's", n.Cid)
				}
			}
			for j, c := range got.Leaves {
				bn, err := dserv.Get(t.Context(), c)
				if err != nil {
					t.Fatalf("leaf %d %s is not in boxo's DAG: %v", j, c, err)
				}
				off, l := got.Leaf(j)
				if !bytes.Equal(bn.RawData(), data[off:off+l]) {
					t.Fatalf("leaf %d: bytes differ", j)
				}
			}
			// And boxo's UnixFS reader reads the data back from the DAG.
			rd, err := uio.NewDagReader(t.Context(), want, dserv)
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(rd)
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("boxo's reader read %d bytes (%v), want the %d written", len(back), err, len(data))
			}
		})
	}
}

func TestBuildShortReader(t *testing.T) {
	data := randomBytes(3*LeafSize, 1)
	if _, err := Build(t.Context(), bytes.NewReader(data[:2*LeafSize+5]), int64(len(data))); err == nil {
		t.Fatal("a reader shorter than the size built a DAG")
	}
}
