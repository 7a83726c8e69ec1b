package papi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"sync"

	"lukechampine.com/blake3"
	"lukechampine.com/blake3/bao"
	"lukechampine.com/blake3/guts"
)

// PieceSize is the unit in which papi verifies and moves dataset bytes:
// 256 KiB, bao group 8 (2^8 chunks of 1 KiB).
//
// Why 256 KiB: the outboard tree costs 64 bytes per piece, 0.025% of the
// data (256 KiB for 1 GiB), so it is kept in memory whole and fetched before
// any data; hashing a group of 256 chunks keeps BLAKE3's SIMD lanes full; and
// a piece is large enough that a request per piece is cheap on a stream,
// small enough that a bad piece costs little to fetch again from another
// peer.
const PieceSize = 1 << (pieceGroup + 10)

const pieceGroup = 8 // bao counts a group in 1 KiB chunks: 2^8 of them

// CorruptPieceError reports a piece of a dataset whose bytes do not verify
// against the dataset's hash. errors.Is(err, ErrHashMismatch) holds for it.
type CorruptPieceError struct {
	Dataset string // the dataset's name, if known
	Offset  int64  // where the piece starts
	Length  int64  // its length
}

func (e *CorruptPieceError) Error() string {
	name := e.Dataset
	if name == "" {
		name = "dataset"
	}
	return fmt.Sprintf("%s: piece at offset %d (%d bytes) does not match the hash", name, e.Offset, e.Length)
}

// Is makes a corrupt piece a hash mismatch.
func (e *CorruptPieceError) Is(target error) bool { return target == ErrHashMismatch }

// VerifyBundle checks that b is what want names: want is either b's bundle
// hash or b's API hash. Every part is hashed again, datasets as streams.
func VerifyBundle(b *Bundle, want Hash) error {
	if hashBytes(codecCBOR, b.specBytes) != b.apiHash {
		return errorf(ErrHashMismatch, "spec does not match API hash %s", b.apiHash)
	}
	if hashBytes(codecCBOR, b.manifestBytes) != b.hash {
		return errorf(ErrHashMismatch, "manifest does not match bundle hash %s", b.hash)
	}
	if want != b.hash && want != b.apiHash {
		return errorf(ErrHashMismatch, "want %s, bundle is %s (API %s)", want, b.hash, b.apiHash)
	}
	for _, d := range b.datasets {
		if err := d.rehash(); err != nil {
			return err
		}
	}
	return nil
}

// rehash reads the dataset again and checks it against its digest.
func (d *Dataset) rehash() error {
	r, err := d.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	digest, n, err := hashStream(r, nil)
	if err != nil {
		return fmt.Errorf("dataset %s: %w", d.name, err)
	}
	if n != d.size || digest != d.digest {
		return errorf(ErrHashMismatch, "dataset %s changed since it was hashed", d.name)
	}
	return nil
}

// Outboard returns the dataset's bao outboard tree for PieceSize pieces: the
// hashes that let any piece be verified on its own against the dataset's
// hash. It is computed once, reading the dataset as a stream.
func (d *Dataset) Outboard() ([]byte, error) {
	d.outboardOnce.Do(func() {
		r, err := d.Open()
		if err != nil {
			d.outboardErr = err
			return
		}
		defer r.Close()
		ob := make([]byte, bao.EncodedSize(int(d.size), pieceGroup, true))
		root, err := bao.Encode(&bytesAt{ob}, r, d.size, pieceGroup, true)
		switch {
		case err != nil:
			d.outboardErr = fmt.Errorf("dataset %s: outboard: %w", d.name, unexpectedEOF(err))
		case root != d.digest:
			d.outboardErr = errorf(ErrHashMismatch, "dataset %s changed since it was hashed", d.name)
		default:
			d.outboard = ob
		}
	})
	return d.outboard, d.outboardErr
}

type bytesAt struct{ b []byte }

func (b *bytesAt) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(b.b)) {
		return 0, errors.New("outboard write out of range")
	}
	return copy(b.b[off:], p), nil
}

