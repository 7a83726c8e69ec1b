package papi

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Local types a caller might write for the booths API's Nearest method,
// each off in one way.
type (
	untaggedNearestReq struct {
		Lat   float64 `papi:"minimum=-90,maximum=90"`
		Lon   float64 `papi:"minimum=-180,maximum=180"`
		Limit int     `papi:"minimum=1,maximum=50"`
	}
	unboundedNearestReq struct {
		Lat   float64 `cbor:"lat"`
		Lon   float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int     `cbor:"limit" papi:"minimum=1,maximum=50"`
	}
	renamedNearestReq struct {
		Lat float64 `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Max int     `cbor:"max" papi:"minimum=1,maximum=50"`
	}
	shortNearestResp struct {
		Stations []Station `cbor:"stations" papi:"maxItems=20"`
	}
)

// TestCallSaysWhichSideIsWhich calls a real remote with local types that
// differ from its spec: the error says what the local type has, what the
// remote has, and what to change locally.
func TestCallSaysWhichSideIsWhich(t *testing.T) {
	server, client := newTestPeer(t), newTestPeer(t)
	b := boothsBundle(t)
	serveTest(t, server, b)
	c := dialTest(t, client, b.Hash(), server)
	tests := []struct {
		name string
		call func(context.Context) error
		want string
	}{
		{"untagged fields", func(ctx context.Context) error {
			_, err := Call[untaggedNearestReq, NearestResp](ctx, c, "Nearest", untaggedNearestReq{Limit: 1})
			return err
		}, `Nearest request: local type papi.untaggedNearestReq does not match the remote spec: field "Lat": local has it, remote does not; remote has "lat": tag the Go field untaggedNearestReq.Lat cbor:"lat", and likewise "Limit", "Lon"`},
		{"condition missing", func(ctx context.Context) error {
			_, err := Call[unboundedNearestReq, NearestResp](ctx, c, "Nearest", unboundedNearestReq{Limit: 1})
			return err
		}, `Nearest request: local type papi.unboundedNearestReq does not match the remote spec: lat: minimum: local none, remote -90; add minimum=-90 to the papi tag of the Go field unboundedNearestReq.Lat`},
		{"renamed field", func(ctx context.Context) error {
			_, err := Call[renamedNearestReq, NearestResp](ctx, c, "Nearest", renamedNearestReq{Max: 1})
			return err
		}, `field "max": local has it, remote does not; remote has "limit" instead: rename the Go field renamedNearestReq.Max with a cbor tag, or remove it`},
		{"response", func(ctx context.Context) error {
			_, err := Call[NearestReq, shortNearestResp](ctx, c, "Nearest", NearestReq{Limit: 1})
			return err
		}, `Nearest response: local type papi.shortNearestResp does not match the remote spec: stations: maxItems: local 20, remote 50; set maxItems=50 in the papi tag of the Go field shortNearestResp.Stations`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			if !errors.Is(err, ErrSpecMismatch) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %v\nwant ErrSpecMismatch with %s", err, tt.want)
			}
		})
	}
}

// TestImplementSaysWhichSideIsWhich serves a bundle read from disk with
// handlers whose types differ from its spec.
func TestImplementSaysWhichSideIsWhich(t *testing.T) {
	dir := t.TempDir()
	if err := boothsBundle(t).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	api := New("booths", "1.0.0")
	Handle(api, "Nearest", func(context.Context, unboundedNearestReq) (NearestResp, error) { return NearestResp{}, nil })
	Handle(api, "Count", count)
	_, err = newTestPeer(t).Serve(t.Context(), b, Implement(api))
	want := `method Nearest request: the handler's type papi.unboundedNearestReq (local) does not match the bundle's spec (remote): lat: minimum: local none, remote -90; add minimum=-90 to the papi tag of the Go field unboundedNearestReq.Lat`
	if !errors.Is(err, ErrSpecMismatch) || !strings.Contains(err.Error(), want) {
		t.Errorf("got  %v\nwant ErrSpecMismatch with %s", err, want)
	}
}
