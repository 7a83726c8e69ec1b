package transport

import (
	"bufio"
	"context"
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"

	rpc "github.com/libp2p/go-libp2p-gorpc"
)

// The baselines of the serve/dial issue, on the same two hosts over loopback
// TCP in the same run: papi's call, a plain gorpc call (a stream per call),
// and one round trip on a stream that is already open (the floor).
//
//	go test -run '^$' -bench . -benchmem ./transport/

const benchEchoProto = "/bench/echo/1.0.0"

// EchoService is a plain gorpc service, the baseline papi is measured against.
type EchoService struct{}

// Echo answers with its argument.
func (EchoService) Echo(ctx context.Context, in []byte, out *[]byte) error {
	*out = in
	return nil
}

func benchPair(b *testing.B) (server, client *Host) {
	b.Helper()
	server, client = pair(b, Limits{}, echo)
	gs := rpc.NewServer(server.Libp2p(), "/bench/gorpc/1.0.0")
	if err := gs.Register(EchoService{}); err != nil {
		b.Fatal(err)
	}
	// A raw echo: read a length-prefixed message, write it back.
	server.Libp2p().SetStreamHandler(benchEchoProto, func(s network.Stream) {
		defer s.Close()
		r := bufio.NewReader(s)
		buf := make([]byte, 1<<20)
		for {
			n, err := r.ReadByte()
			if err != nil {
				return
			}
			if _, err := io.ReadFull(r, buf[:n]); err != nil {
				return
			}
			if _, err := s.Write(append([]byte{n}, buf[:n]...)); err != nil {
				return
			}
		}
	})
	return server, client
}

func BenchmarkUnary(b *testing.B) {
	server, client := benchPair(b)
	payload := make([]byte, 32)
	ctx := context.Background()
	b.Run("papi", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Call(ctx, server.ID(), "t", "echo", payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gorpc", func(b *testing.B) {
		c := rpc.NewClient(client.Libp2p(), "/bench/gorpc/1.0.0")
		b.ReportAllocs()
		for b.Loop() {
			var out []byte
			if err := c.Call(server.ID(), "EchoService", "Echo", payload, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rawstream", func(b *testing.B) {
		s, err := client.Libp2p().NewStream(ctx, server.ID(), benchEchoProto)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		msg := append([]byte{byte(len(payload))}, payload...)
		buf := make([]byte, len(msg))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(s, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConcurrent16 runs 16 callers at once (8 per core on 2 cores).
func BenchmarkConcurrent16(b *testing.B) {
	server, client := benchPair(b)
	payload := make([]byte, 32)
	ctx := context.Background()
	parallelism := max(1, 16/runtimeProcs())
	b.Run("papi", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.Call(ctx, server.ID(), "t", "echo", payload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("gorpc", func(b *testing.B) {
		c := rpc.NewClient(client.Libp2p(), "/bench/gorpc/1.0.0")
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var out []byte
				if err := c.Call(server.ID(), "EchoService", "Echo", payload, &out); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkResponse4MiB(b *testing.B) {
	const size = 4 << 20
	server, client := benchPair(b)
	ctx := context.Background()
	server.Libp2p().SetStreamHandler("/bench/blob/1.0.0", func(s network.Stream) {
		defer s.Close()
		blob := make([]byte, size)
		var one [1]byte
		for {
			if _, err := io.ReadFull(s, one[:]); err != nil {
				return
			}
			if _, err := s.Write(blob); err != nil {
				return
			}
		}
	})
	b.Run("papi", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		req := []byte(strconv.Itoa(size))
		for b.Loop() {
			out, err := client.Call(ctx, server.ID(), "t", "big", req)
			if err != nil || len(out) != size {
				b.Fatal(len(out), err)
			}
		}
	})
	b.Run("rawstream-new-each", func(b *testing.B) {
		buf := make([]byte, size)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			s, err := client.Libp2p().NewStream(ctx, server.ID(), "/bench/blob/1.0.0")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Write([]byte{1}); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(s, buf); err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	b.Run("rawstream", func(b *testing.B) {
		s, err := client.Libp2p().NewStream(ctx, server.ID(), "/bench/blob/1.0.0")
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		buf := make([]byte, size)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Write([]byte{1}); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(s, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
