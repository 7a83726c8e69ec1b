package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/spec/internal/othertypes"
)

type Item struct {
	Name  string  `cbor:"name" papi:"minLength=1,maxLength=8"`
	Price float64 `cbor:"price" papi:"minimum=0"`
}

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
	Hidden   string            `cbor:"-"`
	internal string
	GoName   bool
}

func derive(t *testing.T, v any) (*Schema, map[string]*Schema) {
	t.Helper()
	b := NewBuilder()
	s, err := b.Schema(reflect.TypeOf(v))
	if err != nil {
		t.Fatal(err)
	}
	return s, b.Defs()
}

func TestSchemaOfEveryKind(t *testing.T) {
	s, defs := derive(t, Order{})
	if s.Ref != "#/$defs/Order" {
		t.Fatalf("named struct: %+v", s)
	}
	o := defs["Order"]
	want := map[string]Schema{
		"id":     {Type: "string", Pattern: "^[a-z]{2,4}-[0-9]+$"},
		"kind":   {Type: "string", Enum: []any{"pickup", "delivery"}},
		"meta":   {Type: "object"},
		"blob":   {Type: "string", ContentEncoding: "base64"},
		"when":   {Type: "string", Format: "date-time"},
		"wait":   {Type: "integer", Format: "int64"},
		"digest": {Type: "string", ContentEncoding: "base64"},
		"small":  {Type: "integer", Format: "int8"},
		"note":   {Type: "string", Nullable: true},
		"tip":    {Type: "integer", Format: "int64"},
		"GoName": {Type: "boolean"},
		"items":  {Type: "array"},
	}
	if got := slices.Sorted(maps.Keys(o.Properties)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("properties %v, want %v", got, slices.Sorted(maps.Keys(want)))
	}
	for name, w := range want {
		p := o.Properties[name]
		if p.Type != w.Type || p.Format != w.Format || p.ContentEncoding != w.ContentEncoding || p.Nullable != w.Nullable || p.Pattern != w.Pattern || !reflect.DeepEqual(p.Enum, w.Enum) && w.Enum != nil {
			t.Errorf("%s: %+v, want %+v", name, p, w)
		}
	}
	if o.Properties["items"].Items.Ref != "#/$defs/Item" || defs["Item"] == nil {
		t.Error("items do not refer to the Item definition")
	}
	if !slices.Contains(o.Required, "tip") || slices.Contains(o.Required, "note") || slices.Contains(o.Required, "blob") || !slices.Contains(o.Required, "id") {
		t.Errorf("required = %v", o.Required)
	}
	if d := o.Properties["digest"]; *d.MinLength != 4 || *d.MaxLength != 4 {
		t.Errorf("[4]byte: %+v", d)
	}
}

// TestSchemaMatchesTheEncoding checks field names against what canon.Marshal emits.
func TestSchemaMatchesTheEncoding(t *testing.T) {
	type Inner struct {
		A int `cbor:"a"`
		B int
	}
	type Deep struct{ Inner }
	type WithEmbedded struct {
		Inner
		*Deep `cbor:"-"`
		C     string `json:"c"`
		B     string `cbor:"b_outer"`
	}
	type Tie struct {
		X1 int `cbor:"x"`
		X2 int `cbor:"x"`
		Y  int `cbor:"y"`
	}
	for _, v := range []any{Order{Items: []Item{{}}}, WithEmbedded{}, Tie{}, struct {
		Inner
		A string `cbor:"a"` // shallower wins
	}{}} {
		raw, err := canon.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := canon.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		s, defs := derive(t, v)
		if r, _, ok := resolve(s, defs); ok {
			s = r
		}
		// Every key on the wire is described; every required field is on the wire.
		for k := range m {
			if s.Properties[k] == nil {
				t.Errorf("%T: the encoding has %q, the schema does not", v, k)
			}
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				t.Errorf("%T: required %q is not in the encoding", v, r)
			}
		}
		for k := range s.Properties {
			if _, ok := m[k]; !ok && slices.Contains(s.Required, k) {
				t.Errorf("%T: %q described as required but not sent", v, k)
			}
		}
	}
}

