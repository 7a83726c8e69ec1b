//go:build unix

package store

import (
	"errors"
	"io/fs"
	"syscall"
)

// free returns the bytes an unprivileged process may still write on the
// file system holding dir.
func free(dir string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}

// allocated returns the bytes a file holds on disk, which for a partial
// download reserved by an earlier clone is already its whole size.
func allocated(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return 0
}

// noRoom reports whether a write failed for want of space: a full disk, a
// full quota, or a file size limit.
func noRoom(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG)
}
