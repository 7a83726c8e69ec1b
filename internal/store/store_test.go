package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
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

// partials lists what the store's partial directory holds.
func partials(t *testing.T, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Root(), partialDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestCommitRemovesTheLock(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	digest := [32]byte{4}
	p, err := s.Begin(digest, 3)
	if err != nil {
		t.Fatal(err)
	}
	p.File().WriteAt([]byte("abc"), 0)
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if left := partials(t, s); len(left) != 0 {
		t.Fatalf("a finished download left %v", left)
	}
	// A later download of the same object learns it is there.
	if _, err := s.Begin(digest, 3); !errors.Is(err, ErrStored) {
		t.Fatalf("Begin of a stored object: %v, want ErrStored", err)
	}
	if left := partials(t, s); len(left) != 0 {
		t.Fatalf("Begin of a stored object left %v", left)
	}
}

// TestRemovedLockIsNotHeldTwice plays the race that removing a lock file
// opens: a download opens the lock file, and before it locks it, the
// download that held it commits and removes it, and a third makes a new
// lock file and locks it (the object had to be fetched again, gone from
// the store). The second must then be refused, not hold the removed file
// beside the third.
func TestRemovedLockIsNotHeldTwice(t *testing.T) {
	tests := []struct {
		name      string
		keepFirst bool // the first download's object stays: the late one finds it
		want      error
	}{
		{"object kept", true, ErrStored},
		{"object gone, a third download holds the new lock", false, ErrBusy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			digest := [32]byte{5}
			first, err := s.Begin(digest, 1)
			if err != nil {
				t.Fatal(err)
			}
			first.File().WriteAt([]byte("x"), 0)
			var third *Partial
			var once bool
			testBeforeLock = func() {
				if once {
					return
				}
				once = true
				if err := first.Commit(); err != nil {
					t.Error(err)
				}
				if tt.keepFirst {
					return
				}
				os.Remove(s.ObjectPath(digest))
				var err error
				if third, err = s.Begin(digest, 1); err != nil {
					t.Errorf("third download: %v", err)
				}
			}
			t.Cleanup(func() { testBeforeLock = nil })
			late, err := s.Begin(digest, 1)
			if !errors.Is(err, tt.want) {
				if late != nil {
					late.Abort()
				}
				t.Fatalf("late download: %v, want %v", err, tt.want)
			}
			if third != nil {
				if err := third.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			if left := partials(t, s); len(left) != 0 {
				t.Errorf("left %v", left)
			}
		})
	}
}

// TestConcurrentDownloadsHoldOneAtATime runs downloads of one object from
// many goroutines, committing and deleting the object again and again, so
// that lock files are removed and made while others open them: never do
// two hold the object at once.
func TestConcurrentDownloadsHoldOneAtATime(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	digest := [32]byte{6}
	var holders, done atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := 0; i < 200 && !t.Failed(); i++ {
				p, err := s.Begin(digest, 1)
				if errors.Is(err, ErrBusy) || errors.Is(err, ErrStored) {
					runtime.Gosched()
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if n := holders.Add(1); n != 1 {
					t.Errorf("%d downloads hold the object", n)
				}
				p.File().WriteAt([]byte("y"), 0)
				holders.Add(-1)
				if i%2 == 0 {
					p.Abort()
					continue
				}
				if err := p.Commit(); err != nil {
					t.Error(err)
					return
				}
				done.Add(1)
				os.Remove(s.ObjectPath(digest)) // so that it is fetched again
			}
		})
	}
	wg.Wait()
	if done.Load() == 0 {
		t.Fatal("no download committed")
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
