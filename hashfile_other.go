//go:build !unix

package papi

import "os"

// hashFile reports that files are streamed here, not mapped.
func hashFile(*os.File) ([32]byte, int64, bool) { return [32]byte{}, 0, false }
