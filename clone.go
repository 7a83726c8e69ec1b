package papi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"lukechampine.com/blake3/bao"

	"github.com/papi-dev/papi/internal/bandwidth"
	"github.com/papi-dev/papi/internal/store"
	"github.com/papi-dev/papi/transport"
)

// Progress reports how a clone is going; a command-line tool draws its
// progress bar from it.
type Progress struct {
	Hash      Hash  // the bundle being cloned
	Verified  int64 // bytes verified so far, counting those already in the store
	Fetched   int64 // bytes received from providers so far
	Total     int64 // bytes of all the bundle's datasets
	Providers int   // providers in use
}

// StoreDir sets where Clone keeps what it fetched. The default is papi/
// under the user's cache directory (os.UserCacheDir).
func StoreDir(dir string) CloneOption {
	return cloneOptionFunc(func(c *cloneConfig) error { c.storeDir = dir; return nil })
}

// OnProgress makes Clone call f as pieces are verified. Calls are serialised.
func OnProgress(f func(Progress)) CloneOption {
	return cloneOptionFunc(func(c *cloneConfig) error { c.progress = f; return nil })
}

// CloneRate bounds the bandwidth a clone takes, in bytes per second, over
// every provider and dataset together; the default is no limit.
func CloneRate(bytesPerSecond int64) CloneOption {
	return cloneOptionFunc(func(c *cloneConfig) error {
		if bytesPerSecond < 0 {
			return fmt.Errorf("clone rate %d: negative", bytesPerSecond)
		}
		c.rate = bytesPerSecond
		return nil
	})
}

// DefaultStoreDir returns where clones are kept by default.
func DefaultStoreDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no store directory (set one with papi.StoreDir): %w", err)
	}
	return filepath.Join(dir, "papi"), nil
}

// Clone clones h from the default peer; see Peer.Clone.
func Clone(ctx context.Context, h Hash, opts ...CloneOption) (*Bundle, error) {
	p, err := DefaultPeer()
	if err != nil {
		return nil, err
	}
	return p.Clone(ctx, h, opts...)
}

// Clone fetches the bundle h names, its manifest, spec and every dataset,
// from every peer that serves it, verifies every piece against the hash as
// it arrives, and keeps it in the local store. It returns the bundle, ready
// to serve: with handlers of this program's own (Serve with Implement), or
// with data of its own (Bundle.WithData).
//
// h may be an API hash: the bundle of the first provider that answers is
// cloned. Pieces come from all providers of that bundle in parallel; a
// provider that sends a bad piece is dropped and the piece fetched again
// from another. A clone that fails keeps what it verified, and the next
// clone of the same hash fetches only the rest. A second clone of a stored
// bundle asks no one. A bundle the store's disk cannot hold fails with
// ErrTooLarge before its datasets are fetched.
func (p *Peer) Clone(ctx context.Context, h Hash, opts ...CloneOption) (*Bundle, error) {
	c, err := newCloneConfig(opts)
	if err != nil {
		return nil, err
	}
	st, err := c.openStore()
	if err != nil {
		return nil, err
	}
	if st.HasBundle(h.String()) {
		return openStored(st, h.String())
	}
	clients, err := p.providers(ctx, h, &c.dialConfig, true)
	if err != nil {
		return nil, err
	}
	first := clients[0]
	var same []*Client
	for _, cl := range clients {
		if cl.bundle == first.bundle {
			same = append(same, cl)
		}
	}
	name := first.bundle.String()
	if st.HasBundle(name) {
		return openStored(st, name)
	}
	// The code is one more object, fetched and verified as a dataset is.
	objectsToFetch := first.manifest.Datasets
	if c := first.manifest.Code; c != nil {
		objectsToFetch = append(slices.Clone(objectsToFetch), c.entry())
	}
	prog := &cloneProgress{report: c.progress, p: Progress{Hash: first.bundle, Providers: len(same)}}
	for _, e := range objectsToFetch {
		prog.p.Total += int64(e.Size)
	}
	objects := make(map[[32]byte]int64, len(objectsToFetch))
	for _, e := range objectsToFetch {
		objects[[32]byte(e.Hash)] = int64(e.Size)
	}
	if err := st.CheckRoom(objects); err != nil {
		return nil, fmt.Errorf("clone %s: %w", first.bundle, errorf(ErrTooLarge, "%w", err))
	}
	limit := bandwidth.New(c.rate) // one limit over every dataset and provider
	for _, e := range objectsToFetch {
		var watch *datasetWatch
		if c.watch != nil && c.watch.digest == [32]byte(e.Hash) {
			watch = c.watch
		}
		if err := p.fetchDataset(ctx, st, same, e, prog, limit, watch); err != nil {
			if errors.Is(err, store.ErrNoRoom) {
				err = errorf(ErrTooLarge, "%w", err)
			}
			return nil, fmt.Errorf("clone %s: dataset %s: %w", first.bundle, e.Name, err)
		}
	}
	err = st.PutBundle(name, func(dir string) error {
		if err := os.MkdirAll(filepath.Join(dir, dataDir), 0o755); err != nil {
			return err
		}
		for _, e := range first.manifest.Datasets {
			if err := st.LinkObject([32]byte(e.Hash), filepath.Join(dir, dataDir, e.Name)); err != nil {
				return err
			}
		}
		if c := first.manifest.Code; c != nil {
			if err := st.LinkObject([32]byte(c.Hash), filepath.Join(dir, codeFile)); err != nil {
				return err
			}
		}
		if err := writeSignatures(dir, cloneSignatures(same)); err != nil {
			return err
		}
		if err := writeLineage(dir, first.lineage); err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(dir, specFile), func(w io.Writer) error { _, err := w.Write(first.specBytes); return err }); err != nil {
			return err
		}
		return writeFileAtomic(filepath.Join(dir, manifestFile), func(w io.Writer) error { _, err := w.Write(first.manifestBytes); return err })
	})
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", first.bundle, err)
	}
	b, err := openStored(st, name)
	if err == nil {
		p.precompile(b)
	}
	return b, err
}

