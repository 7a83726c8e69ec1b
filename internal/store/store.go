// Package store keeps content-addressed objects on disk: datasets by their
// BLAKE3 digest, and whole bundles as directories. Objects appear under
// their final names only when complete and synced, so a crash never leaves
// a half-written object visible; downloads in progress live apart, under a
// lock, so that two clones of the same hash do not corrupt each other and an
// interrupted one can resume.
package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Store is a directory of objects.
type Store struct {
	root string
}

const (
	objectsDir = "objects"
	partialDir = "partial"
	bundlesDir = "bundles"
)

// Open opens (making it if need be) the store rooted at dir.
func Open(dir string) (*Store, error) {
	for _, sub := range []string{objectsDir, partialDir, bundlesDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	// Fail now, with a clear error, if the store cannot be written.
	probe, err := os.CreateTemp(filepath.Join(dir, partialDir), ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("store %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &Store{root: dir}, nil
}

// Root returns the store's directory.
func (s *Store) Root() string { return s.root }

// ObjectPath is where the complete object with that digest lives.
func (s *Store) ObjectPath(digest [32]byte) string {
	return filepath.Join(s.root, objectsDir, hex.EncodeToString(digest[:]))
}

// partialPath is where the download of the object with that digest is kept
// until it is complete.
func (s *Store) partialPath(digest [32]byte) string {
	return filepath.Join(s.root, partialDir, hex.EncodeToString(digest[:]))
}

// HasObject reports whether a complete object with that digest and size is
// stored. The bytes are not re-hashed: objects are only ever renamed into
// place after verification.
func (s *Store) HasObject(digest [32]byte, size int64) bool {
	fi, err := os.Stat(s.ObjectPath(digest))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == size
}

// BundleDir is where a complete bundle with that name (its hash) lives.
func (s *Store) BundleDir(name string) string {
	return filepath.Join(s.root, bundlesDir, name)
}

// HasBundle reports whether a complete bundle of that name is stored.
func (s *Store) HasBundle(name string) bool {
	_, err := os.Stat(filepath.Join(s.BundleDir(name), "manifest.cbor"))
	return err == nil
}

// Bundles returns the names of the complete bundles stored.
func (s *Store) Bundles() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, bundlesDir))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && s.HasBundle(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// PutBundle makes the bundle directory name by calling write on a temporary
// directory and renaming it into place when write succeeds. If the bundle
// is already there, write is not called.
func (s *Store) PutBundle(name string, write func(dir string) error) error {
	final := s.BundleDir(name)
	if s.HasBundle(name) {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, bundlesDir), ".tmp-"+name+"-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // nothing left after a successful rename
	if err := write(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another clone of the same bundle got there first: theirs is as good.
		if s.HasBundle(name) {
			return nil
		}
		return err
	}
	return syncDir(filepath.Dir(final))
}

// hardLink is os.Link; tests replace it to take the copying path.
var hardLink = os.Link

// LinkObject makes path name the object with that digest, without copying
// when the file system allows a hard link. Where it does not (path on
// another file system), the object is copied through a small buffer, since
// it may be larger than memory, and appears at path only once complete.
func (s *Store) LinkObject(digest [32]byte, path string) error {
	src := s.ObjectPath(digest)
	if err := hardLink(src, path); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := out.Name()
	defer os.Remove(tmp) // after the rename, there is nothing there to remove
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(0o444)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("copy object to %s: %w", path, err)
	}
	return nil
}

// Partial is an object being downloaded: a file of the object's full size
// whose pieces are written in any order, held under an exclusive lock.
type Partial struct {
	s      *Store
	digest [32]byte
	size   int64
	f      *os.File
	lock   *os.File
	// resumed: an earlier download left bytes here, which may hold verified pieces.
	resumed bool
}

// Resumed reports whether an earlier, interrupted download left bytes in
// the partial file; if not, there is nothing there worth verifying.
func (p *Partial) Resumed() bool { return p.resumed }

// ErrBusy is returned by Begin when another download of the same object
// holds its lock.
var ErrBusy = errors.New("object is being downloaded by another clone")

// ErrStored is returned by Begin when the object was completed, by another
// download, while Begin waited for its lock.
var ErrStored = errors.New("object is already stored")

// ErrNoRoom is returned, wrapped, when the store's disk cannot hold what
// is to be downloaded.
var ErrNoRoom = errors.New("no room on disk")

// CheckRoom fails with ErrNoRoom when the disk has less free space than
// the objects not yet stored need (object digest to size), so that a clone
// that cannot fit stops before fetching anything rather than after its
// first datasets. Space already reserved by interrupted downloads counts
// as theirs. Where free space cannot be read, it says nothing and Begin's
// reservation still catches a full disk.
func (s *Store) CheckRoom(objects map[[32]byte]int64) error {
	var need int64
	for digest, size := range objects {
		if s.HasObject(digest, size) {
			continue
		}
		if fi, err := os.Stat(s.partialPath(digest)); err == nil {
			size -= min(allocated(fi), size)
		}
		need += size
	}
	have, ok := free(s.root)
	if ok && have < need {
		return fmt.Errorf("store %s: %w: %d bytes to download, %d free", s.root, ErrNoRoom, need, have)
	}
	return nil
}

// Begin opens the partial download of an object, creating it, or reopening
// what an interrupted download left so that its verified pieces can be kept.
// It fails with ErrBusy while another download holds the object, and with
// ErrStored when the object is complete by the time Begin holds it.
func (s *Store) Begin(digest [32]byte, size int64) (*Partial, error) {
	base := s.partialPath(digest)
	lock, err := acquire(base + ".lock")
	if err != nil {
		return nil, err
	}
	if s.HasObject(digest, size) {
		// Another download committed it between the caller's look and
		// this lock: there is nothing to fetch, and the lock guards
		// nothing.
		os.Remove(lock.Name())
		unlockFile(lock)
		lock.Close()
		return nil, ErrStored
	}
	fi, statErr := os.Stat(base)
	resumed := statErr == nil && fi.Size() > 0
	f, err := os.OpenFile(base, os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		err = s.reserve(f, size)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		unlockFile(lock)
		lock.Close()
		if noRoom(err) {
			return nil, fmt.Errorf("%w for an object of %d bytes: %w", ErrNoRoom, size, err)
		}
		return nil, err
	}
	return &Partial{s: s, digest: digest, size: size, f: f, lock: lock, resumed: resumed}, nil
}

// maxLockAttempts bounds how often acquire starts again because the lock
// file it locked had been removed: each time, a download of the object
// finished meanwhile, so more than a few means something else removes it.
const maxLockAttempts = 16

// testBeforeLock, when set by a test, runs between opening a lock file and
// locking it: where another download can remove it.
var testBeforeLock func()

// acquire opens the lock file at path, making it if need be, and locks it.
// A download that finishes removes its lock file while it still holds it
// (Partial.Commit), so a lock taken on a file opened before that removal
// would lock a file no longer at path, while a later download makes and
// locks a new one there: two holders. So acquire checks that the file it
// locked is still the one at path, and starts again if not.
func acquire(path string) (*os.File, error) {
	for range maxLockAttempts {
		lock, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if testBeforeLock != nil {
			testBeforeLock()
		}
		if err := lockFile(lock); err != nil {
			lock.Close()
			return nil, err
		}
		held, err := lock.Stat()
		if err != nil {
			unlockFile(lock)
			lock.Close()
			return nil, err
		}
		at, err := os.Stat(path)
		if err == nil && os.SameFile(held, at) {
			return lock, nil
		}
		unlockFile(lock)
		lock.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, ErrBusy
}

// reserve makes room for the whole object in f before any of it is
// fetched. It asks the file system first, because a reservation that fails
// may have taken every free block by then: whatever it took is given back.
func (s *Store) reserve(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if have, ok := free(s.root); ok && have < size-allocated(fi) {
		return fmt.Errorf("%d bytes free: %w", have, syscall.ENOSPC)
	}
	if err := allocate(f, size); err != nil {
		f.Truncate(fi.Size())
		return err
	}
	return nil
}

// File returns the partial file, for reading back what is there and writing pieces.
func (p *Partial) File() *os.File { return p.f }

// WriteAt writes verified bytes to the partial file. Where the space could
// not be reserved up front, a disk that fills up fails here with ErrNoRoom.
//
// Writes of writeBehindAt bytes or more start going to the disk at once
// (on Linux), so that Commit's sync has little left to wait for.
func (p *Partial) WriteAt(b []byte, off int64) (int, error) {
	n, err := p.f.WriteAt(b, off)
	if err != nil && noRoom(err) {
		err = fmt.Errorf("%w: %w", ErrNoRoom, err)
	}
	if n >= writeBehindAt {
		writeBehind(p.f, off, int64(n))
	}
	return n, err
}

// writeBehindAt is the least a write must be to start writeback at once:
// a clone writes blocks of 4 MiB, and smaller writes are not worth a call.
const writeBehindAt = 1 << 20

// Commit syncs the partial file and renames it into place as a complete
// object. The caller must have verified every piece.
func (p *Partial) Commit() error {
	err := p.f.Sync()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p.f.Name(), p.s.ObjectPath(p.digest))
	}
	if err == nil {
		// The object is in place, so its lock guards nothing any more.
		// It goes while still held: a download that opened it before
		// finds, once it has it locked, that it is no longer at its path
		// (acquire), and one that comes later finds the object. A lock
		// file that cannot be removed is only clutter.
		os.Remove(p.lock.Name())
		err = syncDir(filepath.Join(p.s.root, objectsDir))
	}
	p.release()
	if err != nil {
		return fmt.Errorf("commit object: %w", err)
	}
	return nil
}

// Abort closes the partial download and keeps what it holds for a later resume.
func (p *Partial) Abort() {
	p.f.Close()
	p.release()
}

func (p *Partial) release() {
	unlockFile(p.lock)
	p.lock.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}
