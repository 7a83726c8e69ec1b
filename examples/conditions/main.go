// Command conditions shows pre- and post-conditions at work: requests that
// break the spec never reach the handler, a response that breaks it is not
// sent, and the caller sees errors that name the field and the rule.
//
//	go run ./examples/conditions
package main

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/papi-dev/papi"
)

// SignupReq is checked before the handler runs.
type SignupReq struct {
	Handle string   `cbor:"handle" papi:"minLength=3,maxLength=16,pattern=^[a-z][a-z0-9_]*$" doc:"lower case, starts with a letter"`
	Age    int      `cbor:"age" papi:"minimum=13,maximum=130"`
	Plan   string   `cbor:"plan" papi:"enum=free|pro"`
	Topics []string `cbor:"topics" papi:"maxItems=3"`
	Email  *string  `cbor:"email" papi:"required,maxLength=254"`
}

// SignupResp is checked after the handler runs.
type SignupResp struct {
	Welcome string `cbor:"welcome" papi:"maxLength=20"`
}

func signup(_ context.Context, req SignupReq) (SignupResp, error) {
	// A bug on purpose: a long handle makes a welcome longer than the spec allows.
	return SignupResp{Welcome: "Welcome, " + req.Handle + "!"}, nil
}

func main() {
	log.SetFlags(0)
	ctx := context.Background()
	api := papi.New("signup", "1.0.0")
	if err := papi.Handle(api, "Signup", signup); err != nil {
		log.Fatal(err)
	}
	b, err := api.Bundle()
	if err != nil {
		log.Fatal(err)
	}
	server, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	srv, err := server.Serve(ctx, b)
	if err != nil {
		log.Fatal(err)
	}
	client, err := papi.NewPeer(ctx, papi.ListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	c, err := client.Dial(ctx, srv.Hash(), papi.Provider(srv.Addrs()...))
	if err != nil {
		log.Fatal(err)
	}

	email := "ada@example.org"
	good := SignupReq{Handle: "ada", Age: 36, Plan: "pro", Topics: []string{"maths"}, Email: &email}
	tries := []struct {
		what string
		req  SignupReq
	}{
		{"a valid request", good},
		{"a handle with capitals", with(good, func(r *SignupReq) { r.Handle = "Ada" })},
		{"too young", with(good, func(r *SignupReq) { r.Age = 9 })},
		{"a plan that does not exist", with(good, func(r *SignupReq) { r.Plan = "gold" })},
		{"four topics", with(good, func(r *SignupReq) { r.Topics = []string{"a", "b", "c", "d"} })},
		{"no email", with(good, func(r *SignupReq) { r.Email = nil })},
		{"a long handle (the handler breaks its postcondition)", with(good, func(r *SignupReq) { r.Handle = "ada_lovelace_1815"[:16] })},
	}
	for _, try := range tries {
		resp, err := papi.Call[SignupReq, SignupResp](ctx, c, "Signup", try.req)
		switch {
		case err == nil:
			fmt.Printf("%-55s ok: %q\n", try.what+":", resp.Welcome)
		case errors.Is(err, papi.ErrPrecondition):
			fmt.Printf("%-55s refused before the handler: %v\n", try.what+":", err)
		case errors.Is(err, papi.ErrPostcondition):
			fmt.Printf("%-55s the handler's answer was not sent: %v\n", try.what+":", err)
		default:
			fmt.Printf("%-55s %v\n", try.what+":", err)
		}
	}
	// Untyped callers are held to the same spec.
	_, err = c.CallJSON(ctx, "Signup", []byte(`{"handle":"bob","age":"old","plan":"free","topics":[],"email":"b@x"}`))
	fmt.Printf("%-55s %v\n", "JSON with a string for an integer:", err)
}

func with(r SignupReq, change func(*SignupReq)) SignupReq {
	r.Topics = append([]string(nil), r.Topics...)
	change(&r)
	return r
}
