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
	"math"
	"os"
	"os/signal"
	"slices"

	"github.com/papi-dev/papi"
)

// Station is one polling station.
type Station struct {
	ID   string  `cbor:"id" json:"id" papi:"minLength=1,maxLength=32"`
	Name string  `cbor:"name" json:"name" papi:"minLength=1,maxLength=200"`
	Lat  float64 `cbor:"lat" json:"lat" papi:"minimum=-90,maximum=90"`
	Lon  float64 `cbor:"lon" json:"lon" papi:"minimum=-180,maximum=180"`
}

// NearestReq asks for the stations nearest to a point.
type NearestReq struct {
	Lat   float64 `cbor:"lat" json:"lat" papi:"minimum=-90,maximum=90" doc:"latitude, degrees"`
	Lon   float64 `cbor:"lon" json:"lon" papi:"minimum=-180,maximum=180" doc:"longitude, degrees"`
	Limit int     `cbor:"limit" json:"limit" papi:"minimum=1,maximum=20" doc:"how many stations"`
}

// NearestResp lists stations, nearest first.
type NearestResp struct {
	Stations []Station `cbor:"stations" json:"stations" papi:"maxItems=20"`
}

// nearest serves whatever stations the bundle carries: the same handler
// answers for the original data and for a clone's own.
func nearest(ctx context.Context, req NearestReq) (NearestResp, error) {
	all, err := papi.Load[[]Station](ctx, "stations")
	if err != nil {
		return NearestResp{}, err
	}
	dist := func(s Station) float64 { return math.Hypot(s.Lat-req.Lat, s.Lon-req.Lon) }
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b Station) int {
		if d := dist(a) - dist(b); d != 0 {
			return int(math.Copysign(1, d))
		}
		return 0
	})
	return NearestResp{Stations: sorted[:min(req.Limit, len(sorted))]}, nil
}

func boothsAPI() *papi.API {
	api := papi.New("booths", "1.0.0", papi.Description("Where to vote: polling stations near a point"))
	if err := papi.Handle(api, "Nearest", nearest, papi.Description("The stations nearest to a point, nearest first")); err != nil {
		log.Fatal(err)
	}
	return api
}

var stations = []Station{
	{ID: "bcn-001", Name: "Escola Pia de Sant Antoni", Lat: 41.3788, Lon: 2.1614},
	{ID: "bcn-002", Name: "Institut Jaume Balmes", Lat: 41.3917, Lon: 2.1649},
	{ID: "bcn-003", Name: "Escola Collaso i Gil", Lat: 41.3768, Lon: 2.1700},
	{ID: "gir-001", Name: "Escola Verd", Lat: 41.9794, Lon: 2.8214},
	{ID: "lle-001", Name: "Institut Samuel Gili i Gaya", Lat: 41.6176, Lon: 0.6200},
	{ID: "tgn-001", Name: "Escola Mediterrani", Lat: 41.1189, Lon: 1.2445},
}

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
	b, err := boothsAPI().Bundle(papi.Data("stations", stations))
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
	return ask(ctx, client, srv.Hash(), srv.Addrs(), NearestReq{Lat: 41.385, Lon: 2.165, Limit: 3})
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "/ip4/0.0.0.0/tcp/0", "multiaddr to listen on")
	fs.Parse(args)
	b, err := boothsAPI().Bundle(papi.Data("stations", stations))
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
	return ask(ctx, p, h, []string{*addr}, NearestReq{Lat: *lat, Lon: *lon, Limit: *limit})
}

func ask(ctx context.Context, p *papi.Peer, h papi.Hash, addrs []string, req NearestReq) error {
	c, err := p.Dial(ctx, h, papi.Provider(addrs...))
	if err != nil {
		return err
	}
	fmt.Printf("dialed %s: %s %s, verified\n", h, c.Spec().Name, c.Spec().Version)
	resp, err := papi.Call[NearestReq, NearestResp](ctx, c, "Nearest", req)
	if err != nil {
		return err
	}
	fmt.Printf("nearest to (%.3f, %.3f):\n", req.Lat, req.Lon)
	for _, s := range resp.Stations {
		fmt.Printf("  %-8s %s\n", s.ID, s.Name)
	}
	return nil
}