// openStored opens a bundle from the store without hashing its datasets
// again: they were verified piece by piece before they were renamed into
// place, and hashing gigabytes on every open would make a second clone cost
// what the first did.
func openStored(st *store.Store, name string) (*Bundle, error) {
	b, err := openBundleDir(st.BundleDir(name), func(e manifestEntry, path string) (*Dataset, error) {
		fi, err := os.Stat(path)
		if err != nil || fi.Size() != int64(e.Size) {
			return nil, errorf(ErrHashMismatch, "%s is missing or has the wrong size", e.Name)
		}
		return e.storedDataset(path), nil
	})
	if err != nil {
		return nil, fmt.Errorf("stored bundle %s: %w", name, err)
	}
	return b, nil
}

// cloneSignatures gathers the signatures every provider sent, each verified
// already, one per publisher, so that the clone proves who published it too.
func cloneSignatures(providers []*Client) []signature {
	var out []signature
	seen := map[string]bool{}
	for _, c := range providers {
		for _, s := range c.signatures {
			if !seen[string(s.PublicKey)] && len(out) < maxSignatures {
				seen[string(s.PublicKey)] = true
				out = append(out, s)
			}
		}
	}
	return out
}

type cloneProgress struct {
	mu     sync.Mutex
	p      Progress
	report func(Progress)
}

func (c *cloneProgress) add(verified, fetched int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p.Verified += verified
	c.p.Fetched += fetched
	if c.report != nil {
		c.report(c.p)
	}
}

func (c *cloneProgress) providers(delta int) {
	c.mu.Lock()
	c.p.Providers += delta
	c.mu.Unlock()
}

func (c *cloneProgress) setProviders(n int) {
	c.mu.Lock()
	c.p.Providers = n
	c.mu.Unlock()
}

// A clone moves a dataset in blocks of contiguous pieces, one range request
// each; every piece of a block is verified before the block is written.
const (
	piecesPerBlock     = 16
	workersPerProvider = 2
	pipelineDepth      = 2
	// writesQueued is how many verified blocks may wait for the disk
	// while the streams go on: a write that stalls (the disk busy with
	// something else, writeback catching up) no longer stops the stream
	// its worker reads, at 4 MiB of memory a block.
	writesQueued = 4
)

type block struct{ offset, length int64 }

