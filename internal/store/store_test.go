package store

import (
	"errors"
	"os"
	"path/filepath"
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
