package papi

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
)

// datasetWatch follows one dataset while a clone fetches it, so that a
// reader can send it on as it is verified instead of after the whole
// bundle is in the store: the gateway streams a dataset this way.
//
// The clone tells it which pieces have verified; the reader takes only
// those, from the store's partial file, and never a byte before its piece
// has been checked against the hash.
type datasetWatch struct {
	digest [32]byte
	size   int64

	mu       sync.RWMutex // write-held while the partial file is being closed
	changed  chan struct{}
	file     *os.File // the partial file, while the clone writes it
	verified []bool   // by piece
	done     bool     // the object is complete, in the store
	err      error    // why the clone failed
}

func newDatasetWatch(digest [32]byte, size int64) *datasetWatch {
	return &datasetWatch{
		digest:   digest,
		size:     size,
		changed:  make(chan struct{}),
		verified: make([]bool, (size+PieceSize-1)/PieceSize),
	}
}

// notifyLocked wakes the readers waiting for news; w.mu must be held.
func (w *datasetWatch) notifyLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// begin is told the partial file the clone writes the dataset to.
func (w *datasetWatch) begin(f *os.File) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.file = f
	w.notifyLocked()
}

// piecesVerified marks [off, off+n) as verified and written.
func (w *datasetWatch) piecesVerified(off, n int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := off / PieceSize; i < (off+n+PieceSize-1)/PieceSize && i < int64(len(w.verified)); i++ {
		w.verified[i] = true
	}
	w.notifyLocked()
}

// closing is told that the partial file is about to be closed, before the
// object is committed or the clone given up; reads wait for it.
func (w *datasetWatch) closing() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.file = nil
}

// finish is told how the clone ended: with the dataset in the store, or
// with err.
func (w *datasetWatch) finish(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.err != nil {
		return
	}
	w.file = nil
	if err != nil {
		w.err = err
	} else {
		w.done = true
	}
	w.notifyLocked()
}

// errDatasetStored tells a reader of a watch that the rest of the dataset
// is to be read from the store.
var errDatasetStored = errors.New("dataset stored")

// readVerified reads verified bytes at off into p, waiting for them to be
// verified. It returns errDatasetStored once the clone has put the dataset
// in the store, and the clone's error if it failed.
func (w *datasetWatch) readVerified(ctx context.Context, p []byte, off int64) (int, error) {
	if off >= w.size {
		return 0, io.EOF
	}
	for {
		w.mu.RLock()
		if w.err != nil || w.done {
			err := w.err
			w.mu.RUnlock()
			if err == nil {
				err = errDatasetStored
			}
			return 0, err
		}
		// The run of verified pieces from off, at most len(p) bytes.
		n := int64(0)
		for i := off / PieceSize; i < int64(len(w.verified)) && w.verified[i] && n < int64(len(p)); i++ {
			n = min((i+1)*PieceSize, w.size) - off
		}
		if n > 0 && w.file != nil {
			n = min(n, int64(len(p)))
			got, err := w.file.ReadAt(p[:n], off)
			w.mu.RUnlock()
			if err == io.EOF && int64(got) == n {
				err = nil
			}
			return got, err
		}
		changed := w.changed
		w.mu.RUnlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// started waits until the clone has begun to write the dataset, and
// returns nil then; errDatasetStored if the clone found it or finished
// without the watch seeing it written (it was in the store already, or
// another clone fetched it); or the clone's error.
func (w *datasetWatch) started(ctx context.Context) error {
	for {
		w.mu.RLock()
		file, done, err, changed := w.file, w.done, w.err, w.changed
		w.mu.RUnlock()
		switch {
		case err != nil:
			return err
		case done:
			return errDatasetStored
		case file != nil:
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
