// Command own-data is the seed's second picture: Casper clones the
// polling-stations API from Alice, verifies it, and serves it backed by data
// of his own. Bob dials the API hash, not a bundle hash, and reaches
// Casper's stations through the very same interface.
//
//	go run ./examples/own-data                     # Alice, Casper and Bob in one process, on loopback
//	go run ./examples/own-data -hash H -addr A     # clone from a running polling-stations server
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

// mine is Casper's own data: the stations of his town.
var mine = []booths.Station{
	{ID: "vic-001", Name: "Escola La Sagrada Familia", Lat: 41.9301, Lon: 2.2549},
	{ID: "vic-002", Name: "Institut Jaume Callis", Lat: 41.9362, Lon: 2.2468},
}

func main() {
	log.SetFlags(0)
	hash := flag.String("hash", "", "bundle or API hash to clone (default: start a provider in this process)")
	addr := flag.String("addr", "", "multiaddr of a peer serving it")
	store := flag.String("store", "", "store directory (default: a temporary one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *hash, *addr, *store); err != nil {
		log.Fatal(err)
	}
}

func loopbackPeer(ctx context.Context) (*papi.Peer, error) {
	return papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
}

func run(ctx context.Context, hashText, addr, storeDir string) error {
	if storeDir == "" {
		dir, err := os.MkdirTemp("", "papi-own-data-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		storeDir = dir
	}
	if hashText == "" {
		alice, err := loopbackPeer(ctx)
		if err != nil {
			return err
		}
		defer alice.Close()
		orig, err := boothsapi.API().Bundle(papi.Data("stations", booths.Stations))
		if err != nil {
			return err
		}
		srv, err := alice.Serve(ctx, orig)
		if err != nil {
			return err
		}
		hashText, addr = srv.Hash().String(), srv.Addrs()[0]
		fmt.Printf("Alice serves   %s\n", srv.Hash())
	}
	h, err := papi.ParseHash(hashText)
	if err != nil {
		return err
	}

	casper, err := loopbackPeer(ctx)
	if err != nil {
		return err
	}
	defer casper.Close()
	cloned, err := casper.Clone(ctx, h, papi.Provider(addr), papi.StoreDir(storeDir),
		papi.OnProgress(func(p papi.Progress) {
			fmt.Printf("\rCasper clones  %d/%d bytes verified from %d provider(s)", p.Verified, p.Total, p.Providers)
		}))
	if err != nil {
		return err
	}
	fmt.Printf("\nCasper cloned  %s (API %s)\n", cloned.Hash(), cloned.APIHash())

	own, err := cloned.WithData(papi.Data("stations", mine))
	if err != nil {
		return err
	}
	// Casper's handlers are checked against the spec he cloned before he may serve it.
	srv, err := casper.Serve(ctx, own, papi.Implement(boothsapi.API()))
	if err != nil {
		return err
	}
	parent, _ := own.Parent()
	fmt.Printf("Casper serves  %s with his own data (same API, derived from %s)\n", own.Hash(), parent)

	bob, err := loopbackPeer(ctx)
	if err != nil {
		return err
	}
	defer bob.Close()
	c, err := bob.Dial(ctx, own.APIHash(), papi.Provider(srv.Addrs()...))
	if err != nil {
		return err
	}
	resp, err := papi.Call[booths.NearestReq, booths.NearestResp](ctx, c, "Nearest", booths.NearestReq{Lat: 41.93, Lon: 2.25, Limit: 2})
	if err != nil {
		return err
	}
	fmt.Printf("Bob dialed the API hash, reached %s and asked for the nearest stations:\n", c.Hash())
	for _, s := range resp.Stations {
		fmt.Printf("  %-8s %s\n", s.ID, s.Name)
	}
	return nil
}
