// Command lan shows two programs on one local network finding each other
// with no address given and no internet: the server announces itself by
// mDNS, the caller knows only the API hash.
//
// On two machines of one LAN (or two terminals of one laptop):
//
//	go run ./examples/lan serve
//	go run ./examples/lan call          # the API hash is fixed by the API's types
//
// It needs multicast on the network interface, which most home and office
// networks have and most CI machines and containers lack.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

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
	case "serve":
		err = serve(ctx)
	case "call":
		err = call(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("usage: lan serve | lan call [-timeout 30s]")
	}
	if err != nil {
		log.Fatal(err)
	}
}

func serve(ctx context.Context) error {
	p, err := papi.NewPeer(ctx, papi.MDNS())
	if err != nil {
		return err
	}
	defer p.Close()
	b, err := boothsapi.API().Bundle(papi.Data("stations", booths.Stations))
	if err != nil {
		return err
	}
	srv, err := p.Serve(ctx, b)
	if err != nil {
		return err
	}
	fmt.Printf("serving API %s on the local network (bundle %s); Ctrl-C to stop\n", b.APIHash(), srv.Hash())
	<-ctx.Done()
	return nil
}

func call(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("call", flag.ExitOnError)
	timeout := fs.Duration("timeout", 30*time.Second, "how long to look for a server")
	fs.Parse(args)
	api, err := boothsapi.API().Hash()
	if err != nil {
		return err
	}
	p, err := papi.NewPeer(ctx, papi.MDNS())
	if err != nil {
		return err
	}
	defer p.Close()
	fmt.Printf("looking for API %s on the local network...\n", api)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	// mDNS answers within a second or so; until a server is seen, dialing finds no one.
	for {
		c, err := p.Dial(ctx, api)
		if err == nil {
			resp, err := papi.Call[booths.NearestReq, booths.NearestResp](ctx, c, "Nearest", booths.NearestReq{Lat: 41.39, Lon: 2.17, Limit: 3})
			if err != nil {
				return err
			}
			fmt.Printf("found %s at peer %s:\n", c.Hash(), c.RemotePeer())
			for _, s := range resp.Stations {
				fmt.Printf("  %-8s %s\n", s.ID, s.Name)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no server found: %w", err)
		case <-time.After(time.Second):
		}
	}
}
