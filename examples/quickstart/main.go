// Quickstart is README's quick start, whole: declare an API, bundle it with
// its data, serve it, and call it by hash from a second peer.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/papi-dev/papi"
)

type GreetReq struct {
	Name string `cbor:"name" papi:"minLength=1,maxLength=100"`
}

type GreetResp struct {
	Greeting string `cbor:"greeting"`
}

func main() {
	ctx := context.Background()

	api := papi.New("greeter", "1.0.0")
	papi.Handle(api, "Greet", func(ctx context.Context, req GreetReq) (GreetResp, error) {
		words, err := papi.Load[[]string](ctx, "words") // the data of the bundle being served
		if err != nil {
			return GreetResp{}, err
		}
		return GreetResp{Greeting: strings.Join(words, " ") + ", " + req.Name}, nil
	})
	bundle, err := api.Bundle(papi.Data("words", []string{"hello", "there"}))
	if err != nil {
		log.Fatal(err)
	}

	// A peer is a libp2p host in this process; this one serves the bundle.
	server, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	srv, err := server.Serve(ctx, bundle)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("serving", srv.Hash())

	// Another peer (in another program, usually) dials it by hash: the spec
	// it gets is verified against the hash before any call.
	client, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	c, err := client.Dial(ctx, srv.Hash(), papi.Provider(srv.Addrs()...))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := papi.Call[GreetReq, GreetResp](ctx, c, "Greet", GreetReq{Name: "Ada"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Greeting)
}
