//go:build !unix

package store

import "io/fs"

// free is unknown here; Begin's reservation still catches a full disk.
func free(string) (int64, bool) { return 0, false }

func allocated(fs.FileInfo) int64 { return 0 }

// noRoom cannot tell a full disk from other write errors here.
func noRoom(error) bool { return false }
