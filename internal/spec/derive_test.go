package spec

import (
	"bytes"
	"maps"
	"math/big"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/fxamacker/cbor/v2"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/spec/internal/othertypes"
)

type Bytes []byte

type requiredInside struct {
	L []int `papi:"required"`
}

type Label string

func TestSchemaOfEachKind(t *testing.T) {
	four, three := uint64(4), uint64(3)
	tests := []struct {
		name string
		typ  reflect.Type
		want *Schema
	}{
		{"bool", reflect.TypeFor[bool](), &Schema{Type: "boolean"}},
		{"int", reflect.TypeFor[int](), &Schema{Type: "integer", Format: "int64"}},
		{"int8", reflect.TypeFor[int8](), &Schema{Type: "integer", Format: "int8"}},
		{"int16", reflect.TypeFor[int16](), &Schema{Type: "integer", Format: "int16"}},
		{"int32", reflect.TypeFor[int32](), &Schema{Type: "integer", Format: "int32"}},
		{"int64", reflect.TypeFor[int64](), &Schema{Type: "integer", Format: "int64"}},
		{"uint", reflect.TypeFor[uint](), &Schema{Type: "integer", Format: "uint64"}},
		{"uint8", reflect.TypeFor[uint8](), &Schema{Type: "integer", Format: "uint8"}},
		{"uint16", reflect.TypeFor[uint16](), &Schema{Type: "integer", Format: "uint16"}},
		{"uint32", reflect.TypeFor[uint32](), &Schema{Type: "integer", Format: "uint32"}},
		{"uint64", reflect.TypeFor[uint64](), &Schema{Type: "integer", Format: "uint64"}},
		{"float32", reflect.TypeFor[float32](), &Schema{Type: "number", Format: "float"}},
		{"float64", reflect.TypeFor[float64](), &Schema{Type: "number", Format: "double"}},
		{"string", reflect.TypeFor[string](), &Schema{Type: "string"}},
		{"named string", reflect.TypeFor[Party](), &Schema{Type: "string"}},
		{"bytes", reflect.TypeFor[[]byte](), &Schema{Type: "string", ContentEncoding: "base64"}},
		{"named bytes", reflect.TypeFor[Bytes](), &Schema{Type: "string", ContentEncoding: "base64"}},
		{"byte array is bytes on the wire", reflect.TypeFor[[4]byte](), &Schema{Type: "string", ContentEncoding: "base64", MinLength: &four, MaxLength: &four}},
		{"array", reflect.TypeFor[[3]int16](), &Schema{Type: "array", Items: &Schema{Type: "integer", Format: "int16"}, MinItems: &three, MaxItems: &three}},
		{"slice", reflect.TypeFor[[]string](), &Schema{Type: "array", Items: &Schema{Type: "string"}}},
		{"map", reflect.TypeFor[map[string]uint8](), &Schema{Type: "object", AdditionalProperties: &Schema{Type: "integer", Format: "uint8"}}},
		{"map with named string keys", reflect.TypeFor[map[Party]bool](), &Schema{Type: "object", AdditionalProperties: &Schema{Type: "boolean"}}},
		{"pointer", reflect.TypeFor[*int32](), &Schema{Type: "integer", Format: "int32", Nullable: true}},
		{"pointer to pointer", reflect.TypeFor[**string](), &Schema{Type: "string", Nullable: true}},
		{"time, null when zero", reflect.TypeFor[time.Time](), &Schema{Type: "string", Format: "date-time", Nullable: true}},
		{"duration", reflect.TypeFor[time.Duration](), &Schema{Type: "integer", Format: "int64"}},
		{"binary marshaler is bytes on the wire", reflect.TypeFor[netip.Addr](), &Schema{Type: "string", ContentEncoding: "base64"}},
		{"named struct", reflect.TypeFor[Item](), &Schema{Ref: "#/$defs/Item"}},
		{"pointer to named struct", reflect.TypeFor[*Item](), &Schema{Ref: "#/$defs/Item", Nullable: true}},
		{"generic", reflect.TypeFor[Page[Item]](), &Schema{Ref: "#/$defs/Page_Item"}},
		{"anonymous struct", reflect.TypeFor[struct {
			A int `cbor:"a"`
		}](), &Schema{Type: "object", Properties: map[string]*Schema{"a": {Type: "integer", Format: "int64"}}, Required: []string{"a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewBuilder().Schema(tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("schema of %s:\n got %+v\nwant %+v", tt.typ, got, tt.want)
			}
		})
	}
}

