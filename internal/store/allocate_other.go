//go:build !linux

package store

import "os"

// allocate sets the partial file's size; without fallocate the blocks are
// allocated as pieces are written, and a full disk shows up as a write error.
func allocate(f *os.File, size int64) error { return f.Truncate(size) }
