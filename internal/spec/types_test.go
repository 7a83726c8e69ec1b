package spec

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// Types the tests of several files share.

type Item struct {
	Name  string  `cbor:"name" papi:"minLength=1,maxLength=8"`
	Price float64 `cbor:"price" papi:"minimum=0"`
}

type Party string

type Order struct {
	ID       string            `cbor:"id" papi:"pattern=^[a-z]{2,4}-[0-9]+$"`
	Kind     string            `cbor:"kind" papi:"enum=pickup|delivery"`
	Items    []Item            `cbor:"items" papi:"minItems=1,maxItems=3"`
	Note     *string           `cbor:"note" papi:"maxLength=5"`
	Tip      *int              `cbor:"tip" papi:"required,minimum=0,maximum=100"`
	Meta     map[string]string `json:"meta"`
	Blob     []byte            `cbor:"blob,omitempty" papi:"maxLength=4"`
	When     time.Time         `cbor:"when"`
	Wait     time.Duration     `cbor:"wait"`
	Digest   [4]byte           `cbor:"digest"`
	Small    int8              `cbor:"small" papi:"enum=1|2|3"`
	Party    Party             `cbor:"party" doc:"who pays"`
	Addr     netip.Addr        `cbor:"addr"`
	Hidden   string            `cbor:"-"`
	internal string
	GoName   bool
}

func validOrder() Order {
	tip := 10
	return Order{ID: "ab-1", Kind: "pickup", Items: []Item{{Name: "tea", Price: 2}}, Tip: &tip, Small: 2}
}

// fullOrder sets every field, so that no omitempty leaves one out.
func fullOrder() Order {
	o := validOrder()
	note := "hi"
	o.Note = &note
	o.Meta = map[string]string{"k": "v"}
	o.Blob = []byte{1, 2}
	o.When = time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	o.Wait = -time.Second
	o.Digest = [4]byte{9, 8, 7, 6}
	o.Party = "host"
	o.Addr = netip.MustParseAddr("192.0.2.1")
	o.GoName = true
	o.internal = "not sent"
	return o
}

type Node struct {
	Label    string `cbor:"label" papi:"maxLength=3"`
	Children []Node `cbor:"children"`
}

// Ping and Pong refer to each other.
type Ping struct {
	N    int   `cbor:"n" papi:"maximum=9"`
	Next *Pong `cbor:"next"`
}

type Pong struct {
	Back *Ping `cbor:"back"`
}

// Tree is recursive and has no condition anywhere.
type Tree struct {
	Kids []Tree `cbor:"kids"`
	Name string `cbor:"name"`
}

type Page[T any] struct {
	Entries []T    `cbor:"entries"`
	Next    string `cbor:"next,omitempty"`
}

func derive(t testing.TB, v any) (*Schema, map[string]*Schema) {
	t.Helper()
	b := NewBuilder()
	s, err := b.Schema(reflect.TypeOf(v))
	if err != nil {
		t.Fatal(err)
	}
	return s, b.Defs()
}

// deriveObject derives the schema of a struct value and returns the object
// schema itself, not a reference to it.
func deriveObject(t testing.TB, v any) *Schema {
	t.Helper()
	s, defs := derive(t, v)
	return object(t, s, defs)
}

// object returns the object schema s is or refers to.
func object(t testing.TB, s *Schema, defs map[string]*Schema) *Schema {
	t.Helper()
	r, _, ok := resolve(s, defs)
	if !ok || r.Type != TypeObject {
		t.Fatalf("not an object schema: %+v", s)
	}
	return r
}

func ptr[T any](v T) *T { return &v }
