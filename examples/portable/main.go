// Command portable shows handlers that travel in the bundle: it builds the
// booths handlers to WebAssembly (the go command compiles them), serves the
// bundle from one peer, clones it into a second peer that has no handler
// code and serves the clone, and calls the second peer from a third.
//
//	go run ./examples/portable
//
// With -write DIR it writes the stations datasets used by README's
// command-line walk-through (stations.cbor, other-stations.cbor) and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/internal/booths"
)

func main() {
	write := flag.String("write", "", "write the example datasets to this directory and exit")
	flag.Parse()
	if *write != "" {
		if err := writeDatasets(*write); err != nil {
			log.Fatal(err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

var otherStations = []booths.Station{{ID: "tgn-001", Name: "Escola Mediterrani", Lat: 41.1189, Lon: 1.2445}}

func writeDatasets(dir string) error {
	for name, stations := range map[string][]booths.Station{"stations.cbor": booths.Stations, "other-stations.cbor": otherStations} {
		b, err := papi.Data("stations", stations).Bytes()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func run(ctx context.Context) error {
	fmt.Println("building ./examples/portable/module for wasip1 ...")
	bundle, err := papi.Build(ctx, "./examples/portable/module", papi.Data("stations", booths.Stations))
	if err != nil {
		return err
	}
	code, _ := bundle.CodeHash()
	fmt.Printf("bundle %s\n  API  %s\n  code %s\n", bundle.Hash(), bundle.APIHash(), code)

	loopback := papi.ListenAddrs("/ip4/127.0.0.1/tcp/0")
	author, err := papi.NewPeer(ctx, loopback)
	if err != nil {
		return err
	}
	defer author.Close()
	if _, err := author.Serve(ctx, bundle); err != nil {
		return err
	}

	// The mirror has no Go code for the API: only the hash and an address.
	mirror, err := papi.NewPeer(ctx, loopback)
	if err != nil {
		return err
	}
	defer mirror.Close()
	store, err := os.MkdirTemp("", "papi-portable-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(store)
	cloned, err := mirror.Clone(ctx, bundle.Hash(), papi.Provider(author.Addrs()...), papi.StoreDir(store))
	if err != nil {
		return err
	}
	if _, err := mirror.Serve(ctx, cloned); err != nil {
		return err
	}
	mine, err := cloned.WithData(papi.Data("stations", otherStations))
	if err != nil {
		return err
	}
	if _, err := mirror.Serve(ctx, mine); err != nil {
		return err
	}
	fmt.Printf("mirror serves the clone and %s, the same code over its own data\n", mine.Hash())

	caller, err := papi.NewPeer(ctx, loopback)
	if err != nil {
		return err
	}
	defer caller.Close()
	for _, h := range []papi.Hash{cloned.Hash(), mine.Hash()} {
		c, err := caller.Dial(ctx, h, papi.Provider(mirror.Addrs()...))
		if err != nil {
			return err
		}
		resp, err := papi.Call[booths.NearestReq, booths.NearestResp](ctx, c, "Nearest", booths.NearestReq{Lat: 41.39, Lon: 2.17, Limit: 2})
		if err != nil {
			return err
		}
		fmt.Printf("Nearest from the mirror, bundle %s:\n", h)
		for _, s := range resp.Stations {
			fmt.Printf("  %s %s\n", s.ID, s.Name)
		}
	}
	return nil
}
