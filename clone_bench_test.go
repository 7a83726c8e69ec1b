package papi

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// Benchmarks of the clone issue, on peers over loopback TCP in one process:
//
//	go test -run '^$' -bench 'Clone' -benchtime 3x .
//
// papi's clone (fetch, verify every piece, write to the store) against a raw
// libp2p stream copy of the same bytes, on the same hosts in the same run.

func benchBlobFile(b testing.TB, size int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "blob")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	const chunk = 16 << 20
	for off := 0; off < size; off += chunk {
		if _, err := f.Write(randomBytes(min(chunk, size-off), uint64(off))); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchBlobBundle(b testing.TB, path string) *Bundle {
	b.Helper()
	bundle, err := boothsAPI(b).Bundle(DataFile("blob", path))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bundle.datasets[0].Outboard(); err != nil { // made once when serving starts
		b.Fatal(err)
	}
	return bundle
}

func cloneOnce(b *testing.B, client *Peer, h Hash, providers ...*Peer) {
	b.Helper()
	cloneInto(b, b.TempDir(), client, h, providers...)
}

// cloneInto clones into a fresh store under parent.
func cloneInto(b *testing.B, parent string, client *Peer, h Hash, providers ...*Peer) {
	b.Helper()
	dir, err := os.MkdirTemp(parent, "store")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	opts := []CloneOption{StoreDir(dir)}
	for _, p := range providers {
		opts = append(opts, Provider(p.Addrs()...))
	}
	if _, err := client.Clone(context.Background(), h, opts...); err != nil {
		b.Fatal(err)
	}
}

const rawBlobProto = "/bench/rawblob/1.0.0"

// serveRawFile answers each stream with the whole file, the baseline.
func serveRawFile(p *Peer, path string) {
	p.host.Libp2p().SetStreamHandler(rawBlobProto, func(s network.Stream) {
		defer s.Close()
		f, err := os.Open(path)
		if err != nil {
			s.Reset()
			return
		}
		defer f.Close()
		io.Copy(s, f)
	})
}

func rawCopy(b *testing.B, client, server *Peer, dst io.Writer) int64 {
	b.Helper()
	s, err := client.host.Libp2p().NewStream(context.Background(), server.ID(), rawBlobProto)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n, err := io.Copy(dst, bufio.NewReaderSize(s, 1<<20))
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func BenchmarkClone256MiB(b *testing.B) {
	const size = 256 << 20
	path := benchBlobFile(b, size)
	bundle := benchBlobBundle(b, path)
	server, client := newTestPeer(b), newTestPeer(b)
	serveTest(b, server, bundle)
	serveRawFile(server, path)
	client.host.Connect(context.Background(), server.host.Libp2p().Peerstore().PeerInfo(server.ID()))

	b.Run("papi", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			cloneOnce(b, client, bundle.Hash(), server)
		}
	})
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		// The same clone with the store in memory: what papi costs without the disk.
		b.Run("papi-store-on-tmpfs", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				cloneInto(b, "/dev/shm", client, bundle.Hash(), server)
			}
		})
	}
	b.Run("rawstream", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if n := rawCopy(b, client, server, io.Discard); n != size {
				b.Fatalf("copied %d bytes", n)
			}
		}
	})
	b.Run("rawstream-to-file", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.CreateTemp(b.TempDir(), "raw")
			if err != nil {
				b.Fatal(err)
			}
			rawCopy(b, client, server, f)
			f.Sync()
			f.Close()
			os.Remove(f.Name())
		}
	})
}

func BenchmarkClone3Providers(b *testing.B) {
	const size = 256 << 20
	path := benchBlobFile(b, size)
	bundle := benchBlobBundle(b, path)
	var providers []*Peer
	for range 3 {
		p := newTestPeer(b)
		serveTest(b, p, bundle)
		providers = append(providers, p)
	}
	client := newTestPeer(b)
	b.Run("1-provider", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			cloneOnce(b, client, bundle.Hash(), providers[0])
		}
	})
	b.Run("3-providers", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			cloneOnce(b, client, bundle.Hash(), providers...)
		}
	})
}

// BenchmarkCloneMemory1GiB reports the peak resident memory above the
// process's baseline while cloning 1 GiB, as peak-MiB. The provider runs in
// the same process, so the figure counts both sides.
func BenchmarkCloneMemory1GiB(b *testing.B) {
	const size = 1 << 30
	path := benchBlobFile(b, size)
	bundle := benchBlobBundle(b, path)
	server, client := newTestPeer(b), newTestPeer(b)
	serveTest(b, server, bundle)
	var peak float64
	for b.Loop() {
		base := rssBytes()
		var high atomic.Int64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if r := rssBytes(); r > high.Load() {
						high.Store(r)
					}
				}
			}
		}()
		cloneOnce(b, client, bundle.Hash(), server)
		close(stop)
		<-done
		peak = max(peak, float64(high.Load()-base)/(1<<20))
	}
	b.SetBytes(size)
	b.ReportMetric(peak, "peak-MiB")
}

// rssBytes reads the process's resident set size.
func rssBytes() int64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