func TestSchemaOfAStruct(t *testing.T) {
	s, defs := derive(t, Order{})
	if s.Ref != "#/$defs/Order" {
		t.Fatalf("named struct: %+v", s)
	}
	o := defs["Order"]
	four := uint64(4)
	five := uint64(5)
	want := map[string]*Schema{
		"id":     {Type: "string", Pattern: "^[a-z]{2,4}-[0-9]+$"},
		"kind":   {Type: "string", Enum: []any{"pickup", "delivery"}},
		"items":  {Type: "array", Items: &Schema{Ref: "#/$defs/Item"}, MinItems: ptr(uint64(1)), MaxItems: ptr(uint64(3))},
		"note":   {Type: "string", Nullable: true, MaxLength: &five},
		"tip":    {Type: "integer", Format: "int64", Minimum: ptr(0.0), Maximum: ptr(100.0)},
		"meta":   {Type: "object", AdditionalProperties: &Schema{Type: "string"}},
		"blob":   {Type: "string", ContentEncoding: "base64", MaxLength: &four},
		"when":   {Type: "string", Format: "date-time", Nullable: true},
		"wait":   {Type: "integer", Format: "int64"},
		"digest": {Type: "string", ContentEncoding: "base64", MinLength: &four, MaxLength: &four},
		"small":  {Type: "integer", Format: "int8", Enum: []any{uint64(1), uint64(2), uint64(3)}},
		"party":  {Type: "string", Description: "who pays"},
		"addr":   {Type: "string", ContentEncoding: "base64"},
		"GoName": {Type: "boolean"},
	}
	if !reflect.DeepEqual(o.Properties, want) {
		for name := range want {
			if !reflect.DeepEqual(o.Properties[name], want[name]) {
				t.Errorf("%s: %+v, want %+v", name, o.Properties[name], want[name])
			}
		}
		t.Errorf("properties %v", slices.Sorted(maps.Keys(o.Properties)))
	}
	// Declaration order; a pointer is optional unless required; omitempty is optional.
	wantRequired := []string{"id", "kind", "items", "tip", "meta", "when", "wait", "digest", "small", "party", "addr", "GoName"}
	if !slices.Equal(o.Required, wantRequired) {
		t.Errorf("required %v, want %v", o.Required, wantRequired)
	}
	if defs["Item"] == nil || len(defs) != 2 {
		t.Errorf("defs %v", defs)
	}
}

func TestRequired(t *testing.T) {
	type R struct {
		Plain     string            `cbor:"plain"`
		Omit      string            `cbor:"omit,omitempty"`
		Zero      int               `cbor:"zero,omitzero"`
		Ptr       *string           `cbor:"ptr"`
		PtrReq    *string           `cbor:"ptrReq" papi:"required"`
		PtrOmit   *string           `cbor:"ptrOmit,omitempty" papi:"required"`
		Slice     []int             `cbor:"slice"`
		SliceReq  []int             `cbor:"sliceReq" papi:"required"`
		Map       map[string]string `cbor:"map" papi:"required"`
		Implied   int               `cbor:"implied" papi:"required"`
		SliceOmit []int             `cbor:"sliceOmit,omitempty"`
	}
	s := deriveObject(t, R{})
	want := []string{"plain", "ptrReq", "ptrOmit", "slice", "sliceReq", "map", "implied"}
	if !slices.Equal(s.Required, want) {
		t.Errorf("required %v, want %v", s.Required, want)
	}
	if s.Properties["ptr"].Nullable != true || s.Properties["ptrReq"].Nullable != false {
		t.Errorf("a required pointer is never null: %+v %+v", s.Properties["ptr"], s.Properties["ptrReq"])
	}
}

func TestUnexportedAndSkippedFields(t *testing.T) {
	type S struct {
		Sent    int `cbor:"sent"`
		skipped int
		Dash    int `cbor:"-"`
		JSONish int `json:"-"`
		Both    int `cbor:"b" json:"j"`
	}
	s := deriveObject(t, S{skipped: 1})
	if got := slices.Sorted(maps.Keys(s.Properties)); !slices.Equal(got, []string{"b", "sent"}) {
		t.Errorf("properties %v", got)
	}
}