// fetchDataset brings one dataset into the store, from what an earlier
// clone left plus the providers. watch, if not nil, is told what verifies.
func (p *Peer) fetchDataset(ctx context.Context, st *store.Store, providers []*Client, e manifestEntry, prog *cloneProgress, limit *bandwidth.Limiter, watch *datasetWatch) error {
	digest, size := [32]byte(e.Hash), int64(e.Size)
	var part *store.Partial
	for part == nil {
		if st.HasObject(digest, size) {
			prog.add(size, 0)
			return nil
		}
		var err error
		part, err = st.Begin(digest, size)
		switch {
		case errors.Is(err, store.ErrBusy): // another clone is fetching it: wait for its result
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		case errors.Is(err, store.ErrStored): // another clone finished it: the loop finds it
		case err != nil:
			return err
		}
	}
	committed := false
	defer func() {
		if !committed {
			if watch != nil {
				watch.closing()
			}
			part.Abort()
		}
	}()
	var verified func(off, n int64)
	if watch != nil {
		watch.begin(part.File())
		verified = watch.piecesVerified
	}

	ob, live, err := p.fetchOutboard(ctx, providers, digest, size)
	if err != nil {
		return err
	}
	prog.setProviders(len(live))
	missing := allBlocks(size)
	if part.Resumed() {
		if missing, err = resumePieces(part.File(), ob, size, digest, prog); err != nil {
			return err
		}
		if verified != nil {
			off := int64(0)
			for _, b := range missing {
				verified(off, b.offset-off)
				off = b.offset + b.length
			}
			verified(off, size-off)
		}
	} else if size == 0 && !verifyPiece(nil, ob, 0, digest) {
		return errorf(ErrHashMismatch, "empty dataset does not match its hash")
	}
	if err := p.fetchBlocks(ctx, live, part, ob, digest, missing, prog, limit, verified); err != nil {
		return err
	}
	committed = true
	if watch != nil {
		watch.closing()
	}
	return part.Commit()
}

// fetchOutboard gets the dataset's outboard tree from the first provider
// whose tree verifies; it returns the providers still worth asking.
func (p *Peer) fetchOutboard(ctx context.Context, providers []*Client, digest [32]byte, size int64) ([]byte, []*Client, error) {
	obSize := bao.EncodedSize(int(size), pieceGroup, true)
	var errs []error
	for i, c := range providers {
		ob, err := func() ([]byte, error) {
			ds, err := transport.OpenData(ctx, p.host.Libp2p(), c.remote)
			if err != nil {
				return nil, err
			}
			defer ds.Close()
			ob, err := ds.Outboard(digest, obSize)
			if err != nil {
				return nil, err
			}
			return ob, checkOutboard(ob, size, digest)
		}()
		if err == nil {
			return ob, providers[i:], nil
		}
		errs = append(errs, fmt.Errorf("peer %s: %w", c.remote, err))
	}
	return nil, nil, errorf(ErrNoProvider, "no provider sent a valid outboard tree: %w", errors.Join(errs...))
}

// allBlocks covers a whole dataset.
func allBlocks(size int64) []block {
	var out []block
	for off := int64(0); off < size; off += piecesPerBlock * PieceSize {
		out = append(out, block{off, min(piecesPerBlock*PieceSize, size-off)})
	}
	return out
}

// resumePieces keeps the pieces an interrupted clone left that verify, and
// returns the blocks still to fetch.
func resumePieces(f *os.File, ob []byte, size int64, root [32]byte, prog *cloneProgress) ([]block, error) {
	var missing []block
	buf := make([]byte, PieceSize)
	for off := int64(0); off < size; off += PieceSize {
		n := min(PieceSize, size-off)
		if _, err := f.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if verifyPiece(buf[:n], ob, off, root) {
			prog.add(n, 0)
			continue
		}
		if last := len(missing) - 1; last >= 0 && missing[last].offset+missing[last].length == off && missing[last].length < piecesPerBlock*PieceSize {
			missing[last].length += n
		} else {
			missing = append(missing, block{off, n})
		}
	}
	if size == 0 && !verifyPiece(nil, ob, 0, root) {
		return nil, errorf(ErrHashMismatch, "empty dataset does not match its hash")
	}
	return missing, nil
}

