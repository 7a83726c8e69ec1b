package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestPartialCommitIsAtomic(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	digest := [32]byte{1, 2, 3}
	p, err := s.Begin(digest, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.File().WriteAt([]byte("0123456789"), 0); err != nil {
		t.Fatal(err)
	}
	if s.HasObject(digest, 10) {
		t.Fatal("object visible before commit")
	}
	// A second download of the same object is refused while the first holds it.
	if _, err := s.Begin(digest, 10); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Begin: %v, want ErrBusy", err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if !s.HasObject(digest, 10) {
		t.Fatal("object missing after commit")
	}
	got, _ := os.ReadFile(s.ObjectPath(digest))
	if string(got) != "0123456789" {
		t.Fatalf("object holds %q", got)
	}
}

func TestAbortKeepsWhatWasWritten(t *testing.T) {
	s, _ := Open(t.TempDir())
	digest := [32]byte{9}
	p, _ := s.Begin(digest, 4)
	p.File().WriteAt([]byte("ab"), 0)
	p.Abort()
	again, err := s.Begin(digest, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Abort()
	buf := make([]byte, 4)
	again.File().ReadAt(buf, 0)
	if string(buf[:2]) != "ab" {
		t.Fatalf("resumed partial holds %q", buf)
	}
}

func TestPutBundleLeavesNothingOnFailure(t *testing.T) {
	s, _ := Open(t.TempDir())
	boom := errors.New("boom")
	err := s.PutBundle("b1", func(dir string) error {
		os.WriteFile(filepath.Join(dir, "manifest.cbor"), []byte("x"), 0o644)
		return boom
	})
	if !errors.Is(err, boom) || s.HasBundle("b1") {
		t.Fatalf("failed PutBundle: %v, visible %v", err, s.HasBundle("b1"))
	}
	entries, _ := os.ReadDir(filepath.Join(s.Root(), bundlesDir))
	if len(entries) != 0 {
		t.Fatalf("left behind %v", entries)
	}
}

func TestOpenUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := Open(filepath.Join(file, "sub")); err == nil {
		t.Fatal("store under a regular file opened")
	}
}

// TestLinkObjectCopiesInBoundedMemory: where a hard link fails, as across
// file systems, a 64 MiB object is copied to its path byte for byte, read
// only, without holding it in memory.
func TestLinkObjectCopiesInBoundedMemory(t *testing.T) {
	saved := hardLink
	hardLink = func(string, string) error {
		return &os.LinkError{Op: "link", Err: errors.New("invalid cross-device link")}
	}
	t.Cleanup(func() { hardLink = saved })

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	digest := [32]byte{9}
	p, err := s.Begin(digest, size)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i * 7 >> 3)
	}
	if _, err := p.File().WriteAt(want, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "stations.cbor")
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := s.LinkObject(digest, path); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > size/16 {
		t.Errorf("copying a %d-byte object allocated %d bytes", size, grew)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("copied object differs (%v)", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("copied object's mode: %v, %v; want read-only", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) > 0 {
		t.Errorf("temporary files left beside the copy: %v", left)
	}
}
