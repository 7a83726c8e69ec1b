package store

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// TestBeginReservesTheSpace checks that a download's blocks are allocated
// when it begins, not as pieces arrive: a disk that fills up then fails the
// clone before it fetches, not halfway.
func TestBeginReservesTheSpace(t *testing.T) {
	dir := t.TempDir()
	probe, err := os.Create(dir + "/probe")
	if err != nil {
		t.Fatal(err)
	}
	err = syscall.Fallocate(int(probe.Fd()), 0, 0, 1)
	probe.Close()
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		t.Skip("this file system cannot reserve space; downloads fill it as they go")
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const size = 3<<20 + 1
	p, err := s.Begin([32]byte{4}, size)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	fi, err := os.Stat(p.File().Name())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size || allocated(fi) < size {
		t.Fatalf("partial file: size %d, %d bytes allocated; want %d of both", fi.Size(), allocated(fi), size)
	}
}

func TestRoom(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	have, ok := free(s.Root())
	if !ok {
		t.Fatal("free space of the store's disk unknown")
	}
	tests := []struct {
		name   string
		size   int64
		noRoom bool
	}{
		{"one byte", 1, false},
		{"more than the disk has free", have + 1<<30, true},
		{"more than any disk", 1 << 60, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			digest := [32]byte{5, byte(len(tt.name))}
			err := s.CheckRoom(map[[32]byte]int64{digest: tt.size})
			if errors.Is(err, ErrNoRoom) != tt.noRoom {
				t.Fatalf("CheckRoom(%d bytes) = %v, want no room: %t", tt.size, err, tt.noRoom)
			}
			p, err := s.Begin(digest, tt.size)
			if errors.Is(err, ErrNoRoom) != tt.noRoom {
				t.Fatalf("Begin(%d bytes) = %v, want no room: %t", tt.size, err, tt.noRoom)
			}
			if err == nil {
				p.Abort()
			}
			// A download refused for want of room holds no lock.
			if p, err := s.Begin(digest, 1); err != nil {
				t.Fatalf("Begin after a refusal: %v", err)
			} else {
				p.Abort()
			}
		})
	}
	// An object already stored needs no room, however large it claims to be.
	p, _ := s.Begin([32]byte{6}, 1)
	p.WriteAt([]byte{'x'}, 0)
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckRoom(map[[32]byte]int64{{6}: 1}); err != nil {
		t.Fatalf("CheckRoom of a stored object: %v", err)
	}
}