type Filter struct {
	Callback func() `cbor:"callback"`
}

type NearestReq struct {
	Lat    float64 `cbor:"lat"`
	Filter Filter  `cbor:"filter"`
}

type withBadEmbedded struct {
	Embedded
}

type Embedded struct {
	Sink chan int
}

func TestUnsupportedTypesNameTheField(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"chan", struct{ C chan int }{}, "C: unsupported type chan int"},
		{"func", struct{ F func() }{}, "F: unsupported type func()"},
		{"any", struct{ A any }{}, "A: unsupported type interface {}"},
		{"interface", struct{ E error }{}, "E: unsupported type error"},
		{"complex64", struct{ Z complex64 }{}, "Z: unsupported type complex64"},
		{"complex128", struct{ Z complex128 }{}, "Z: unsupported type complex128"},
		{"unsafe.Pointer", struct{ P unsafe.Pointer }{}, "P: unsupported type unsafe.Pointer"},
		{"uintptr", struct{ U uintptr }{}, "U: unsupported type uintptr"},
		{"int keys", struct{ M map[int]string }{}, "M: unsupported map key type int"},
		{"array keys", struct{ M map[[2]string]int }{}, "M: unsupported map key type [2]string"},
		{"big.Int", struct{ N big.Int }{}, "N: unsupported type big.Int"},
		{"cbor.Marshaler", struct{ R cbor.RawMessage }{}, "R: unsupported type cbor.RawMessage (it encodes itself with MarshalCBOR)"},
		{"nested, with Go names", NearestReq{}, "NearestReq.Filter.Callback: unsupported type func()"},
		{"slice items", struct{ L [][]chan int }{}, "L[][]: unsupported type chan int"},
		{"map values", struct{ M map[string]*func() }{}, "M{}: unsupported type func()"},
		{"through an embedded struct", withBadEmbedded{}, "withBadEmbedded.Embedded.Sink: unsupported type chan int"},
		{"top level", make(chan int), "chan int: unsupported type chan int"},
		{"toarray", struct {
			_ struct{} `cbor:",toarray"`
			A int
		}{}, "encoded as an array"},
		{"keyasint", struct {
			A int `cbor:"1,keyasint"`
		}{}, "field A uses keyasint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBuilder().Schema(reflect.TypeOf(tt.v))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v, want it to say %q", err, tt.want)
			}
			if _, err := ValidatorFor(reflect.TypeOf(tt.v)); err == nil {
				t.Error("ValidatorFor accepted what Schema refuses")
			}
		})
	}
}

func TestTwoTypesOfOneName(t *testing.T) {
	b := NewBuilder()
	if _, err := b.Schema(reflect.TypeFor[Item]()); err != nil {
		t.Fatal(err)
	}
	type Both struct {
		Mine   Item             `cbor:"mine"`
		Theirs othertypes.Item  `cbor:"theirs"`
		Else   othertypes.Other `cbor:"else"`
	}
	_, err := b.Schema(reflect.TypeFor[Both]())
	if err == nil {
		t.Fatal("two types named Item accepted")
	}
	for _, want := range []string{"Both.Theirs", "github.com/papi-dev/papi/internal/spec.Item", "github.com/papi-dev/papi/internal/spec/internal/othertypes.Item"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not say %q", err, want)
		}
	}
	// The failed call added nothing: not Both, not othertypes.Other.
	if defs := b.Defs(); len(defs) != 1 || defs["Item"] == nil {
		t.Errorf("defs after a failed Schema: %v", slices.Sorted(maps.Keys(defs)))
	}
	// Generic instantiations over the two are two types of one name too.
	b = NewBuilder()
	if _, err := b.Schema(reflect.TypeFor[Page[Item]]()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Schema(reflect.TypeFor[Page[othertypes.Item]]()); err == nil || !strings.Contains(err.Error(), "Page_Item") {
		t.Errorf("Page[othertypes.Item] after Page[Item]: %v", err)
	}
}