func TestUnsupportedTypesNameTheField(t *testing.T) {
	type Bad struct {
		Deep struct {
			Callback func() `cbor:"callback"`
		} `cbor:"deep"`
	}
	tests := []struct {
		v    any
		want string
	}{
		{struct{ C chan int }{}, "C: unsupported type chan int"},
		{struct{ F func() }{}, "F: unsupported type func()"},
		{struct{ A any }{}, "A: unsupported type interface {}"},
		{struct{ Z complex128 }{}, "Z: unsupported type complex128"},
		{struct{ M map[int]string }{}, "M: unsupported map key type int"},
		{Bad{}, "Bad.deep.callback: unsupported type func()"},
	}
	for _, tt := range tests {
		_, err := NewBuilder().Schema(reflect.TypeOf(tt.v))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%T: %v, want it to say %q", tt.v, err, tt.want)
		}
	}
}

func TestTwoTypesOfOneName(t *testing.T) {
	b := NewBuilder()
	if _, err := b.Schema(reflect.TypeFor[Item]()); err != nil {
		t.Fatal(err)
	}
	_, err := b.Schema(reflect.TypeFor[othertypes.Item]())
	if err == nil || !strings.Contains(err.Error(), "othertypes.Item") {
		t.Fatalf("second Item: %v", err)
	}
}

type Node struct {
	Label    string `cbor:"label" papi:"maxLength=3"`
	Children []Node `cbor:"children"`
}

func TestRecursiveTypes(t *testing.T) {
	s, defs := derive(t, Node{})
	if s.Ref != "#/$defs/Node" || defs["Node"].Properties["children"].Items.Ref != "#/$defs/Node" {
		t.Fatalf("recursive type: %+v", defs["Node"])
	}
	v, err := ValidatorFor(reflect.TypeFor[Node]())
	if err != nil {
		t.Fatal(err)
	}
	tree := Node{Label: "a", Children: []Node{{Label: "b"}, {Label: "c", Children: []Node{{Label: "toolong"}}}}}
	err = v.Check(reflect.ValueOf(tree))
	var viol *Violation
	if !errors.As(err, &viol) || viol.Path != "children[1].children[0].label" || viol.Rule != "maxLength" {
		t.Fatalf("deep violation: %v", err)
	}
}

func validOrder() Order {
	tip := 10
	return Order{ID: "ab-1", Kind: "pickup", Items: []Item{{Name: "tea", Price: 2}}, Tip: &tip, Small: 2}
}

func TestConditions(t *testing.T) {
	v, err := ValidatorFor(reflect.TypeFor[Order]())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Check(reflect.ValueOf(validOrder())); err != nil {
		t.Fatalf("valid order: %v", err)
	}
	long := "toolong"
	tests := []struct {
		name       string
		change     func(*Order)
		path, rule string
	}{
		{"pattern", func(o *Order) { o.ID = "AB-1" }, "id", "pattern"},
		{"enum string", func(o *Order) { o.Kind = "drone" }, "kind", "enum"},
		{"enum int", func(o *Order) { o.Small = 4 }, "small", "enum"},
		{"minItems", func(o *Order) { o.Items = nil }, "items", "minItems"},
		{"maxItems", func(o *Order) { o.Items = make([]Item, 4) }, "items", "maxItems"},
		{"nested minLength", func(o *Order) { o.Items[0].Name = "" }, "items[0].name", "minLength"},
		{"nested maxLength counts code points", func(o *Order) { o.Items[0].Name = "ñññññññññ" }, "items[0].name", "maxLength"},
		{"minimum float", func(o *Order) { o.Items[0].Price = -1 }, "items[0].price", "minimum"},
		{"pointer pointee condition", func(o *Order) { o.Note = &long }, "note", "maxLength"},
		{"required pointer", func(o *Order) { o.Tip = nil }, "tip", "required"},
		{"maximum through pointer", func(o *Order) { x := 101; o.Tip = &x }, "tip", "maximum"},
		{"bytes count bytes", func(o *Order) { o.Blob = []byte("12345") }, "blob", "maxLength"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOrder()
			tt.change(&o)
			err := v.Check(reflect.ValueOf(o))
			var viol *Violation
			if !errors.As(err, &viol) || viol.Path != tt.path || viol.Rule != tt.rule {
				t.Errorf("got %v, want %s: %s", err, tt.path, tt.rule)
			}
		})
	}
	ok := "ñññññññ" // 7 code points, 14 bytes: within maxLength=8
	o := validOrder()
	o.Items[0].Name = ok
	if err := v.Check(reflect.ValueOf(o)); err != nil {
		t.Errorf("7 code points: %v", err)
	}
}

