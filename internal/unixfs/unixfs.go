// Package unixfs computes the UnixFS view of a dataset: the DAG an IPFS
// node makes of the same bytes with raw leaves of LeafSize, BLAKE3 and
// boxo's balanced layout, so that IPFS can fetch, pin and verify papi data
// by its own rules. The leaves stay in the dataset's file; only the small
// dag-pb nodes above them are kept in memory.
package unixfs

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
	"lukechampine.com/blake3"
)

// LeafSize is the size of every leaf but the last: papi's piece size, so a
// leaf is exactly a piece and a dataset of one piece is one raw block whose
// CID is the dataset's own hash.
const LeafSize = 256 << 10

// MaxLinks is the fan-out of the balanced layout: boxo's importer default
// (helpers.DefaultLinksPerBlock), which Kubo uses too.
const MaxLinks = 174

// pbBuilder makes the CIDs of the view's dag-pb nodes as `ipfs add
// --hash=blake3` does: CIDv1, a 32-byte BLAKE3 multihash.
var pbBuilder = cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.BLAKE3, MhLength: -1}

// RawCid is the CID of a raw block with that BLAKE3 digest.
func RawCid(digest [32]byte) cid.Cid {
	m, err := mh.Encode(digest[:], mh.BLAKE3)
	if err != nil {
		panic(err) // a 32-byte BLAKE3 digest always encodes
	}
	return cid.NewCidV1(cid.Raw, m)
}

// Node is a dag-pb node of the view, encoded.
type Node struct {
	Cid  cid.Cid
	Data []byte
}

// DAG is the UnixFS view of size bytes.
type DAG struct {
	Root   cid.Cid
	Size   int64
	Leaves []cid.Cid // leaf i holds bytes [i*LeafSize, min((i+1)*LeafSize, Size))
	Nodes  []Node    // the dag-pb nodes, the root last; none for a single leaf
}

// Leaf returns where leaf i lies in the data.
func (d *DAG) Leaf(i int) (offset, length int64) {
	offset = int64(i) * LeafSize
	return offset, min(LeafSize, d.Size-offset)
}

// Build hashes size bytes of r leaf by leaf, on every core, and lays the
// leaves out as boxo's balanced importer does.
func Build(ctx context.Context, r io.ReaderAt, size int64) (*DAG, error) {
	return build(ctx, r, size, MaxLinks)
}

func build(ctx context.Context, r io.ReaderAt, size int64, maxLinks int) (*DAG, error) {
	if size < 0 {
		return nil, fmt.Errorf("unixfs: size %d", size)
	}
	n := int((size + LeafSize - 1) / LeafSize)
	d := &DAG{Size: size, Leaves: make([]cid.Cid, max(n, 1))}
	if n == 0 { // an empty file is one empty raw leaf
		d.Leaves[0] = RawCid(blake3.Sum256(nil))
		d.Root = d.Leaves[0]
		return d, nil
	}
	if err := hashLeaves(ctx, r, d); err != nil {
		return nil, err
	}
	if n == 1 {
		d.Root = d.Leaves[0]
		return d, nil
	}
	// Children of the level being built: CID, bytes of file below, and
	// bytes of DAG below (the link's Tsize).
	type child struct {
		c           cid.Cid
		file, tsize uint64
	}
	level := make([]child, n)
	for i, c := range d.Leaves {
		_, l := d.Leaf(i)
		level[i] = child{c, uint64(l), uint64(l)}
	}
	// Grouping each level by MaxLinks from the left gives the same tree as
	// the importer's depth-first fill: full subtrees, the last one partial.
	for len(level) > 1 {
		var next []child
		for start := 0; start < len(level); start += maxLinks {
			group := level[start:min(start+maxLinks, len(level))]
			fs := ft.NewFSNode(ft.TFile)
			pn := new(dag.ProtoNode)
			if err := pn.SetCidBuilder(pbBuilder); err != nil {
				return nil, err
			}
			for _, ch := range group {
				if err := pn.AddRawLink("", &format.Link{Cid: ch.c, Size: ch.tsize}); err != nil {
					return nil, err
				}
				fs.AddBlockSize(ch.file)
			}
			data, err := fs.GetBytes()
			if err != nil {
				return nil, err
			}
			pn.SetData(data)
			tsize, err := pn.Size()
			if err != nil {
				return nil, err
			}
			d.Nodes = append(d.Nodes, Node{Cid: pn.Cid(), Data: pn.RawData()})
			next = append(next, child{pn.Cid(), fs.FileSize(), tsize})
		}
		level = next
	}
	d.Root = level[0].c
	return d, nil
}

func hashLeaves(ctx context.Context, r io.ReaderAt, d *DAG) error {
	n := len(d.Leaves)
	workers := min(runtime.GOMAXPROCS(0), n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, LeafSize)
			for i := range next {
				if err := ctx.Err(); err != nil {
					errs <- err
					return
				}
				off, l := d.Leaf(i)
				if k, err := r.ReadAt(buf[:l], off); int64(k) < l {
					if err == nil || err == io.EOF {
						err = io.ErrUnexpectedEOF
					}
					errs <- fmt.Errorf("unixfs: read leaf at %d: %w", off, err)
					return
				}
				d.Leaves[i] = RawCid(blake3.Sum256(buf[:l]))
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
