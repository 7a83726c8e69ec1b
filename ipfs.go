package papi

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"

	"github.com/papi-dev/papi/internal/unixfs"
)

// blockView is what a peer serves to IPFS nodes by bitswap: the blocks of
// the bundles it serves, found where they already are. Manifests, specs
// and the small dag-pb nodes are kept in memory; a leaf is read from its
// dataset's file at its offset, so no byte is stored twice.
type blockView struct {
	mu     sync.RWMutex
	blocks map[string][]viewBlock // by CID; one entry per server offering it
	owned  map[*Server][]string   // the keys each server added
	files  map[*Server][]io.Closer
}

// viewBlock is one block: bytes, or n bytes of src at off.
type viewBlock struct {
	owner *Server
	data  []byte
	src   io.ReaderAt
	off   int64
	n     int
}

func newBlockView() *blockView {
	return &blockView{blocks: map[string][]viewBlock{}, owned: map[*Server][]string{}, files: map[*Server][]io.Closer{}}
}

var errReadOnly = errors.New("papi's block view is read-only")

func (v *blockView) lookup(c cid.Cid) (viewBlock, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	bs := v.blocks[c.KeyString()]
	if len(bs) == 0 {
		return viewBlock{}, false
	}
	return bs[0], true
}

func (v *blockView) Has(_ context.Context, c cid.Cid) (bool, error) {
	_, ok := v.lookup(c)
	return ok, nil
}

func (v *blockView) GetSize(_ context.Context, c cid.Cid) (int, error) {
	b, ok := v.lookup(c)
	if !ok {
		return 0, ipld.ErrNotFound{Cid: c}
	}
	if b.src == nil {
		return len(b.data), nil
	}
	return b.n, nil
}

func (v *blockView) Get(_ context.Context, c cid.Cid) (blocks.Block, error) {
	b, ok := v.lookup(c)
	if !ok {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	data := b.data
	if b.src != nil {
		data = make([]byte, b.n)
		if k, err := b.src.ReadAt(data, b.off); k < b.n {
			// The file went away or shrank under the server: not a block
			// to send, and not one to claim.
			b.owner.peer.log.Warn("papi: bitswap: cannot read a leaf", "cid", c.String(), "err", err)
			return nil, ipld.ErrNotFound{Cid: c}
		}
	}
	return blocks.NewBlockWithCid(data, c)
}

func (v *blockView) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	v.mu.RLock()
	keys := make([]cid.Cid, 0, len(v.blocks))
	for k := range v.blocks {
		if c, err := cid.Cast([]byte(k)); err == nil {
			keys = append(keys, c)
		}
	}
	v.mu.RUnlock()
	out := make(chan cid.Cid)
	go func() {
		defer close(out)
		for _, c := range keys {
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (v *blockView) Put(context.Context, blocks.Block) error       { return errReadOnly }
func (v *blockView) PutMany(context.Context, []blocks.Block) error { return errReadOnly }
func (v *blockView) DeleteBlock(context.Context, cid.Cid) error    { return errReadOnly }

// add offers blocks for s, unless s has closed since they were gathered.
func (v *blockView) add(s *Server, bs map[cid.Cid]viewBlock, files []io.Closer) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s.mu.Lock()
	closing := s.closing // drop comes after closing is set, and waits for v.mu
	s.mu.Unlock()
	if closing {
		for _, f := range files {
			f.Close()
		}
		return
	}
	for c, b := range bs {
		k := c.KeyString()
		b.owner = s
		v.blocks[k] = append(v.blocks[k], b)
		v.owned[s] = append(v.owned[s], k)
	}
	v.files[s] = append(v.files[s], files...)
}

// drop withdraws what s offered.
func (v *blockView) drop(s *Server) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range v.owned[s] {
		rest := slices.DeleteFunc(v.blocks[k], func(b viewBlock) bool { return b.owner == s })
		if len(rest) == 0 {
			delete(v.blocks, k)
		} else {
			v.blocks[k] = rest
		}
	}
	for _, f := range v.files[s] {
		f.Close()
	}
	delete(v.owned, s)
	delete(v.files, s)
}

// offerIPFS puts s's bundle in the peer's block view, and, on the public
// DHT, announces the UnixFS roots of its datasets (the bundle and API
// hashes are announced as for papi). A dataset whose bytes do not make the
// UnixFS root its manifest names is left out, and logged.
func (p *Peer) offerIPFS(s *Server) {
	b := s.b
	bs := map[cid.Cid]viewBlock{
		b.hash.c:    {data: b.manifestBytes},
		b.apiHash.c: {data: b.specBytes},
	}
	var files []io.Closer
	var roots []mh.Multihash
	parts := b.datasets
	if b.code != nil {
		parts = append(slices.Clone(parts), b.code)
	}
	for _, d := range parts {
		if s.ctx.Err() != nil {
			break
		}
		root, err := d.offerBlocks(bs, &files)
		if err != nil {
			p.log.Warn("papi: dataset left out of the IPFS view", "bundle", b.hash.String(), "dataset", d.name, "err", err)
			continue
		}
		roots = append(roots, root.Hash())
	}
	p.blocks.add(s, bs, files)
	close(s.ipfsOffered)
	if p.publicDHT && len(roots) > 0 {
		p.announceKeys(s.ctx, roots)
	}
}

// offerBlocks adds d's UnixFS blocks to bs, its leaves as places in a file
// opened once and kept in files, and returns the view's root.
func (d *Dataset) offerBlocks(bs map[cid.Cid]viewBlock, files *[]io.Closer) (cid.Cid, error) {
	var dag *unixfs.DAG
	if d.size > unixfs.LeafSize {
		var err error
		if dag, err = d.unixfsDAG(); err != nil {
			return cid.Undef, err
		}
	} else {
		// One leaf, already verified as the dataset's own hash.
		root := unixfs.RawCid(d.digest)
		dag = &unixfs.DAG{Root: root, Size: d.size, Leaves: []cid.Cid{root}}
	}
	ra, closer, err := d.readerAt()
	if err != nil {
		return cid.Undef, err
	}
	*files = append(*files, closer)
	for _, n := range dag.Nodes {
		bs[n.Cid] = viewBlock{data: n.Data}
	}
	for i, c := range dag.Leaves {
		off, n := dag.Leaf(i)
		bs[c] = viewBlock{src: ra, off: off, n: int(n)}
	}
	return dag.Root, nil
}
