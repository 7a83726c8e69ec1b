// Command polling-stations is the seed's censorship story as a program: one
// process serves a list of polling stations with a Nearest method, another
// dials it by hash, from nothing but the hash and an address, and asks.
//
//	go run ./examples/polling-stations                  # both sides in one process, on loopback
//	go run ./examples/polling-stations serve            # prints the hash and a dial command
//	go run ./examples/polling-stations call -hash H -addr A -lat 41.39 -lon 2.17
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/examples/internal/boothsapi"
	"github.com/papi-dev/papi/internal/booths"
)

func main() {
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch cmd := append(os.Args[1:], "")[0]; cmd {
	case "", "demo":
		err = demo(ctx)
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "call":
		err = call(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want serve, call or nothing", cmd)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// demo runs both sides in one process: two peers on loopback.
func demo(ctx context.Context) error {
	b, err := boothsapi.API().Bundle(papi.Data("stations", booths.Stations))
	if err != nil {
		return err
	}
	server, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		return err
	}
	defer server.Close()
	srv, err := server.Serve(ctx, b)
	if err != nil {
		return err
	}
	fmt.Printf("serving %s\n  API %s\n  at  %s\n", srv.Hash(), b.APIHash(), srv.Addrs()[0])

	client, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		return err
	}
	defer client.Close()
	return ask(ctx, client, srv.Hash(), srv.Addrs(), booths.NearestReq{Lat: 41.385, Lon: 2.165, Limit: 3})
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "/ip4/0.0.0.0/tcp/0", "multiaddr to listen on")
	fs.Parse(args)
	b, err := boothsapi.API().Bundle(papi.Data("stations", booths.Stations))
	if err != nil {
		return err
	}
	p, err := papi.NewPeer(ctx, papi.ListenAddrs(*listen))
	if err != nil {
		return err
	}
	defer p.Close()
	srv, err := p.Serve(ctx, b)
	if err != nil {
		return err
	}
	fmt.Printf("serving %s (API %s)\n", srv.Hash(), b.APIHash())
	for _, a := range srv.Addrs() {
		fmt.Printf("  go run ./examples/polling-stations call -hash %s -addr %s\n", srv.Hash(), a)
	}
	<-ctx.Done()
	return nil
}

func call(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("call", flag.ExitOnError)
	hash := fs.String("hash", "", "bundle or API hash to dial")
	addr := fs.String("addr", "", "multiaddr of a peer serving it, ending in /p2p/<id>")
	lat := fs.Float64("lat", 41.385, "latitude")
	lon := fs.Float64("lon", 2.165, "longitude")
	limit := fs.Int("limit", 3, "how many stations")
	fs.Parse(args)
	h, err := papi.ParseHash(*hash)
	if err != nil {
		return err
	}
	p, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/0.0.0.0/tcp/0"))
	if err != nil {
		return err
	}
	defer p.Close()
	return ask(ctx, p, h, []string{*addr}, booths.NearestReq{Lat: *lat, Lon: *lon, Limit: *limit})
}

func ask(ctx context.Context, p *papi.Peer, h papi.Hash, addrs []string, req booths.NearestReq) error {
	c, err := p.Dial(ctx, h, papi.Provider(addrs...))
	if err != nil {
		return err
	}
	fmt.Printf("dialed %s: %s %s, verified\n", h, c.Spec().Name, c.Spec().Version)
	resp, err := papi.Call[booths.NearestReq, booths.NearestResp](ctx, c, "Nearest", req)
	if err != nil {
		return err
	}
	fmt.Printf("nearest to (%.3f, %.3f):\n", req.Lat, req.Lon)
	for _, s := range resp.Stations {
		fmt.Printf("  %-8s %s\n", s.ID, s.Name)
	}
	return nil
}
