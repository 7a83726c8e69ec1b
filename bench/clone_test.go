package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/papi-dev/papi"
)

// The clone benchmark: a provider in another process, started from this
// test binary, serves one dataset three ways; this process fetches it each
// way into a file and syncs it. "tls-stream" is one libp2p stream on the
// connection papi uses (TCP, TLS 1.3, yamux), "tcp" a bare TCP connection.

const cloneSize = 256 << 20

const rawProto = "/bench/rawfile/1.0.0"

// providerEnv, set, makes the test binary a provider: it writes a dataset
// of that many bytes, serves it, prints what a cloner needs, and runs until
// its standard input closes.
const providerEnv = "PAPI_BENCH_PROVIDER"

func TestMain(m *testing.M) {
	if size := os.Getenv(providerEnv); size != "" {
		if err := runProvider(size); err != nil {
			fmt.Fprintln(os.Stderr, "provider:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runProvider(sizeArg string) error {
	size, err := strconv.ParseInt(sizeArg, 10, 64)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "papi-bench-provider-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "blob")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	ctx := context.Background()
	api := papi.New("blob", "1.0.0")
	papi.Handle(api, "Size", func(ctx context.Context, _ struct{}) (int64, error) { return size, nil })
	bundle, err := api.Bundle(papi.DataFile("blob", path))
	if err != nil {
		return err
	}
	p, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		return err
	}
	defer p.Close()
	srv, err := p.Serve(ctx, bundle)
	if err != nil {
		return err
	}
	p.Host().Libp2p().SetStreamHandler(rawProto, func(s network.Stream) {
		defer s.Close()
		if err := sendFile(s, path); err != nil {
			s.Reset()
		}
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sendFile(c, path)
			}()
		}
	}()
	fmt.Printf("provider %s %s %s\n", srv.Hash(), srv.Addrs()[0], lis.Addr())
	io.Copy(io.Discard, os.Stdin)
	return nil
}

func sendFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

type provider struct {
	hash papi.Hash
	addr string // the libp2p multiaddr, with /p2p/
	id   peer.ID
	ai   peer.AddrInfo
	tcp  string
}

// startProvider runs the provider process until the benchmark ends.
func startProvider(b testing.TB, size int64) provider {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), providerEnv+"="+strconv.FormatInt(size, 10))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("provider: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "provider" {
		b.Fatalf("provider said %q", line)
	}
	h, err := papi.ParseHash(f[1])
	if err != nil {
		b.Fatal(err)
	}
	addr, err := ma.NewMultiaddr(f[2])
	if err != nil {
		b.Fatal(err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		b.Fatal(err)
	}
	return provider{hash: h, addr: f[2], id: ai.ID, ai: *ai, tcp: f[3]}
}

// toFile copies r into a new file under dir and syncs it, as a clone
// stores a dataset.
func toFile(b testing.TB, dir string, r io.Reader) int64 {
	b.Helper()
	f, err := os.CreateTemp(dir, "copy")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.CopyBuffer(f, r, make([]byte, 1<<20))
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkCloneProcess256MiB clones 256 MiB from a provider process.
func BenchmarkCloneProcess256MiB(b *testing.B) {
	prov := startProvider(b, cloneSize)
	ctx := b.Context()
	client, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	dir := b.TempDir()
	fetch := contenders(client, prov, dir)
	// The provider makes the dataset's outboard tree as serving starts, and
	// the first clone waits for it: one clone before measuring.
	fetch["papi"](b)
	for _, name := range []string{"papi", "tls-stream", "tcp"} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(cloneSize)
			for b.Loop() {
				if n := fetch[name](b); n != cloneSize {
					b.Fatalf("%d bytes", n)
				}
			}
		})
	}
}

// contenders are the ways of bringing the provider's dataset into a file
// under dir, synced: each returns the bytes it stored.
func contenders(client *papi.Peer, prov provider, dir string) map[string]func(testing.TB) int64 {
	return map[string]func(testing.TB) int64{
		"papi": func(t testing.TB) int64 {
			store, err := os.MkdirTemp(dir, "store")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(store)
			bundle, err := client.Clone(context.Background(), prov.hash, papi.StoreDir(store), papi.Provider(prov.addr))
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, d := range bundle.Datasets() {
				n += d.Size()
			}
			return n
		},
		"tls-stream": func(t testing.TB) int64 {
			// The connection papi's clone uses, or a new one if it ran first.
			if err := client.Host().Connect(context.Background(), prov.ai); err != nil {
				t.Fatal(err)
			}
			s, err := client.Host().Libp2p().NewStream(context.Background(), prov.id, rawProto)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			return toFile(t, dir, s)
		},
		"tcp": func(t testing.TB) int64 {
			c, err := net.Dial("tcp", prov.tcp)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			return toFile(t, dir, c)
		},
	}
}

// TestProviderProcess checks, without measuring, that a provider process
// serves all three ways and that each copy is whole: what CI runs of this
// module.
func TestProviderProcess(t *testing.T) {
	const size = 3<<20 + 17
	prov := startProvider(t, size)
	client, err := papi.NewPeer(t.Context(), papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	dir := t.TempDir()
	for name, fetch := range contenders(client, prov, dir) {
		if n := fetch(t); n != size {
			t.Errorf("%s: %d bytes, want %d", name, n, size)
		}
	}
}
