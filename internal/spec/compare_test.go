package spec

import (
	"reflect"
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
		{"renamed field", itemRenamed{}, `field "name": local has it, remote does not; remote has "title" instead: rename the local field with a cbor tag, or remove it`},
		{"added field", itemExtra{}, `field "limit": remote has it, local does not; add a field of type int64 tagged cbor:"limit" to the local type`},
		{"changed type", itemRetyped{}, "price: type: local number, remote integer; change the local field to type int64"},
		{"changed condition", itemReconditioned{}, "name: maxLength: local 8, remote 9; set maxLength=9 in the papi tag of the local field"},
		{"no longer required", itemOptional{}, `field "name": local required, remote optional; add omitempty to the cbor tag of the local field, or make it a pointer`},
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
	if err := Compare(a, aDefs, b, bDefs); err == nil || err.Error() != "stations[].name: type: local string, remote integer; change the local field to type int64" {
		t.Errorf("nested: %v", err)
	}
	a, aDefs = derive(t, enumA{})
	b, bDefs = derive(t, enumB{})
	if err := Compare(a, aDefs, b, bDefs); err == nil || err.Error() != `k: enum: local ["a b"], remote ["a" "b"]; set enum=a|b in the papi tag of the local field` {
		t.Errorf("enum: %v", err)
	}
	a, _ = derive(t, struct {
		P *int `cbor:"p"`
	}{})
	b, _ = derive(t, struct {
		P int `cbor:"p"`
	}{})
	if err := Compare(a, nil, b, nil); err == nil || !strings.Contains(err.Error(), "p: nullable: local true, remote false; make the local field no pointer") {
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
	if err := Compare(n, nDefs, m, mDefs); err == nil || err.Error() != "children: maxItems: local none, remote 2; add maxItems=2 to the papi tag of the local field" {
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

// The remote side of TestCompareTypeMessages: what a peer serves.
type (
	remoteNearest struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	// Each local type below differs from remoteNearest in one way.
	untaggedNearest struct {
		Lat   float64  `papi:"minimum=-90,maximum=90"`
		Lon   float64  `papi:"minimum=-180,maximum=180"`
		Limit int      `papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	noMinimum struct {
		Lat   float64  `cbor:"lat" papi:"maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	extraMinimum struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count" papi:"minimum=0"`
	}
	otherMaximum struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=20"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	renamedLimit struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Max   int      `cbor:"max" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	extraField struct {
		remoteNearest
		Debug bool `cbor:"debug"`
	}
	lessFields struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	floatLimit struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit float64  `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	wideCount struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int64    `cbor:"count"`
	}
	textKey struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   string   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	pointerLat struct {
		Lat   *float64 `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	valueNear struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  Item     `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	optionalLimit struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit,omitempty" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	requiredParty struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	otherEnum struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|c,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	noPattern struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *Item    `cbor:"near"`
		Count int32    `cbor:"count"`
	}
	fixedTags struct {
		Lat   float64   `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64   `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int       `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string    `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  [2]string `cbor:"tags"`
		Key   []byte    `cbor:"key"`
		Near  *Item     `cbor:"near"`
		Count int32     `cbor:"count"`
	}
	nearLongerName struct {
		Lat   float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int      `cbor:"limit" papi:"minimum=1,maximum=50"`
		Party string   `cbor:"party,omitempty" papi:"enum=a|b,pattern=^[ab]$"`
		Tags  []string `cbor:"tags" papi:"maxItems=4"`
		Key   []byte   `cbor:"key"`
		Near  *struct {
			Name  string  `cbor:"name" papi:"minLength=1,maxLength=9"`
			Price float64 `cbor:"price" papi:"minimum=0"`
		} `cbor:"near"`
		Count int32 `cbor:"count"`
	}
)

// TestCompareTypeMessages checks every kind of difference CompareType
// reports: which side has what, and what to change in the local Go type.
func TestCompareTypeMessages(t *testing.T) {
	remote, remoteDefs := derive(t, remoteNearest{})
	tests := []struct {
		name  string
		local reflect.Type
		want  string
	}{
		{"same", reflect.TypeFor[remoteNearest](), ""},
		{"untagged fields keep their Go names", reflect.TypeFor[untaggedNearest](),
			`field "Lat": local has it, remote does not; remote has "lat": tag the Go field untaggedNearest.Lat cbor:"lat", and likewise "Limit", "Lon"`},
		{"condition missing", reflect.TypeFor[noMinimum](),
			`lat: minimum: local none, remote -90; add minimum=-90 to the papi tag of the Go field noMinimum.Lat`},
		{"condition the remote lacks", reflect.TypeFor[extraMinimum](),
			`count: minimum: local 0, remote none; remove minimum from the papi tag of the Go field extraMinimum.Count`},
		{"condition differs", reflect.TypeFor[otherMaximum](),
			`limit: maximum: local 20, remote 50; set maximum=50 in the papi tag of the Go field otherMaximum.Limit`},
		{"renamed field", reflect.TypeFor[renamedLimit](),
			`field "max": local has it, remote does not; remote has "limit" instead: rename the Go field renamedLimit.Max with a cbor tag, or remove it`},
		{"field the remote lacks", reflect.TypeFor[extraField](),
			`field "debug": local has it, remote does not; remove the Go field extraField.Debug, or tag it cbor:"-"`},
		{"field the local type lacks", reflect.TypeFor[lessFields](),
			`field "limit": remote has it, local does not; add a field of type int64 tagged cbor:"limit" to the Go type lessFields`},
		{"type", reflect.TypeFor[floatLimit](),
			`limit: type: local number, remote integer; change the Go field floatLimit.Limit to type int64`},
		{"format", reflect.TypeFor[wideCount](),
			`count: format: local "int64", remote "int32"; change the Go field wideCount.Count to type int32`},
		{"text for bytes", reflect.TypeFor[textKey](),
			`key: contentEncoding: local none, remote "base64"; change the Go field textKey.Key to type []byte`},
		{"pointer for a value", reflect.TypeFor[pointerLat](),
			`lat: nullable: local true, remote false; make the Go field pointerLat.Lat no pointer, or tag it papi:"required"`},
		{"value for a pointer", reflect.TypeFor[valueNear](),
			`near: nullable: local false, remote true; make the Go field valueNear.Near a pointer`},
		{"optional for required", reflect.TypeFor[optionalLimit](),
			`field "limit": local optional, remote required; remove omitempty (or omitzero) from the cbor tag of the Go field optionalLimit.Limit`},
		{"required for optional", reflect.TypeFor[requiredParty](),
			`field "party": local required, remote optional; add omitempty to the cbor tag of the Go field requiredParty.Party, or make it a pointer`},
		{"enum", reflect.TypeFor[otherEnum](),
			`party: enum: local ["a" "c"], remote ["a" "b"]; set enum=a|b in the papi tag of the Go field otherEnum.Party`},
		{"pattern", reflect.TypeFor[noPattern](),
			`party: pattern: local none, remote "^[ab]$"; add pattern=^[ab]$ (last in the tag) to the papi tag of the Go field noPattern.Party`},
		{"array length", reflect.TypeFor[fixedTags](),
			`tags: minItems: local 2, remote none; change the Go field fixedTags.Tags to a slice`},
		{"nested", reflect.TypeFor[nearLongerName](),
			`near.name: maxLength: local 9, remote 8; set maxLength=8 in the papi tag of the Go field nearLongerName.Near.Name`},
		{"map for a struct", reflect.TypeFor[map[string]float64](),
			`type: local map, remote object with fields; change the Go type map[string]float64 to a struct with fields "count", "key", "lat", "limit", "lon", "near", "party", "tags"`},
		{"no schema", reflect.TypeFor[struct{ F func() }](), "struct.F: unsupported type func()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CompareType(tt.local, remote, remoteDefs)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("difference found: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestCompareMessagesWithoutGoTypes covers what only hand-made schemas,
// such as those of a peer not written in Go, can differ in.
func TestCompareMessagesWithoutGoTypes(t *testing.T) {
	local, localDefs := derive(t, stations{})
	one := uint64(1)
	tests := []struct {
		name   string
		remote *Schema
		defs   map[string]*Schema
		want   string
	}{
		{"dangling remote reference", &Schema{Ref: "#/$defs/Gone"}, nil, "remote reference #/$defs/Gone does not resolve"},
		{"condition on items", &Schema{Type: TypeObject, Required: []string{"stations"}, Properties: map[string]*Schema{
			"stations": {Type: TypeArray, Items: &Schema{Ref: "#/$defs/Item"}, MinItems: &one},
		}}, localDefs, "stations: minItems: local none, remote 1; add minItems=1 to the papi tag of the local field"},
		{"no items", &Schema{Type: TypeObject, Required: []string{"stations"}, Properties: map[string]*Schema{
			"stations": {Type: TypeArray},
		}}, localDefs, "stations[]: schema: local present, remote none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Compare(local, localDefs, tt.remote, tt.defs)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
	tags, _ := derive(t, struct {
		Tags []string `cbor:"tags"`
	}{})
	nonEmpty := &Schema{Type: TypeObject, Required: []string{"tags"}, Properties: map[string]*Schema{
		"tags": {Type: TypeArray, Items: &Schema{Type: TypeString, MinLength: &one}},
	}}
	if err := Compare(tags, nil, nonEmpty, nil); err == nil || err.Error() != "tags[]: minLength: local none, remote 1; no papi tag can put a condition here: wrap the value in a struct field" {
		t.Errorf("condition on items: %v", err)
	}
	if err := Compare(&Schema{Ref: "#/$defs/Gone"}, nil, local, localDefs); err == nil || err.Error() != "local reference #/$defs/Gone does not resolve" {
		t.Errorf("dangling local reference: %v", err)
	}
}
