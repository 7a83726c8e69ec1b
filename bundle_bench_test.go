package papi

import (
	"context"
	"strconv"
	"testing"
)

// A 20-method API for the spec-derivation benchmark: generic instantiations
// give 20 distinct request and response types.

type benchReq[K any] struct {
	Key    K         `cbor:"key"`
	Query  string    `cbor:"query" papi:"minLength=1,maxLength=200"`
	Limit  int       `cbor:"limit" papi:"minimum=1,maximum=100"`
	Tags   []string  `cbor:"tags" papi:"maxItems=10"`
	Where  *Station  `cbor:"where"`
	Window [2]uint32 `cbor:"window"`
}

type benchResp[K any] struct {
	Key     K         `cbor:"key"`
	Results []Station `cbor:"results" papi:"maxItems=100"`
	Next    string    `cbor:"next,omitempty"`
}

func handleBench[K any](api *API, name string) {
	Handle(api, name, func(context.Context, benchReq[K]) (benchResp[K], error) { return benchResp[K]{}, nil })
}

func benchAPI20() *API {
	api := New("bench", "1.0.0")
	adds := []func(*API, string){
		handleBench[[1]byte], handleBench[[2]byte], handleBench[[3]byte], handleBench[[4]byte], handleBench[[5]byte],
		handleBench[[6]byte], handleBench[[7]byte], handleBench[[8]byte], handleBench[[9]byte], handleBench[[10]byte],
		handleBench[[11]byte], handleBench[[12]byte], handleBench[[13]byte], handleBench[[14]byte], handleBench[[15]byte],
		handleBench[[16]byte], handleBench[[17]byte], handleBench[[18]byte], handleBench[[19]byte], handleBench[[20]byte],
	}
	for i, add := range adds {
		add(api, "Method"+strconv.Itoa(i))
	}
	return api
}

// BenchmarkBundle20Methods derives the spec of a 20-method API from its Go
// types and hashes a bundle of it: what a program pays once at start.
func BenchmarkBundle20Methods(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		bundle, err := benchAPI20().Bundle(Data("stations", someStations))
		if err != nil {
			b.Fatal(err)
		}
		if len(bundle.Spec().Methods) != 20 {
			b.Fatal(len(bundle.Spec().Methods))
		}
	}
}
