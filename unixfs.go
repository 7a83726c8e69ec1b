package papi

import (
	"context"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/papi-dev/papi/internal/unixfs"
)

// datasetUnixFS is a dataset's UnixFS view. A dataset made here has it
// computed from its bytes; one cloned has the root its manifest claims,
// which the view, once built from the bytes, must equal: the bao root was
// verified piece by piece, but the UnixFS root only by the manifest's
// author, and an IPFS node must get exactly the bytes papi does.
type datasetUnixFS struct {
	claimed cid.Cid

	once sync.Once
	dag  *unixfs.DAG
	err  error
}

// unixfsRoot returns the root of d's UnixFS view: the claimed one if d was
// cloned, so a clone costs no second hash of every byte.
func (d *Dataset) unixfsRoot() (cid.Cid, error) {
	if d.size <= unixfs.LeafSize {
		return unixfs.RawCid(d.digest), nil
	}
	if d.ipfs.claimed.Defined() {
		return d.ipfs.claimed, nil
	}
	dag, err := d.unixfsDAG()
	if err != nil {
		return cid.Undef, err
	}
	return dag.Root, nil
}

// unixfsDAG builds d's UnixFS view from its bytes, once, and checks it
// against the root its manifest claims.
func (d *Dataset) unixfsDAG() (*unixfs.DAG, error) {
	d.ipfs.once.Do(func() {
		if d.err != nil {
			d.ipfs.err = d.err
			return
		}
		ra, closer, err := d.readerAt()
		if err != nil {
			d.ipfs.err = err
			return
		}
		defer closer.Close()
		// Bounded work on the dataset's own bytes; a caller's context
		// would make one cancelled call fail the view for good.
		dag, err := unixfs.Build(context.Background(), ra, d.size)
		switch {
		case err != nil:
			d.ipfs.err = Errorf(CodeDataLoss, "dataset %s: UnixFS view: %w", d.name, err)
		case dag.Root != unixfs.RawCid(d.digest) && d.size <= unixfs.LeafSize:
			d.ipfs.err = errorf(ErrHashMismatch, "dataset %s changed since it was hashed", d.name)
		case d.ipfs.claimed.Defined() && dag.Root != d.ipfs.claimed:
			d.ipfs.err = errorf(ErrHashMismatch, "dataset %s: its bytes make UnixFS root %s, its manifest says %s", d.name, dag.Root, d.ipfs.claimed)
		default:
			d.ipfs.dag = dag
		}
	})
	return d.ipfs.dag, d.ipfs.err
}

// matchesUnixFS checks that d's bytes make the UnixFS root e names.
func (d *Dataset) matchesUnixFS(e manifestEntry) error {
	root, err := d.unixfsRoot()
	if err != nil {
		return err
	}
	if root != e.UnixFS.Cid {
		return errorf(ErrHashMismatch, "dataset %s: its bytes make UnixFS root %s, the manifest says %s", e.Name, root, e.UnixFS.Cid)
	}
	return nil
}
