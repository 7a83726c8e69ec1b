package papi

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/papi-dev/papi/internal/canon"
)

// TestServerRequiresFieldsOnTheWire calls a real server with raw CBOR, as
// a client in another language would: a request without a required field
// never reaches the handler, and its caller is told the field is missing,
// not that the zero the decoder would have put there breaks a condition.
func TestServerRequiresFieldsOnTheWire(t *testing.T) {
	type req struct {
		Lat   float64 `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int     `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string  `cbor:"party,omitempty"`
		Near  *string `cbor:"near"`
	}
	var reached atomic.Int32
	api := New("booths", "1.0.0")
	if err := Handle(api, "Nearest", func(context.Context, req) (CountResp, error) {
		reached.Add(1)
		return CountResp{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	b, err := api.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	c := serveAndDial(t, b)
	full := map[string]any{"lat": 41.4, "lon": 2.2, "limit": 3, "party": "x", "near": "y"}
	without := func(keys ...string) map[string]any {
		m := map[string]any{}
		for k, v := range full {
			m[k] = v
		}
		for _, k := range keys {
			delete(m, k)
		}
		return m
	}
	tests := []struct {
		name string
		in   any
		want string // "" for a call that reaches the handler
	}{
		{"every field", full, ""},
		{"optional fields left out", without("party", "near"), ""},
		{"optional pointer null", map[string]any{"lat": 0.0, "lon": 0.0, "limit": 1, "near": nil}, ""},
		{"lat left out", without("lat"), "Nearest request: lat: required: missing"},
		{"limit left out, which has a minimum", without("limit"), "Nearest request: limit: required: missing"},
		{"all left out", map[string]any{}, "Nearest request: lat: required: missing"},
		{"lat null", map[string]any{"lat": nil, "lon": 0.0, "limit": 1}, "Nearest request: lat: type: null where number is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := reached.Load()
			payload, err := canon.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.CallCBOR(t.Context(), "Nearest", payload)
			if tt.want == "" {
				if err != nil || reached.Load() != before+1 {
					t.Errorf("call: %v, handler reached %d times", err, reached.Load()-before)
				}
				return
			}
			if !errors.Is(err, ErrPrecondition) || CodeOf(err) != CodeInvalidArgument || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant ErrPrecondition (invalid_argument) with %q", err, tt.want)
			}
			if reached.Load() != before {
				t.Errorf("the handler ran")
			}
		})
	}
	// Bytes that are no CBOR item are malformed, as the decoder says of them.
	if _, err := c.CallCBOR(t.Context(), "Nearest", []byte{0xa1, 0x63, 'l', 'a'}); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated request: %v, want ErrMalformed", err)
	}
}
