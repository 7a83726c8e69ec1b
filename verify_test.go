package papi

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"lukechampine.com/blake3"
	"lukechampine.com/blake3/bao"
)

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

func TestVerifyDatasetFindsTheCorruptPiece(t *testing.T) {
	sizes := []int{0, 1, PieceSize - 1, PieceSize, PieceSize + 1, 5*PieceSize + 123}
	for _, size := range sizes {
		data := randomBytes(size, uint64(size))
		d := &Dataset{name: "blob"}
		d.setBytes(data)
		ob, err := d.Outboard()
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyDataset(t.Context(), bytes.NewReader(data), int64(size), ob, d.Hash()); err != nil {
			t.Errorf("size %d: intact data: %v", size, err)
		}
		if size == 0 {
			continue
		}
		for _, at := range []int{0, size / 2, size - 1} {
			bad := bytes.Clone(data)
			bad[at] ^= 0x80
			err := VerifyDataset(t.Context(), bytes.NewReader(bad), int64(size), ob, d.Hash())
			var cp *CorruptPieceError
			if !errors.As(err, &cp) || !errors.Is(err, ErrHashMismatch) {
				t.Fatalf("size %d, byte %d flipped: %v, want *CorruptPieceError", size, at, err)
			}
			if wantOff := int64(at / PieceSize * PieceSize); cp.Offset != wantOff {
				t.Errorf("size %d, byte %d flipped: offset %d, want %d", size, at, cp.Offset, wantOff)
			}
		}
		if err := VerifyDataset(t.Context(), bytes.NewReader(data[:size-1]), int64(size), ob, d.Hash()); err == nil {
			t.Errorf("size %d: truncated data verified", size)
		}
	}
}

func TestVerifyDatasetRejectsBadOutboard(t *testing.T) {
	data := randomBytes(3*PieceSize, 7)
	d := &Dataset{name: "blob"}
	d.setBytes(data)
	ob, _ := d.Outboard()
	bad := bytes.Clone(ob)
	bad[len(bad)-1] ^= 1
	if err := VerifyDataset(t.Context(), bytes.NewReader(data), int64(len(data)), bad, d.Hash()); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("corrupt outboard: %v, want ErrHashMismatch", err)
	}
	if err := VerifyDataset(t.Context(), bytes.NewReader(data), int64(len(data)), ob[:len(ob)-64], d.Hash()); !errors.Is(err, ErrMalformed) {
		t.Errorf("short outboard: %v, want ErrMalformed", err)
	}
	other := (&Dataset{}).withBytes(randomBytes(3*PieceSize, 8))
	if err := VerifyDataset(t.Context(), bytes.NewReader(data), int64(len(data)), ob, other.Hash()); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("wrong hash: %v, want ErrHashMismatch", err)
	}
}

func (d *Dataset) withBytes(b []byte) *Dataset { d.setBytes(b); return d }

func TestDataFileIsHashedAsAStream(t *testing.T) {
	data := randomBytes(2*PieceSize+5, 9)
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	d := DataFile("blob", path)
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	if d.digest != blake3.Sum256(data) || d.Size() != int64(len(data)) {
		t.Fatal("file dataset hash differs from blake3 of its bytes")
	}
	r := DataReader("blob", bytes.NewReader(data))
	t.Cleanup(func() { os.Remove(r.path) })
	if r.Hash() != d.Hash() {
		t.Fatal("reader dataset hash differs from file dataset hash")
	}
	// A file changed behind papi's back is caught when read.
	data[0] ^= 1
	os.WriteFile(path, data, 0o644)
	if _, err := d.Bytes(); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("changed file: %v, want ErrHashMismatch", err)
	}
}

// The 256 MiB benchmarks of the bundle issue: papi's hashing and piecewise
// verification against blake3.Sum256 and bao on the same bytes.
const benchDatasetSize = 256 << 20

func BenchmarkDatasetHash(b *testing.B) {
	data := randomBytes(benchDatasetSize, 1)
	path := filepath.Join(b.TempDir(), "blob")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("papi.DataFile", func(b *testing.B) {
		b.SetBytes(benchDatasetSize)
		for b.Loop() {
			if d := DataFile("blob", path); d.Err() != nil {
				b.Fatal(d.Err())
			}
		}
	})
	b.Run("blake3.Sum256", func(b *testing.B) {
		b.SetBytes(benchDatasetSize)
		for b.Loop() {
			blake3.Sum256(data)
		}
	})
	b.Run("os.ReadFile+blake3.Sum256", func(b *testing.B) {
		b.SetBytes(benchDatasetSize)
		for b.Loop() {
			raw, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			blake3.Sum256(raw)
		}
	})
}

func BenchmarkDatasetVerify(b *testing.B) {
	data := randomBytes(benchDatasetSize, 1)
	d := (&Dataset{name: "blob"}).withBytes(data)
	ob, err := d.Outboard()
	if err != nil {
		b.Fatal(err)
	}
	root := d.digest
	b.Run("papi", func(b *testing.B) {
		b.SetBytes(benchDatasetSize)
		for b.Loop() {
			if err := VerifyDataset(b.Context(), bytes.NewReader(data), benchDatasetSize, ob, d.Hash()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bao.Decode", func(b *testing.B) {
		b.SetBytes(benchDatasetSize)
		for b.Loop() {
			ok, err := bao.Decode(discard{}, bytes.NewReader(data), bytes.NewReader(ob), pieceGroup, root)
			if !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("blake3.Sum256", func(b *testing.B) {
		b.SetBytes(benchDatasetSize)
		for b.Loop() {
			if blake3.Sum256(data) != root {
				b.Fatal("mismatch")
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