// checkOutboard verifies that an outboard tree is complete and consistent
// with root down to the hash of every piece, so that a piece that fails
// later is known to be bad data, not a bad tree.
func checkOutboard(ob []byte, size int64, root [32]byte) error {
	if size < 0 || len(ob) != bao.EncodedSize(int(size), pieceGroup, true) {
		return errorf(ErrMalformed, "outboard of %d bytes for %d bytes of data", len(ob), size)
	}
	if binary.LittleEndian.Uint64(ob) != uint64(size) {
		return errorf(ErrMalformed, "outboard is for %d bytes, data has %d", binary.LittleEndian.Uint64(ob), size)
	}
	pos := 8
	var rec func(cv [8]uint32, n uint64, flags uint32) bool
	rec = func(cv [8]uint32, n uint64, flags uint32) bool {
		if n <= PieceSize {
			return true // a leaf: only its data can check it
		}
		l, r := bytesToCV(ob[pos:]), bytesToCV(ob[pos+32:])
		pos += 64
		mid := uint64(1) << (bits.Len64(n-1) - 1)
		return guts.ChainingValue(guts.ParentNode(l, r, &guts.IV, flags)) == cv && rec(l, mid, 0) && rec(r, n-mid, 0)
	}
	if !rec(bytesToCV(root[:]), uint64(size), guts.FlagRoot) {
		return errorf(ErrHashMismatch, "outboard tree does not match the hash")
	}
	return nil
}

func bytesToCV(b []byte) (cv [8]uint32) {
	for i := range cv {
		cv[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return cv
}

// verifyPiece checks one piece (offset a multiple of PieceSize, length
// PieceSize or what is left) against a checked outboard tree.
func verifyPiece(piece, ob []byte, offset int64, root [32]byte) bool {
	if len(ob) == 8 && len(piece) == 0 { // the empty dataset
		return blake3.Sum256(nil) == root
	}
	return bao.VerifyChunk(piece, ob, pieceGroup, uint64(offset), root)
}

// VerifyDataset reads size bytes of a dataset from r and verifies them piece
// by piece against want with the dataset's outboard tree (Dataset.Outboard,
// or as received from a peer). Memory stays bounded by a few pieces whatever
// the size; pieces are hashed on all cores. The first corrupt piece found is
// reported as a *CorruptPieceError with its offset.
func VerifyDataset(ctx context.Context, r io.Reader, size int64, outboard []byte, want Hash) error {
	root := want.Digest()
	if err := checkOutboard(outboard, size, root); err != nil {
		return err
	}
	if size == 0 {
		if !verifyPiece(nil, outboard, 0, root) {
			return &CorruptPieceError{}
		}
		return nil
	}
	type job struct {
		buf    []byte
		offset int64
	}
	workers := min(runtime.GOMAXPROCS(0), int((size+PieceSize-1)/PieceSize))
	jobs := make(chan job, workers)
	free := make(chan []byte, 2*workers)
	for range 2 * workers {
		free <- make([]byte, PieceSize)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu  sync.Mutex
		bad *CorruptPieceError
		wg  sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if !verifyPiece(j.buf, outboard, j.offset, root) {
					mu.Lock()
					if bad == nil || j.offset < bad.Offset {
						bad = &CorruptPieceError{Offset: j.offset, Length: int64(len(j.buf))}
					}
					mu.Unlock()
					cancel()
				}
				free <- j.buf[:cap(j.buf)]
			}
		}()
	}
	var readErr error
	for off := int64(0); off < size; off += PieceSize {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
		}
		if buf == nil {
			break
		}
		n := min(PieceSize, size-off)
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			readErr = fmt.Errorf("read at offset %d: %w", off, unexpectedEOF(err))
			break
		}
		jobs <- job{buf: buf[:n], offset: off}
	}
	close(jobs)
	wg.Wait()
	switch {
	case bad != nil:
		return bad
	case readErr != nil:
		return readErr
	}
	return context.Cause(ctx)
}
