package papi

import (
	"context"
	"math"
	"slices"
	"testing"
)

// The polling-stations API of the seed, used across the tests.

type Station struct {
	ID   string  `cbor:"id" papi:"minLength=1,maxLength=32"`
	Name string  `cbor:"name" papi:"minLength=1,maxLength=200"`
	Lat  float64 `cbor:"lat" papi:"minimum=-90,maximum=90"`
	Lon  float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
}

type NearestReq struct {
	Lat   float64 `cbor:"lat" papi:"minimum=-90,maximum=90" doc:"latitude in degrees"`
	Lon   float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
	Limit int     `cbor:"limit" papi:"minimum=1,maximum=50"`
}

type NearestResp struct {
	Stations []Station `cbor:"stations" papi:"maxItems=50"`
}

type CountReq struct{}

type CountResp struct {
	N int `cbor:"n"`
}

func nearest(ctx context.Context, req NearestReq) (NearestResp, error) {
	all, err := Load[[]Station](ctx, "stations")
	if err != nil {
		return NearestResp{}, err
	}
	sorted := slices.Clone(all)
	dist := func(s Station) float64 { return math.Hypot(s.Lat-req.Lat, s.Lon-req.Lon) }
	slices.SortFunc(sorted, func(a, b Station) int {
		switch da, db := dist(a), dist(b); {
		case da < db:
			return -1
		case da > db:
			return 1
		}
		return 0
	})
	return NearestResp{Stations: sorted[:min(req.Limit, len(sorted))]}, nil
}

func count(ctx context.Context, _ CountReq) (CountResp, error) {
	all, err := Load[[]Station](ctx, "stations")
	return CountResp{N: len(all)}, err
}

func boothsAPI(t testing.TB) *API {
	t.Helper()
	api := New("booths", "1.0.0", Description("Polling stations and the nearest one to you"))
	if err := Handle(api, "Nearest", nearest, Description("The stations nearest to a point")); err != nil {
		t.Fatal(err)
	}
	if err := Handle(api, "Count", count); err != nil {
		t.Fatal(err)
	}
	return api
}

var someStations = []Station{
	{ID: "bcn-001", Name: "Escola Pia", Lat: 41.3874, Lon: 2.1686},
	{ID: "bcn-002", Name: "Institut Jaume Balmes", Lat: 41.3917, Lon: 2.1649},
	{ID: "gir-001", Name: "Escola Verd", Lat: 41.9794, Lon: 2.8214},
}

var otherStations = []Station{
	{ID: "tgn-001", Name: "Escola Mediterrani", Lat: 41.1189, Lon: 1.2445},
}

func boothsBundle(t testing.TB) *Bundle {
	t.Helper()
	b, err := boothsAPI(t).Bundle(Data("stations", someStations))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