func TestConditionsThatDoNotFit(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{struct {
			N int `papi:"minLength=1"`
		}{}, "minLength/maxLength does not apply"},
		{struct {
			B []byte `papi:"pattern=^a$"`
		}{}, "pattern does not apply"},
		{struct {
			S string `papi:"minItems=1"`
		}{}, "minItems/maxItems does not apply"},
		{struct {
			S string `papi:"pattern=(("`
		}{}, "pattern"},
		{struct {
			N int `papi:"minimum=5,maximum=1"`
		}{}, "minimum 5 > maximum 1"},
		{struct {
			N int `papi:"enum=1|two"`
		}{}, `enum value "two"`},
		{struct {
			N int `papi:"smallest=1"`
		}{}, "unknown condition"},
		{struct {
			I Item `papi:"minimum=1"`
		}{}, "does not apply"},
	}
	for _, tt := range tests {
		_, err := NewBuilder().Schema(reflect.TypeOf(tt.v))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%T: %v, want %q", tt.v, err, tt.want)
		}
	}
	// A pattern takes the rest of the tag, commas included.
	s, _ := derive(t, struct {
		S string `papi:"minLength=1,pattern=^a{1,3}$"`
	}{})
	if p := s.Properties["S"].Pattern; p != "^a{1,3}$" {
		t.Errorf("pattern %q", p)
	}
}

