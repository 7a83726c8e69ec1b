package spec

import (
	"strings"
	"testing"

	"github.com/papi-dev/papi/internal/canon"
)

type (
	itemRenamed struct {
		Title string  `cbor:"title" papi:"minLength=1,maxLength=8"`
		Price float64 `cbor:"price" papi:"minimum=0"`
	}
	itemExtra struct {
		Name  string  `cbor:"name" papi:"minLength=1,maxLength=8"`
		Price float64 `cbor:"price" papi:"minimum=0"`
		Limit int     `cbor:"limit"`
	}
	itemRetyped struct {
		Name  string `cbor:"name" papi:"minLength=1,maxLength=8"`
		Price int    `cbor:"price" papi:"minimum=0"`
	}
	itemReconditioned struct {
		Name  string  `cbor:"name" papi:"minLength=1,maxLength=9"`
		Price float64 `cbor:"price" papi:"minimum=0"`
	}
	itemOptional struct {
		Name  string  `cbor:"name,omitempty" papi:"minLength=1,maxLength=8"`
		Price float64 `cbor:"price" papi:"minimum=0"`
	}
	itemNullable struct {
		Name  *string `cbor:"name" papi:"required,minLength=1,maxLength=8"`
		Price float64 `cbor:"price" papi:"minimum=0"`
	}
	itemDocumented struct {
		Price float64 `cbor:"price" papi:"minimum=0" doc:"in cents"` // fields in another order
		Name  string  `cbor:"name" papi:"minLength=1,maxLength=8" doc:"what it is"`
	}
	stations struct {
		Stations []Item `cbor:"stations"`
	}
	stationsRetyped struct {
		Stations []struct {
			Name  int     `cbor:"name"`
			Price float64 `cbor:"price"`
		} `cbor:"stations"`
	}
	enumA struct {
		K string `cbor:"k" papi:"enum=a b"`
	}
	enumB struct {
		K string `cbor:"k" papi:"enum=a|b"`
	}
)

func TestCompare(t *testing.T) {
	item, itemDefs := derive(t, Item{})
	tests := []struct {
		name string
		v    any
		want string // "" for no difference
	}{
		{"same", Item{}, ""},
		{"description and field order do not count", itemDocumented{}, ""},
		{"renamed field", itemRenamed{}, `field "name" missing`},
		{"added field", itemExtra{}, `field "limit" added`},
		{"changed type", itemRetyped{}, "price: type number vs integer"},
		{"changed condition", itemReconditioned{}, "name: maxLength 8 vs 9"},
		{"no longer required", itemOptional{}, `field "name" required true vs false`},
		{"nullable", itemNullable{}, ""}, // a required pointer is never null: the same values
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, defs := derive(t, tt.v)
			err := Compare(item, itemDefs, s, defs)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("difference found: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
	a, aDefs := derive(t, stations{})
	b, bDefs := derive(t, stationsRetyped{})
	if err := Compare(a, aDefs, b, bDefs); err == nil || err.Error() != "stations[].name: type string vs integer" {
		t.Errorf("nested: %v", err)
	}
	a, aDefs = derive(t, enumA{})
	b, bDefs = derive(t, enumB{})
	if err := Compare(a, aDefs, b, bDefs); err == nil || err.Error() != `k: enum ["a b"] vs ["a" "b"]` {
		t.Errorf("enum: %v", err)
	}
	a, _ = derive(t, struct {
		P *int `cbor:"p"`
	}{})
	b, _ = derive(t, struct {
		P int `cbor:"p"`
	}{})
	if err := Compare(a, nil, b, nil); err == nil || !strings.Contains(err.Error(), "p: nullable true vs false") {
		t.Errorf("pointer: %v", err)
	}
}

func TestCompareIgnoresDescriptionsAndDefNames(t *testing.T) {
	a, aDefs := derive(t, Order{})
	b, bDefs := derive(t, Order{})
	bDefs["Order"].Description = "differs only in words"
	bDefs["Order"].Properties["id"].Description = "and here"
	// The same definition under another name is the same schema.
	bDefs["Renamed"] = bDefs["Order"]
	delete(bDefs, "Order")
	b.Ref = "#/$defs/Renamed"
	if err := Compare(a, aDefs, b, bDefs); err != nil {
		t.Fatal(err)
	}
	bDefs["Renamed"].Properties["id"].Pattern = "^x$"
	if err := Compare(a, aDefs, b, bDefs); err == nil || !strings.HasPrefix(err.Error(), "id: pattern") {
		t.Fatalf("changed pattern: %v", err)
	}
}

func TestCompareRecursive(t *testing.T) {
	n, nDefs := derive(t, Node{})
	if err := Compare(n, nDefs, n, nDefs); err != nil {
		t.Fatal(err)
	}
	p, pDefs := derive(t, Ping{})
	if err := Compare(p, pDefs, p, pDefs); err != nil {
		t.Fatal(err)
	}
	type Node2 struct {
		Label    string  `cbor:"label" papi:"maxLength=3"`
		Children []Node2 `cbor:"children" papi:"maxItems=2"`
	}
	m, mDefs := derive(t, Node2{})
	if err := Compare(n, nDefs, m, mDefs); err == nil || err.Error() != "children: maxItems none vs 2" {
		t.Fatalf("recursive difference: %v", err)
	}
	if err := Compare(&Schema{Ref: "#/$defs/Gone"}, nil, n, nDefs); err == nil {
		t.Fatal("dangling $ref compared equal")
	}
}

// TestCompareAfterRoundTrip compares a derived spec with itself after
// encoding and decoding: enum values come back as other Go types.
func TestCompareAfterRoundTrip(t *testing.T) {
	s := testSpec(t)
	raw, err := canon.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Spec
	if err := canon.UnmarshalCanonical(raw, &back); err != nil {
		t.Fatal(err)
	}
	for i, m := range s.Methods {
		if err := Compare(m.Request, s.Defs, back.Methods[i].Request, back.Defs); err != nil {
			t.Errorf("%s request: %v", m.Name, err)
		}
		if err := Compare(m.Response, s.Defs, back.Methods[i].Response, back.Defs); err != nil {
			t.Errorf("%s response: %v", m.Name, err)
		}
	}
}
