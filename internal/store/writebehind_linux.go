package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// writeBehind starts the disk writing bytes just written, without waiting
// for it: a clone's final fsync then finds little left to write, where
// without it the whole object waited in the page cache for that fsync,
// a quarter to a third of a clone's time. Errors are the fsync's to report.
func writeBehind(f *os.File, off, n int64) {
	unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
