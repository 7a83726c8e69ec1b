package papi

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestHandleReportsItsOwnError declares methods, some wrong, on one API:
// each Handle reports its own problem and no other's, and the API refuses
// to bundle with every problem listed.
func TestHandleReportsItsOwnError(t *testing.T) {
	type withFunc struct {
		Callback func() `cbor:"callback"`
	}
	type withChan struct {
		Events chan int `cbor:"events"`
	}
	ok := func(context.Context, CountReq) (CountResp, error) { return CountResp{}, nil }
	api := New("mixed", "1")
	tests := []struct {
		name    string
		declare func() error
		want    string // "" for no error
	}{
		{"bad request", func() error {
			return Handle(api, "BadRequest", func(context.Context, withFunc) (CountResp, error) { return CountResp{}, nil })
		}, "method BadRequest: request: withFunc.Callback: unsupported type func() (on the wire: callback)"},
		{"good after a bad one", func() error { return Handle(api, "Good", ok) }, ""},
		{"bad response", func() error {
			return Handle(api, "BadResponse", func(context.Context, CountReq) (withChan, error) { return withChan{}, nil })
		}, "method BadResponse: response: withChan.Events: unsupported type chan int (on the wire: events)"},
		{"declared twice", func() error { return Handle(api, "Good", ok) }, "method Good: declared twice"},
		{"invalid name", func() error { return Handle(api, "no.dots", ok) }, "method no.dots: invalid name: a method name is 1 to 128 letters, digits and _, starting with a letter"},
		{"good at the end", func() error { return Handle(api, "AlsoGood", ok) }, ""},
	}
	var wants []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.declare()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
		if tt.want != "" {
			wants = append(wants, tt.want)
		}
	}
	_, err := api.Bundle()
	if err == nil {
		t.Fatal("an API with declaration errors bundled")
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, wants) {
		t.Errorf("Bundle error lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wants, "\n"))
	}
	if !slices.Equal(strings.Split(api.Err().Error(), "\n"), wants) {
		t.Errorf("Err() = %v", api.Err())
	}
}

// TestFailedHandleLeavesNoDefinitions: a method whose response fails must
// not leave its request's definition behind, where a later method's type
// of the same name would clash with it.
func TestFailedHandleLeavesNoDefinitions(t *testing.T) {
	type withChan struct {
		Events chan int `cbor:"events"`
	}
	type Twin struct {
		A int `cbor:"a"`
	}
	api := New("twins", "1")
	if err := Handle(api, "Bad", func(context.Context, Twin) (withChan, error) { return withChan{}, nil }); err == nil {
		t.Fatal("a channel in a response was accepted")
	}
	{
		type Twin struct {
			B string `cbor:"b"`
		}
		if err := Handle(api, "Other", func(context.Context, Twin) (CountResp, error) { return CountResp{}, nil }); err != nil {
			t.Fatalf("a type named like the failed method's request: %v", err)
		}
	}
}

// TestNonStructTypes serves a method whose request and response are a
// string and a slice, as Handle's documentation says it may, and calls it
// from another host, typed and as JSON.
func TestNonStructTypes(t *testing.T) {
	api := New("words", "1")
	err := Handle(api, "Split", func(_ context.Context, s string) ([]string, error) {
		return strings.Fields(s), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := api.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	c := serveAndDial(t, b)
	got, err := Call[string, []string](t.Context(), c, "Split", "peer to peer")
	if err != nil || !slices.Equal(got, []string{"peer", "to", "peer"}) {
		t.Errorf("Split = %q, %v", got, err)
	}
	out, err := c.CallJSON(t.Context(), "Split", []byte(`"a b"`))
	if err != nil || string(out) != `["a","b"]` {
		t.Errorf("CallJSON Split = %s, %v", out, err)
	}
	if _, err := Call[[]string, []string](t.Context(), c, "Split", nil); !errors.Is(err, ErrSpecMismatch) {
		t.Errorf("a slice where the remote takes a string: %v, want ErrSpecMismatch", err)
	}
}
