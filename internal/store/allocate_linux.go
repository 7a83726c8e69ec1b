package store

import (
	"errors"
	"os"
	"syscall"
)

// allocate gives the partial file its final size with every block
// allocated, so that a disk too small fails here, before any byte is
// fetched, rather than on a write halfway through.
func allocate(f *os.File, size int64) error {
	if size > 0 {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if err != nil && !errors.Is(err, syscall.EOPNOTSUPP) && !errors.Is(err, syscall.ENOSYS) {
			return os.NewSyscallError("fallocate", err)
		}
	}
	return f.Truncate(size)
}
