package papi

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Local types a caller might write for the booths API's Nearest method,
// by hand rather than copied from its author.
type (
	// What a new user writes first: the wire names, no conditions.
	plainNearestReq struct {
		Lat   float64 `cbor:"lat"`
		Lon   float64 `cbor:"lon"`
		Limit int32   `cbor:"limit"`
	}
	// Looser conditions, pointers where the spec requires values.
	looseNearestReq struct {
		Lat   *float64 `cbor:"lat" papi:"minimum=-100"`
		Lon   float64  `cbor:"lon"`
		Limit int      `cbor:"limit" papi:"maximum=500"`
	}
	// Only what the caller reads: fewer fields, no conditions.
	namesOnlyResp struct {
		Stations []struct {
			Name string `cbor:"name"`
		} `cbor:"stations"`
	}
	untaggedNearestReq struct {
		Lat   float64 `papi:"minimum=-90,maximum=90"`
		Lon   float64 `papi:"minimum=-180,maximum=180"`
		Limit int     `papi:"minimum=1,maximum=50"`
	}
	renamedNearestReq struct {
		Lat float64 `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Max int     `cbor:"max" papi:"minimum=1,maximum=50"`
	}
	partialNearestReq struct {
		Lat float64 `cbor:"lat"`
		Lon float64 `cbor:"lon"`
	}
	retypedNearestReq struct {
		Lat   string  `cbor:"lat"`
		Lon   float64 `cbor:"lon"`
		Limit int     `cbor:"limit"`
	}
	shortNearestResp struct {
		Stations []Station `cbor:"stations" papi:"maxItems=20"`
	}
	narrowCountResp struct {
		N int8 `cbor:"n"`
	}
	extraCountResp struct {
		N     int `cbor:"n"`
		Total int `cbor:"total"`
	}
)

// TestCallChecksTypesByShape calls a real remote with local types that
// differ from its author's: those that can talk to its spec are accepted
// and get real answers (the server enforcing the spec's conditions), and
// those that cannot get an error saying what the local type has, what the
// remote has, and what to change locally.
func TestCallChecksTypesByShape(t *testing.T) {
	server, client := newTestPeer(t), newTestPeer(t)
	b := boothsBundle(t)
	serveTest(t, server, b)
	c := dialTest(t, client, b.Hash(), server)
	lat := 41.39
	tests := []struct {
		name    string
		call    func(context.Context) (int, error) // stations answered
		want    string                             // "" for a call that works
		wantErr error
	}{
		{"plain types without conditions", func(ctx context.Context) (int, error) {
			r, err := Call[plainNearestReq, NearestResp](ctx, c, "Nearest", plainNearestReq{Lat: lat, Lon: 2.17, Limit: 2})
			return len(r.Stations), err
		}, "", nil},
		{"looser conditions and pointers", func(ctx context.Context) (int, error) {
			r, err := Call[looseNearestReq, NearestResp](ctx, c, "Nearest", looseNearestReq{Lat: &lat, Lon: 2.17, Limit: 2})
			return len(r.Stations), err
		}, "", nil},
		{"fewer response fields", func(ctx context.Context) (int, error) {
			r, err := Call[NearestReq, namesOnlyResp](ctx, c, "Nearest", NearestReq{Lat: lat, Lon: 2.17, Limit: 2})
			if err == nil && r.Stations[0].Name == "" {
				return 0, errors.New("no name")
			}
			return len(r.Stations), err
		}, "", nil},
		{"the server enforces what the local type does not", func(ctx context.Context) (int, error) {
			_, err := Call[plainNearestReq, NearestResp](ctx, c, "Nearest", plainNearestReq{Lat: 91, Limit: 2})
			return 0, err
		}, "lat", ErrPrecondition},
		{"a pointer left nil is a missing field", func(ctx context.Context) (int, error) {
			_, err := Call[looseNearestReq, NearestResp](ctx, c, "Nearest", looseNearestReq{Limit: 2})
			return 0, err
		}, "lat", ErrPrecondition},
		{"untagged fields", func(ctx context.Context) (int, error) {
			_, err := Call[untaggedNearestReq, NearestResp](ctx, c, "Nearest", untaggedNearestReq{Limit: 1})
			return 0, err
		}, `Nearest request: local type papi.untaggedNearestReq cannot talk to the remote spec: field "Lat": local has it, remote does not; remote has "lat": tag the Go field untaggedNearestReq.Lat cbor:"lat", and likewise "Limit", "Lon"`, ErrSpecMismatch},
		{"renamed field", func(ctx context.Context) (int, error) {
			_, err := Call[renamedNearestReq, NearestResp](ctx, c, "Nearest", renamedNearestReq{Max: 1})
			return 0, err
		}, `field "max": local has it, remote does not; remote has "limit" instead: rename the Go field renamedNearestReq.Max with a cbor tag, or remove it`, ErrSpecMismatch},
		{"required field missing", func(ctx context.Context) (int, error) {
			_, err := Call[partialNearestReq, NearestResp](ctx, c, "Nearest", partialNearestReq{})
			return 0, err
		}, `field "limit": remote has it, local does not; add a field of type int64 tagged cbor:"limit" to the Go type partialNearestReq`, ErrSpecMismatch},
		{"another type", func(ctx context.Context) (int, error) {
			_, err := Call[retypedNearestReq, NearestResp](ctx, c, "Nearest", retypedNearestReq{})
			return 0, err
		}, `lat: type: local string, remote number; change the Go field retypedNearestReq.Lat to type float64`, ErrSpecMismatch},
		{"response condition tighter than the remote's", func(ctx context.Context) (int, error) {
			_, err := Call[NearestReq, shortNearestResp](ctx, c, "Nearest", NearestReq{Limit: 1})
			return 0, err
		}, `Nearest response: local type papi.shortNearestResp cannot talk to the remote spec: stations: maxItems: local 20, remote 50; set maxItems=50 in the papi tag of the Go field shortNearestResp.Stations`, ErrSpecMismatch},
		{"response integer narrower than the remote's", func(ctx context.Context) (int, error) {
			_, err := Call[CountReq, narrowCountResp](ctx, c, "Count", CountReq{})
			return 0, err
		}, `Count response: local type papi.narrowCountResp cannot talk to the remote spec: n: format: local "int8", remote "int64"; change the Go field narrowCountResp.N to type int64`, ErrSpecMismatch},
		{"response field the remote never sends", func(ctx context.Context) (int, error) {
			_, err := Call[CountReq, extraCountResp](ctx, c, "Count", CountReq{})
			return 0, err
		}, `field "total": local has it, remote does not; remove the Go field extraCountResp.Total, or tag it cbor:"-"`, ErrSpecMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.call(t.Context())
			switch {
			case tt.wantErr == nil && (err != nil || n == 0):
				t.Errorf("got %d stations, %v", n, err)
			case tt.wantErr != nil && (!errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got  %v\nwant %v with %s", err, tt.wantErr, tt.want)
			}
		})
	}
}

// TestImplementSaysWhichSideIsWhich serves a bundle read from disk with
// handlers whose types differ from its spec: a handler's types must be
// exactly the spec's, as they enforce its conditions.
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

type unboundedNearestReq struct {
	Lat   float64 `cbor:"lat"`
	Lon   float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
	Limit int     `cbor:"limit" papi:"minimum=1,maximum=50"`
}