func TestDefNames(t *testing.T) {
	tests := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[Item](), "Item"},
		{reflect.TypeFor[Page[Item]](), "Page_Item"},
		{reflect.TypeFor[Page[*othertypes.Item]](), "Page_Item"},
		{reflect.TypeFor[Page[map[string][]Item]](), "Page_map_string_Item"},
		{reflect.TypeFor[Page[Page[int]]](), "Page_Page_int"},
	}
	for _, tt := range tests {
		if got := defName(tt.typ); got != tt.want {
			t.Errorf("defName(%s) = %q, want %q", tt.typ, got, tt.want)
		}
	}
}

func TestRecursiveTypes(t *testing.T) {
	s, defs := derive(t, Node{})
	if s.Ref != "#/$defs/Node" || defs["Node"].Properties["children"].Items.Ref != "#/$defs/Node" {
		t.Fatalf("recursive type: %+v", defs["Node"])
	}
	s, defs = derive(t, Ping{})
	if s.Ref != "#/$defs/Ping" || defs["Pong"].Properties["back"].Ref != "#/$defs/Ping" || !defs["Pong"].Properties["back"].Nullable {
		t.Fatalf("mutually recursive types: %+v", defs)
	}
	spec := &Spec{Name: "x", Methods: []Method{{Name: "M", Request: s, Response: s}}, Defs: defs}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConditionsThatDoNotFit(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"minLength on an int", struct {
			N int `papi:"minLength=1"`
		}{}, "N: minLength does not apply to int"},
		{"pattern on bytes", struct {
			B []byte `papi:"pattern=^a$"`
		}{}, "pattern does not apply to []uint8"},
		{"pattern on a number", struct {
			F float64 `papi:"pattern=^1$"`
		}{}, "pattern does not apply to float64"},
		{"minItems on a string", struct {
			S string `papi:"minItems=1"`
		}{}, "minItems does not apply to string"},
		{"minimum on a string", struct {
			S string `papi:"minimum=1"`
		}{}, "minimum does not apply to string"},
		{"maxLength on a time", struct {
			T time.Time `papi:"maxLength=3"`
		}{}, "maxLength does not apply to time.Time"},
		{"enum on bytes", struct {
			B []byte `papi:"enum=a|b"`
		}{}, "enum does not apply"},
		{"maxItems on a fixed array", struct {
			A [3]int `papi:"maxItems=2"`
		}{}, "maxItems does not apply to [3]int"},
		{"bad regex", struct {
			S string `papi:"pattern=(("`
		}{}, "S: pattern \"((\""},
		{"min > max", struct {
			N int `papi:"minimum=5,maximum=1"`
		}{}, "minimum 5 > maximum 1"},
		{"minLength > maxLength", struct {
			S string `papi:"minLength=5,maxLength=1"`
		}{}, "minLength 5 > maxLength 1"},
		{"minItems > maxItems", struct {
			L []int `papi:"minItems=5,maxItems=1"`
		}{}, "minItems 5 > maxItems 1"},
		{"enum value not of the kind", struct {
			N int `papi:"enum=1|two"`
		}{}, `enum value "two" is not a int`},
		{"enum value out of range", struct {
			N uint8 `papi:"enum=1|256"`
		}{}, `enum value "256" is not a uint8`},
		{"enum value twice", struct {
			S string `papi:"enum=a|a"`
		}{}, `enum value "a" listed twice`},
		{"unknown condition", struct {
			N int `papi:"smallest=1"`
		}{}, "unknown condition"},
		{"condition twice", struct {
			N int `papi:"minimum=1,minimum=2"`
		}{}, "condition minimum given twice"},
		{"not a number", struct {
			N int `papi:"minimum=one"`
		}{}, "minimum=one: not a finite number"},
		{"not a count", struct {
			S string `papi:"maxLength=-1"`
		}{}, "maxLength=-1: not a count"},
		{"on a struct", struct {
			I Item `papi:"minimum=1"`
		}{}, "minimum does not apply to spec.Item"},
		{"on a map", struct {
			M map[string]int `papi:"minItems=1"`
		}{}, "minItems does not apply to map[string]int"},
		{"required and omitempty", struct {
			S string `cbor:"s,omitempty" papi:"required"`
		}{}, "required contradicts omitempty"},
		{"required on a slice with omitempty", struct {
			S []int `cbor:"s,omitempty" papi:"required"`
		}{}, "required contradicts omitempty"},
		{"required through an embedded pointer", struct {
			*requiredInside
		}{}, "required does not apply to a field of an embedded pointer"},
		{"binary marshaler", struct {
			A *netip.Addr `papi:"maxLength=3"`
		}{}, "maxLength does not apply to netip.Addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBuilder().Schema(reflect.TypeOf(tt.v))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v, want %q", err, tt.want)
			}
			if _, err := ValidatorFor(reflect.TypeOf(tt.v)); err == nil {
				t.Error("ValidatorFor accepted what Schema refuses")
			}
		})
	}
}

