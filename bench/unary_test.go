package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/transport"
)

// The unary benchmarks: a 32-byte request echoed, on loopback TCP, every
// contender in the same run. "stream" is the floor: one round trip on a
// libp2p stream already open, on the connection papi's calls use.

const payloadSize = 32

// EchoReq and EchoResp are the typed call's messages.
type EchoReq struct {
	Data []byte `cbor:"d"`
}

// EchoResp is what the echo answers.
type EchoResp struct {
	Data []byte `cbor:"d"`
}

const floorProto = "/bench/echo/1.0.0"

// papiPair serves an echo API from one peer and dials it from another.
func papiPair(b *testing.B) (*papi.Client, *transport.Host, peer.ID, network.Stream) {
	b.Helper()
	ctx := b.Context()
	api := papi.New("echo", "1.0.0")
	papi.Handle(api, "Echo", func(ctx context.Context, req EchoReq) (EchoResp, error) { return EchoResp(req), nil })
	bundle, err := api.Bundle()
	if err != nil {
		b.Fatal(err)
	}
	server, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { server.Close() })
	srv, err := server.Serve(ctx, bundle)
	if err != nil {
		b.Fatal(err)
	}
	// The floor: a length-prefixed echo on a raw stream.
	server.Host().Libp2p().SetStreamHandler(floorProto, func(s network.Stream) {
		defer s.Close()
		buf := make([]byte, 256)
		for {
			if _, err := io.ReadFull(s, buf[:1]); err != nil {
				return
			}
			n := int(buf[0])
			if _, err := io.ReadFull(s, buf[1:1+n]); err != nil {
				return
			}
			if _, err := s.Write(buf[:1+n]); err != nil {
				return
			}
		}
	})
	client, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	c, err := client.Dial(ctx, srv.Hash(), papi.Provider(srv.Addrs()...))
	if err != nil {
		b.Fatal(err)
	}
	s, err := client.Host().Libp2p().NewStream(ctx, server.ID(), floorProto)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Reset() })
	// The untyped call of the transport needs the bundle the client dialed.
	return c, client.Host(), server.ID(), s
}

// echoServer is the grpc-go service: one unary method on protobuf's
// BytesValue, the message grpc-go users would reach for.
type echoServer interface {
	Echo(context.Context, *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error)
}

type echoImpl struct{}

func (echoImpl) Echo(_ context.Context, in *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error) {
	return in, nil
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "bench.Echo",
	HandlerType: (*echoServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.BytesValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return srv.(echoServer).Echo(ctx, in)
		},
	}},
}

// grpcConn serves the echo over grpc-go on loopback and dials it, with TLS
// or without.
func grpcConn(b *testing.B, withTLS bool) *grpc.ClientConn {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var sopts []grpc.ServerOption
	dial := grpc.WithTransportCredentials(insecure.NewCredentials())
	if withTLS {
		cert, pool := selfSigned(b)
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
		dial = grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"}))
	}
	gs := grpc.NewServer(sopts...)
	gs.RegisterService(&echoDesc, echoImpl{})
	go gs.Serve(lis)
	b.Cleanup(gs.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), dial)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}

func grpcEcho(ctx context.Context, cc *grpc.ClientConn, in *wrapperspb.BytesValue) error {
	out := new(wrapperspb.BytesValue)
	return cc.Invoke(ctx, "/bench.Echo/Echo", in, out)
}

func selfSigned(b *testing.B) (tls.Certificate, *x509.CertPool) {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// BenchmarkUnary is one caller, one call at a time.
func BenchmarkUnary(b *testing.B) {
	c, host, server, s := papiPair(b)
	ctx := b.Context()
	req := EchoReq{Data: make([]byte, payloadSize)}
	target := c.Hash().String()
	raw := make([]byte, payloadSize)
	b.Run("stream", func(b *testing.B) {
		msg := append([]byte{payloadSize}, raw...)
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
	b.Run("papi-transport", func(b *testing.B) {
		// The bytes of a typed call, sent untyped: papi's wire without its codec.
		payload, _ := cborOf(req)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := host.Call(ctx, server, target, "Echo", payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("papi", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := papi.Call[EchoReq, EchoResp](ctx, c, "Echo", req); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, withTLS := range []bool{false, true} {
		name := "grpc"
		if withTLS {
			name = "grpc-tls"
		}
		b.Run(name, func(b *testing.B) {
			cc := grpcConn(b, withTLS)
			in := &wrapperspb.BytesValue{Value: raw}
			if err := grpcEcho(ctx, cc, in); err != nil { // connect before measuring
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := grpcEcho(ctx, cc, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConcurrent16 is 16 callers at once on one connection each way.
func BenchmarkConcurrent16(b *testing.B) {
	c, host, server, _ := papiPair(b)
	ctx := b.Context()
	req := EchoReq{Data: make([]byte, payloadSize)}
	target := c.Hash().String()
	parallelism := max(1, 16/runtime.GOMAXPROCS(0))
	b.Run("papi-transport", func(b *testing.B) {
		payload, _ := cborOf(req)
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := host.Call(ctx, server, target, "Echo", payload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("papi", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := papi.Call[EchoReq, EchoResp](ctx, c, "Echo", req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	for _, withTLS := range []bool{false, true} {
		name := "grpc"
		if withTLS {
			name = "grpc-tls"
		}
		b.Run(name, func(b *testing.B) {
			cc := grpcConn(b, withTLS)
			in := &wrapperspb.BytesValue{Value: make([]byte, payloadSize)}
			if err := grpcEcho(ctx, cc, in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := grpcEcho(ctx, cc, in); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

var canonical, _ = cbor.CoreDetEncOptions().EncMode()

// cborOf is what papi.Call sends for v.
func cborOf(v any) ([]byte, error) { return canonical.Marshal(v) }
