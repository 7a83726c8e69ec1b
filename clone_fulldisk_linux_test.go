package papi

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestCloneIntoAFullDisk clones a bundle whose second dataset does not fit.
// The disk is made full for a child process alone, by a file size limit
// (RLIMIT_FSIZE) under which writing past 2 MiB fails as it does on a full
// disk, without filling the machine's. The clone must fail with ErrTooLarge
// naming the dataset, before fetching it, keep the first dataset it
// verified, and leave the store so that, with room again, the next clone
// fetches only what is missing.
func TestCloneIntoAFullDisk(t *testing.T) {
	const limit = 2 << 20
	orig, err := boothsAPI(t).Bundle(
		DataReader("a-fits", bytes.NewReader(randomBytes(1<<20, 21))),
		DataReader("b-does-not-fit", bytes.NewReader(randomBytes(3<<20, 22))))
	if err != nil {
		t.Fatal(err)
	}
	server := newTestPeer(t)
	serveTest(t, server, orig)
	dir := t.TempDir()

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestChildCloneUnderAFileSizeLimit$")
	cmd.Env = append(os.Environ(), "PAPI_TEST_CLONE_LIMITED="+strings.Join(
		[]string{orig.Hash().String(), server.Addrs()[0], dir, strconv.Itoa(limit)}, " "))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var result string
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		if rest, ok := strings.CutPrefix(sc.Text(), "CLONE "); ok {
			result = rest
		}
	}
	t.Logf("clone under a 2 MiB file size limit: %s", result)
	for _, want := range []string{"too-large=true", "dataset b-does-not-fit", "no room"} {
		if !strings.Contains(result, want) {
			t.Fatalf("clone under a 2 MiB file size limit: %q, want it to contain %q", result, want)
		}
	}

	// What was verified is kept; nothing is visible as a bundle.
	fits, _ := orig.Dataset("a-fits")
	want, _ := fits.Bytes()
	digest := fits.Hash().Digest()
	stored, err := os.ReadFile(filepath.Join(dir, "objects", hex.EncodeToString(digest[:])))
	if err != nil || !bytes.Equal(stored, want) {
		t.Fatalf("the dataset that fitted was not kept whole: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "bundles")); len(entries) != 0 {
		t.Fatalf("a failed clone left bundles in the store: %v", entries)
	}

	var fetched atomic.Int64
	got, err := cloneTest(t, newTestPeer(t), orig.Hash(), Provider(server.Addrs()...), StoreDir(dir),
		OnProgress(func(p Progress) { fetched.Store(p.Fetched) }))
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, got, orig)
	big, _ := orig.Dataset("b-does-not-fit")
	if fetched.Load() != big.Size() {
		t.Errorf("clone with room again fetched %d bytes, want only the missing dataset's %d", fetched.Load(), big.Size())
	}
}

// TestChildCloneUnderAFileSizeLimit is TestCloneIntoAFullDisk's child: it
// clones under the file size limit it is given and prints how that ended.
func TestChildCloneUnderAFileSizeLimit(t *testing.T) {
	args := strings.Fields(os.Getenv("PAPI_TEST_CLONE_LIMITED"))
	if len(args) != 4 {
		t.Skip("run by TestCloneIntoAFullDisk")
	}
	h, err := ParseHash(args[0])
	if err != nil {
		t.Fatal(err)
	}
	limit, _ := strconv.ParseUint(args[3], 10, 64)
	client := newTestPeer(t)
	// Past the limit the kernel sends SIGXFSZ, which would kill the
	// process; ignored, the write fails with EFBIG instead.
	signal.Ignore(syscall.SIGXFSZ)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		t.Fatal(err)
	}
	_, err = client.Clone(t.Context(), h, Provider(args[1]), StoreDir(args[2]))
	fmt.Printf("CLONE too-large=%t %v\n", errors.Is(err, ErrTooLarge), err)
}