// fetchBlocks fetches blocks from every provider at once. A provider whose
// stream fails or who sends a piece that does not verify is dropped, and
// its block goes back in the queue for the others.
// verified, if not nil, is told of each block written.
func (p *Peer) fetchBlocks(ctx context.Context, providers []*Client, f io.WriterAt, ob []byte, root [32]byte, blocks []block, prog *cloneProgress, limit *bandwidth.Limiter, verified func(off, n int64)) error {
	if len(blocks) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	todo := make(chan block, len(blocks))
	for _, b := range blocks {
		todo <- b
	}
	var remaining atomic.Int64
	remaining.Store(int64(len(blocks)))

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		errs     []error // why each provider was dropped
		writeErr error   // the first failure to write to the store
	)
	drop := func(c *Client, bad *atomic.Bool, err error) {
		if bad.Swap(true) {
			return
		}
		prog.providers(-1)
		p.log.WarnContext(ctx, "papi: clone: provider dropped", "peer", c.remote.String(), "err", err)
		mu.Lock()
		errs = append(errs, fmt.Errorf("peer %s: %w", c.remote, err))
		mu.Unlock()
	}
	// Verified blocks go to the disk from one goroutine, in the order
	// they were verified; a block counts as done once it is written.
	// Buffers go round between the workers and the writer: one per worker
	// and one per queued write, made when first needed.
	writes := make(chan verifiedBlock, writesQueued)
	bufs := make(chan []byte, workersPerProvider*len(providers)+writesQueued)
	for range cap(bufs) {
		bufs <- nil
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		for w := range writes {
			if ctx.Err() == nil {
				if _, err := f.WriteAt(w.buf[:w.length], w.offset); err != nil {
					mu.Lock()
					if writeErr == nil {
						writeErr = err
					}
					mu.Unlock()
					cancel()
				} else {
					if verified != nil {
						verified(w.offset, w.length)
					}
					prog.add(w.length, w.length)
					p.metrics.cloned(w.length)
					if remaining.Add(-1) == 0 {
						close(todo)
					}
				}
			}
			bufs <- w.buf
		}
	}()
	for _, c := range providers {
		bad := new(atomic.Bool)
		for range workersPerProvider {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ds, err := transport.OpenData(ctx, p.host.Libp2p(), c.remote)
				if err != nil {
					drop(c, bad, err)
					return
				}
				defer ds.Close()
				// A stream read does not watch ctx: reset the stream when it ends.
				stop := context.AfterFunc(ctx, func() { ds.Reset() })
				defer stop()
				// Up to pipelineDepth blocks are asked for ahead of the one being
				// read, so the stream is busy while a block is verified and written.
				var asked []block
				giveBack := func() {
					for _, b := range asked {
						todo <- b
					}
					asked = nil
				}
				for {
					for len(asked) < pipelineDepth {
						var b block
						var ok bool
						if len(asked) == 0 {
							select {
							case b, ok = <-todo:
								if !ok {
									return // every block is done
								}
							case <-ctx.Done():
								return
							}
						} else {
							select {
							case b = <-todo:
								ok = true
							default:
							}
						}
						if !ok {
							break
						}
						asked = append(asked, b)
						if bad.Load() || ctx.Err() != nil {
							giveBack()
							return
						}
						// Asking waits for the rate: what is not asked for is
						// not sent, so the limit holds on the wire too.
						if err := bandwidth.Wait(ctx, b.length, limit); err != nil {
							giveBack()
							return
						}
						if err := ds.RequestRange(root, b.offset, b.length); err != nil {
							giveBack()
							drop(c, bad, err)
							return
						}
					}
					b := asked[0]
					var buf []byte
					select {
					case buf = <-bufs:
					case <-ctx.Done():
						giveBack()
						return
					}
					if buf == nil {
						buf = make([]byte, piecesPerBlock*PieceSize)
					}
					if err := readBlock(ds, ob, root, b, buf); err != nil {
						bufs <- buf
						giveBack()
						ds.Reset()
						drop(c, bad, err)
						return
					}
					asked = asked[1:]
					writes <- verifiedBlock{b, buf}
				}
			}()
		}
	}
	wg.Wait()
	close(writes)
	<-written
	switch {
	case writeErr != nil:
		return fmt.Errorf("write to store: %w", writeErr)
	case remaining.Load() == 0:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return errorf(ErrNoProvider, "every provider failed: %w", errors.Join(errs...))
}

// verifiedBlock is a block read and verified, waiting to be written.
type verifiedBlock struct {
	block
	buf []byte
}

// readBlock reads the answer to a block's range request into buf and
// verifies every piece of it.
func readBlock(ds *transport.DataStream, ob []byte, root [32]byte, b block, buf []byte) error {
	data := buf[:b.length]
	if err := ds.ReadRange(data); err != nil {
		return err
	}
	for off := int64(0); off < b.length; off += PieceSize {
		piece := data[off:min(off+PieceSize, b.length)]
		if !verifyPiece(piece, ob, b.offset+off, root) {
			return &CorruptPieceError{Offset: b.offset + off, Length: int64(len(piece))}
		}
	}
	return nil
}