func TestConditionTags(t *testing.T) {
	type T struct {
		Pattern  string   `papi:"minLength=1, pattern=^a{1,3}, b$"` // the rest of the tag, commas and spaces included
		Required []string `papi:"required"`
		Floats   float32  `papi:"enum=0.1|2"`
		Negative int16    `papi:"enum=-3|4,minimum=-10"`
	}
	s := deriveObject(t, T{})
	if p := s.Properties["Pattern"]; p.Pattern != "^a{1,3}, b$" || *p.MinLength != 1 {
		t.Errorf("pattern %+v", p)
	}
	if e := s.Properties["Floats"].Enum; !reflect.DeepEqual(e, []any{float64(float32(0.1)), 2.0}) {
		t.Errorf("float32 enum %#v", e)
	}
	if e := s.Properties["Negative"].Enum; !reflect.DeepEqual(e, []any{int64(-3), uint64(4)}) {
		t.Errorf("int16 enum %#v", e)
	}
}

// TestSchemaMatchesTheEncoding encodes values with canon.Marshal, as papi
// sends them, and checks the keys of every object against the schema: each
// key sent is described, each required field is sent.
func TestSchemaMatchesTheEncoding(t *testing.T) {
	type Inner struct {
		A int `cbor:"a"`
		B int
		Z int // hidden by Extra's tagged Z
	}
	type Extra struct {
		Note string `json:"note"`
		B    int    // ties with Inner.B at one depth, both untagged: both hidden
		Z    int    `cbor:"Z"`
	}
	type Deep struct{ Inner }
	type lower struct {
		Exported string `cbor:"exported"`
	}
	type WithEmbedded struct {
		Inner
		*Extra
		lower
		Label
		Named Deep   `cbor:"named"` // a tag name makes an embedded struct a field
		C     string `json:"c"`
		A     string `cbor:"a"` // shallower than Inner.A: wins
	}
	type Other struct{ Inner }
	type Twice struct {
		Deep  // Deep.Inner and Other.Inner are two of one type at one depth:
		Other // both are hidden
	}
	type Tie struct {
		X1 int `cbor:"x"`
		X2 int `cbor:"x"`
		Y  int `cbor:"y"`
	}
	type Options struct {
		E  string  `cbor:"e,omitempty"`
		Z  int     `cbor:"z,omitzero"`
		P  *int    `cbor:"p"`
		PO *int    `cbor:"po,omitempty"`
		S  []int   `cbor:"s"`
		T  [2]bool `cbor:"t"`
	}
	type OptionalEmbedded struct {
		*Inner
		K int `cbor:"k"`
	}
	tests := []struct {
		v    any
		full bool // every field set: every property is sent
	}{
		{validOrder(), false}, {fullOrder(), true}, {Order{}, false},
		{WithEmbedded{Extra: &Extra{Note: "n"}, Label: "l", C: "c"}, true}, {WithEmbedded{}, false},
		{Twice{}, true}, {Tie{X1: 1, X2: 2, Y: 3}, true},
		{Options{}, false}, {Options{E: "e", Z: 1, P: ptr(1), PO: ptr(2)}, true},
		{OptionalEmbedded{}, false}, {OptionalEmbedded{Inner: &Inner{A: 1}}, true},
		{Node{Label: "a", Children: []Node{{Label: "b"}}}, true},
		{Page[Item]{Entries: []Item{{Name: "x"}}, Next: "n"}, true},
	}
	for _, tt := range tests {
		t.Run(reflect.TypeOf(tt.v).String(), func(t *testing.T) {
			raw, err := canon.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := canon.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			s, defs := derive(t, tt.v)
			s = object(t, s, defs)
			for k := range m {
				if s.Properties[k] == nil {
					t.Errorf("the encoding has %q, the schema does not", k)
				}
			}
			for _, r := range s.Required {
				if _, ok := m[r]; !ok {
					t.Errorf("required %q is not in the encoding", r)
				}
			}
			if got, want := slices.Sorted(maps.Keys(m)), slices.Sorted(maps.Keys(s.Properties)); tt.full && !slices.Equal(got, want) {
				t.Errorf("encoding has %v, the schema %v", got, want)
			}
		})
	}
}

