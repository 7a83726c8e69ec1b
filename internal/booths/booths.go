// Package booths is the polling-stations API of papi's examples: the
// seed's story of voters finding where to vote when the official site is
// blocked. Every example program declares the API from here, so they all
// have the same API hash.
package booths

import (
	"context"

	"github.com/papi-dev/papi/guest"
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

// Nearest serves whatever stations the bundle carries: the same handler
// answers for the original data and for a clone's own, natively (papi.Handle)
// and compiled to WebAssembly in the bundle (see examples/portable).
func Nearest(ctx context.Context, req NearestReq) (NearestResp, error) {
	all, err := guest.Load[[]Station](ctx, "stations")
	if err != nil {
		return NearestResp{}, err
	}
	// Keep the nearest req.Limit in order, by insertion: a limit is at most
	// 20, so this beats sorting every station.
	type near struct {
		d float64
		i int
	}
	best := make([]near, 0, req.Limit)
	for i := range all {
		// The square of the distance orders stations as the distance
		// does, without a square root or a call per station.
		dlat, dlon := all[i].Lat-req.Lat, all[i].Lon-req.Lon
		d := dlat*dlat + dlon*dlon
		if len(best) == req.Limit && d >= best[len(best)-1].d {
			continue
		}
		j := len(best)
		if j < req.Limit {
			best = append(best, near{})
		} else {
			j--
		}
		for j > 0 && best[j-1].d > d {
			best[j] = best[j-1]
			j--
		}
		best[j] = near{d, i}
	}
	out := NearestResp{Stations: make([]Station, len(best))}
	for k, b := range best {
		out.Stations[k] = all[b.i]
	}
	return out, nil
}

// Declare declares the booths API in a WebAssembly module; API declares the
// same API natively, so both have one API hash.
func Declare() *guest.API {
	api := guest.New("booths", "1.0.0", guest.Description(APIDescription))
	if err := guest.Handle(api, "Nearest", Nearest, guest.Description(NearestDescription)); err != nil {
		panic(err) // the types above are fixed: this cannot fail at run time
	}
	return api
}

// Descriptions of the API and its method, shared by both declarations.
const (
	APIDescription     = "Where to vote: polling stations near a point"
	NearestDescription = "The stations nearest to a point, nearest first"
)

// Stations is the original dataset.
var Stations = []Station{
	{ID: "bcn-001", Name: "Escola Pia de Sant Antoni", Lat: 41.3788, Lon: 2.1614},
	{ID: "bcn-002", Name: "Institut Jaume Balmes", Lat: 41.3917, Lon: 2.1649},
	{ID: "bcn-003", Name: "Escola Collaso i Gil", Lat: 41.3768, Lon: 2.1700},
	{ID: "gir-001", Name: "Escola Verd", Lat: 41.9794, Lon: 2.8214},
	{ID: "lle-001", Name: "Institut Samuel Gili i Gaya", Lat: 41.6176, Lon: 0.6200},
	{ID: "tgn-001", Name: "Escola Mediterrani", Lat: 41.1189, Lon: 1.2445},
}