func TestConform(t *testing.T) {
	s, defs := derive(t, Order{})
	decode := func(t *testing.T, in string) any {
		t.Helper()
		d := json.NewDecoder(strings.NewReader(in))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	good := `{"id":"ab-1","kind":"pickup","items":[{"name":"tea","price":2}],"note":null,"tip":5,"meta":{"k":"v"},
		"blob":"AQI=","when":"2026-01-02T03:04:05Z","wait":1000,"digest":"AAECAw==","small":2,"GoName":true}`
	out, err := Conform(decode(t, good), s, defs)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(map[string]any)
	if _, ok := m["tip"].(uint64); !ok || !bytes.Equal(m["blob"].([]byte), []byte{1, 2}) {
		t.Errorf("conformed: tip %T, blob %v", m["tip"], m["blob"])
	}
	if _, err := canon.Marshal(out); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, in, path, rule string }{
		{"unknown field", `{"bogus":1}`, "bogus", "additionalProperties"},
		{"not integral", strings.Replace(good, `"tip":5`, `"tip":5.5`, 1), "tip", "type"},
		{"out of format range", strings.Replace(good, `"small":2`, `"small":300`, 1), "small", "format"},
		{"not base64", strings.Replace(good, `"AQI="`, `"*"`, 1), "blob", "contentEncoding"},
		{"condition", strings.Replace(good, `"tea"`, `""`, 1), "items[0].name", "minLength"},
		{"missing required", strings.Replace(good, `"id":"ab-1",`, ``, 1), "id", "required"},
		{"null where not nullable", strings.Replace(good, `"tip":5`, `"tip":null`, 1), "tip", "type"},
		{"bad date-time", strings.Replace(good, `2026-01-02T03:04:05Z`, `yesterday`, 1), "when", "format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Conform(decode(t, tt.in), s, defs)
			var viol *Violation
			if !errors.As(err, &viol) || viol.Path != tt.path || viol.Rule != tt.rule {
				t.Errorf("got %v, want %s: %s", err, tt.path, tt.rule)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	a, aDefs := derive(t, Order{})
	b, bDefs := derive(t, Order{})
	if err := Compare(a, aDefs, b, bDefs); err != nil {
		t.Fatalf("same type: %v", err)
	}
	bDefs["Order"].Description = "differs only in words"
	if err := Compare(a, aDefs, b, bDefs); err != nil {
		t.Fatalf("description counted: %v", err)
	}
	n1, n1Defs := derive(t, Node{})
	if err := Compare(n1, n1Defs, n1, n1Defs); err != nil {
		t.Fatalf("recursive: %v", err)
	}
	type Renamed struct {
		Title string  `cbor:"title" papi:"minLength=1,maxLength=8"`
		Price float64 `cbor:"price" papi:"minimum=0"`
	}
	type Retyped struct {
		Name  string `cbor:"name" papi:"minLength=1,maxLength=8"`
		Price int    `cbor:"price" papi:"minimum=0"`
	}
	type Reconditioned struct {
		Name  string  `cbor:"name" papi:"minLength=1,maxLength=9"`
		Price float64 `cbor:"price" papi:"minimum=0"`
	}
	item, itemDefs := derive(t, Item{})
	for _, tt := range []struct {
		v    any
		want string
	}{{Renamed{}, "required fields [name price] vs [price title]"}, {Retyped{}, "price: type number vs integer"}, {Reconditioned{}, "name: maxLength 8 vs 9"}} {
		s, defs := derive(t, tt.v)
		if err := Compare(item, itemDefs, s, defs); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%T: %v, want %q", tt.v, err, tt.want)
		}
	}
}

func testSpec(t *testing.T) *Spec {
	t.Helper()
	b := NewBuilder()
	req, err := b.Schema(reflect.TypeFor[Order]())
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := b.Schema(reflect.TypeFor[Node]())
	return &Spec{Name: "shop", Version: "1", Methods: []Method{{Name: "A", Request: req, Response: resp}, {Name: "B", Request: resp, Response: req}}, Defs: b.Defs()}
}

func TestValidate(t *testing.T) {
	if err := testSpec(t).Validate(); err != nil {
		t.Fatalf("derived spec: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Spec)
	}{
		{"dangling ref", func(s *Spec) { delete(s.Defs, "Item") }},
		{"bad pattern", func(s *Spec) { s.Defs["Order"].Properties["id"].Pattern = "((" }},
		{"unknown type", func(s *Spec) { s.Defs["Item"].Properties["name"].Type = "text" }},
		{"unknown format", func(s *Spec) { s.Defs["Item"].Properties["price"].Format = "decimal" }},
		{"unsorted methods", func(s *Spec) { s.Methods[0], s.Methods[1] = s.Methods[1], s.Methods[0] }},
		{"duplicate method", func(s *Spec) { s.Methods[1].Name = "A" }},
		{"bad method name", func(s *Spec) { s.Methods[0].Name = "a.b" }},
		{"required without property", func(s *Spec) { s.Defs["Item"].Required = append(s.Defs["Item"].Required, "ghost") }},
		{"too deep", func(s *Spec) {
			deep := &Schema{Type: "string"}
			for range 70 {
				deep = &Schema{Type: "array", Items: deep}
			}
			s.Defs["Deep"] = deep
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSpec(t)
			tt.change(s)
			if err := s.Validate(); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestSpecEncodingIsDeterministic(t *testing.T) {
	first, err := canon.Marshal(testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		again, _ := canon.Marshal(testSpec(t))
		if !bytes.Equal(first, again) {
			t.Fatal("the same spec encoded to different bytes")
		}
	}
	var back Spec
	if err := canon.NewDecoder(canon.Limits{}).UnmarshalExact(first, &back); err != nil {
		t.Fatalf("a derived spec does not decode exactly: %v", err)
	}
}

func FuzzConform(f *testing.F) {
	f.Add(`{"id":"ab-1","kind":"pickup","items":[{"name":"tea","price":2}],"tip":5,"meta":{},"when":"2026-01-02T03:04:05Z","wait":1,"digest":"AAECAw==","small":2,"GoName":true}`)
	f.Add(`{"tip":1e400}`)
	f.Add(`[[[[[[]]]]]]`)
	b := NewBuilder()
	s, _ := b.Schema(reflect.TypeFor[Order]())
	defs := b.Defs()
	f.Fuzz(func(t *testing.T, in string) {
		d := json.NewDecoder(strings.NewReader(in))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return
		}
		out, err := Conform(v, s, defs)
		if err != nil {
			return
		}
		if _, err := canon.Marshal(out); err != nil {
			t.Fatalf("conformed value does not encode: %v", err)
		}
	})
}

func BenchmarkCheckValid(b *testing.B) {
	v, _ := ValidatorFor(reflect.TypeFor[Order]())
	o := validOrder()
	o.Items = []Item{{Name: "tea", Price: 2}, {Name: "cake", Price: 3}, {Name: "jam", Price: 1}}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Check(reflect.ValueOf(&o).Elem()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckInvalid(b *testing.B) {
	v, _ := ValidatorFor(reflect.TypeFor[Order]())
	o := validOrder()
	o.Items[0].Name = ""
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Check(reflect.ValueOf(&o).Elem()); err == nil {
			b.Fatal("no violation")
		}
	}
}