func TestEmbeddedFieldNames(t *testing.T) {
	type Inner struct {
		A int `cbor:"a"`
		B int
		Z int
	}
	type Extra struct {
		Note string `json:"note"`
		B    int
		Z    int `cbor:"Z"`
	}
	type lower struct {
		Exported string `cbor:"exported"`
	}
	type WithEmbedded struct {
		Inner
		*Extra
		lower
		Label
		C string `json:"c"`
		A string `cbor:"a"`
	}
	s := deriveObject(t, WithEmbedded{})
	want := []string{"Label", "Z", "a", "c", "exported", "note"}
	if got := slices.Sorted(maps.Keys(s.Properties)); !slices.Equal(got, want) {
		t.Errorf("properties %v, want %v", got, want)
	}
	if s.Properties["a"].Type != "string" || s.Properties["Z"].Type != "integer" {
		t.Errorf("the wrong field won: %+v", s.Properties)
	}
	// Fields of an embedded pointer are left out when it is nil.
	if slices.Contains(s.Required, "note") || slices.Contains(s.Required, "Z") || !slices.Contains(s.Required, "exported") {
		t.Errorf("required %v", s.Required)
	}
}

// TestDerivationIsDeterministic derives one API from many goroutines, each
// declaring the methods in its own order with its own Builder: the encoded
// specs must be the same bytes.
func TestDerivationIsDeterministic(t *testing.T) {
	methods := apiTypes()
	encode := func(order []int) []byte {
		b := NewBuilder()
		s := &Spec{Name: "bench", Version: "1"}
		for _, i := range order {
			m := methods[i]
			req, err := b.Schema(m.req)
			if err != nil {
				t.Error(err)
				return nil
			}
			resp, err := b.Schema(m.resp)
			if err != nil {
				t.Error(err)
				return nil
			}
			s.Methods = append(s.Methods, Method{Name: m.name, Request: req, Response: resp})
		}
		slices.SortFunc(s.Methods, func(a, b Method) int { return strings.Compare(a.Name, b.Name) })
		s.Defs = b.Defs()
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		out, err := canon.Marshal(s)
		if err != nil {
			t.Error(err)
		}
		return out
	}
	order := make([]int, len(methods))
	for i := range order {
		order[i] = i
	}
	first := encode(order)
	var wg sync.WaitGroup
	results := make([][]byte, 16)
	for g := range results {
		wg.Go(func() {
			o := slices.Clone(order)
			for i := range o { // a different order per goroutine
				j := (i*7 + g*3) % len(o)
				o[i], o[j] = o[j], o[i]
			}
			if g%2 == 1 {
				slices.Reverse(o)
			}
			results[g] = encode(o)
		})
	}
	wg.Wait()
	for g, r := range results {
		if !bytes.Equal(r, first) {
			t.Fatalf("goroutine %d encoded the spec differently", g)
		}
	}
	var back Spec
	if err := canon.NewDecoder(canon.Limits{}).UnmarshalExact(first, &back); err != nil {
		t.Fatalf("a derived spec does not decode exactly: %v", err)
	}
	if err := back.Validate(); err != nil {
		t.Fatalf("a decoded spec: %v", err)
	}
	for _, m := range back.Methods {
		orig := methods[slices.IndexFunc(methods, func(x apiMethod) bool { return x.name == m.Name })]
		b := NewBuilder()
		req, _ := b.Schema(orig.req)
		if err := Compare(req, b.Defs(), m.Request, back.Defs); err != nil {
			t.Errorf("%s request after a round trip: %v", m.Name, err)
		}
	}
}
