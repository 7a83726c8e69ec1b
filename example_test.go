package papi_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/papi-dev/papi"
)

type GreetReq struct {
	Name string `cbor:"name" papi:"minLength=1,maxLength=40"`
}

type GreetResp struct {
	Greeting string `cbor:"greeting"`
}

func greet(ctx context.Context, req GreetReq) (GreetResp, error) {
	salutation, err := papi.Load[string](ctx, "salutation")
	if err != nil {
		return GreetResp{}, err
	}
	return GreetResp{Greeting: salutation + ", " + req.Name}, nil
}

func greeterAPI() *papi.API {
	api := papi.New("greeter", "1.0.0", papi.Description("Greets people"))
	if err := papi.Handle(api, "Greet", greet, papi.Description("A greeting for one person")); err != nil {
		log.Fatal(err)
	}
	return api
}

// loopbackPeer starts a peer that listens on loopback only, as examples and
// tests should; a real program would take the defaults.
func loopbackPeer(ctx context.Context) *papi.Peer {
	p, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		log.Fatal(err)
	}
	return p
}

// Declare an API, bundle it with its data, and look at its two hashes.
func ExampleAPI_Bundle() {
	b, err := greeterAPI().Bundle(papi.Data("salutation", "Hello"))
	if err != nil {
		log.Fatal(err)
	}
	own, err := b.WithData(papi.Data("salutation", "Bon dia"))
	if err != nil {
		log.Fatal(err)
	}
	parent, _ := own.Parent()
	fmt.Println("methods:", b.Spec().Methods[0].Name)
	fmt.Println("same API:", own.APIHash() == b.APIHash())
	fmt.Println("same bundle:", own.Hash() == b.Hash())
	fmt.Println("derived from the original:", parent == b.Hash())
	// Output:
	// methods: Greet
	// same API: true
	// same bundle: false
	// derived from the original: true
}

// Serve a bundle from one peer and call it from another, by hash.
func ExampleCall() {
	ctx := context.Background()
	server, client := loopbackPeer(ctx), loopbackPeer(ctx)
	defer server.Close()
	defer client.Close()

	b, _ := greeterAPI().Bundle(papi.Data("salutation", "Hello"))
	srv, err := server.Serve(ctx, b)
	if err != nil {
		log.Fatal(err)
	}

	c, err := client.Dial(ctx, srv.Hash(), papi.Provider(srv.Addrs()...))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := papi.Call[GreetReq, GreetResp](ctx, c, "Greet", GreetReq{Name: "Casper"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Greeting)

	_, err = papi.Call[GreetReq, GreetResp](ctx, c, "Greet", GreetReq{Name: ""})
	fmt.Println(errors.Is(err, papi.ErrPrecondition), papi.CodeOf(err))
	// Output:
	// Hello, Casper
	// true invalid_argument
}

// Clone a bundle with its data, then serve it again with data of your own:
// the two pictures of peer-to-peer APIs.
func ExampleClone() {
	ctx := context.Background()
	alice, casper, bob := loopbackPeer(ctx), loopbackPeer(ctx), loopbackPeer(ctx)
	defer alice.Close()
	defer casper.Close()
	defer bob.Close()

	orig, _ := greeterAPI().Bundle(papi.Data("salutation", "Hello"))
	srv, _ := alice.Serve(ctx, orig)

	store, _ := os.MkdirTemp("", "papi-example-")
	defer os.RemoveAll(store)
	cloned, err := casper.Clone(ctx, srv.Hash(), papi.Provider(srv.Addrs()...), papi.StoreDir(store))
	if err != nil {
		log.Fatal(err)
	}
	own, _ := cloned.WithData(papi.Data("salutation", "Hola"))
	mine, err := casper.Serve(ctx, own, papi.Implement(greeterAPI()))
	if err != nil {
		log.Fatal(err)
	}

	// Bob dials the API hash and reaches Casper's data.
	c, err := bob.Dial(ctx, orig.APIHash(), papi.Provider(mine.Addrs()...))
	if err != nil {
		log.Fatal(err)
	}
	resp, _ := papi.Call[GreetReq, GreetResp](ctx, c, "Greet", GreetReq{Name: "Bob"})
	fmt.Println(resp.Greeting)
	fmt.Println(c.Hash() == own.Hash(), cloned.Hash() == orig.Hash())
	// Output:
	// Hola, Bob
	// true true
}

// Publish versions of a bundle under a name, and dial the newest.
func ExamplePeer_DialName() {
	ctx := context.Background()
	publisher, user := loopbackPeer(ctx), loopbackPeer(ctx)
	defer publisher.Close()
	defer user.Close()

	for _, salutation := range []string{"Hello", "Hola"} {
		b, _ := greeterAPI().Bundle(papi.Data("salutation", salutation))
		srv, err := publisher.Serve(ctx, b)
		if err != nil {
			log.Fatal(err)
		}
		rec, err := publisher.Publish(ctx, "greeter", srv.Hash())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("published sequence", rec.Seq)
	}

	name := papi.Name{Publisher: publisher.ID(), Label: "greeter"}
	c, err := user.DialName(ctx, name, papi.Provider(publisher.Addrs()...))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := papi.Call[GreetReq, GreetResp](ctx, c, "Greet", GreetReq{Name: "Casper"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Greeting)
	// Output:
	// published sequence 1
	// published sequence 2
	// Hola, Casper
}
