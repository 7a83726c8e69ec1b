package spec

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/papi-dev/papi/internal/canon"
)

func testSpec(t testing.TB) *Spec {
	t.Helper()
	b := NewBuilder()
	req, err := b.Schema(reflect.TypeFor[Order]())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.Schema(reflect.TypeFor[Node]())
	if err != nil {
		t.Fatal(err)
	}
	return &Spec{Name: "shop", Version: "1", Methods: []Method{{Name: "A", Request: req, Response: resp}, {Name: "B_2", Request: resp, Response: req}}, Defs: b.Defs()}
}

func TestValidate(t *testing.T) {
	if err := testSpec(t).Validate(); err != nil {
		t.Fatalf("derived spec: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"dangling $ref", func(s *Spec) { delete(s.Defs, "Item") }, "$ref #/$defs/Item does not resolve"},
		{"$ref outside $defs", func(s *Spec) { s.Methods[0].Request = &Schema{Ref: "#/components/Order"} }, "does not resolve"},
		{"$ref with siblings", func(s *Spec) { s.Methods[0].Request.Type = "object" }, "siblings"},
		{"definition that is a $ref", func(s *Spec) { s.Defs["Loop"] = &Schema{Ref: "#/$defs/Loop"} }, "only a reference"},
		{"bad pattern", func(s *Spec) { s.Defs["Order"].Properties["id"].Pattern = "((" }, `definition Order: id: pattern "(("`},
		{"unknown type", func(s *Spec) { s.Defs["Item"].Properties["name"].Type = "text" }, `unknown type "text"`},
		{"unknown format", func(s *Spec) { s.Defs["Item"].Properties["price"].Format = "decimal" }, `unknown format "decimal"`},
		{"format of another type", func(s *Spec) { s.Defs["Item"].Properties["price"].Format = "int8" }, `unknown format "int8"`},
		{"unknown contentEncoding", func(s *Spec) { s.Defs["Order"].Properties["blob"].ContentEncoding = "hex" }, "contentEncoding"},
		{"condition that does not fit", func(s *Spec) { s.Defs["Item"].Properties["price"].Pattern = "^1$" }, "pattern does not apply to number"},
		{"minimum above maximum", func(s *Spec) { s.Defs["Order"].Properties["tip"].Minimum = ptr(1000.0) }, "minimum 1000 > maximum 100"},
		{"infinite bound", func(s *Spec) { s.Defs["Order"].Properties["tip"].Maximum = ptr(math.Inf(1)) }, "not a finite number"},
		{"enum of another type", func(s *Spec) { s.Defs["Order"].Properties["kind"].Enum = []any{uint64(1)} }, "enum value 1 is not a string"},
		{"enum value twice", func(s *Spec) { s.Defs["Order"].Properties["small"].Enum = []any{uint64(1), int64(1)} }, "listed twice"},
		{"array without items", func(s *Spec) { s.Defs["Order"].Properties["items"].Items = nil }, "array without items"},
		{"unsorted methods", func(s *Spec) { s.Methods[0], s.Methods[1] = s.Methods[1], s.Methods[0] }, "methods not sorted by name: B_2 before A"},
		{"duplicate method", func(s *Spec) { s.Methods[1].Name = "A" }, "method A listed twice"},
		{"bad method name", func(s *Spec) { s.Methods[0].Name = "a.b" }, `method name "a.b" is not an identifier`},
		{"method name starting with a digit", func(s *Spec) { s.Methods[0].Name = "1a" }, "not an identifier"},
		{"bad definition name", func(s *Spec) { s.Defs["a b"] = &Schema{Type: "string"} }, "definition name"},
		{"missing request", func(s *Spec) { s.Methods[0].Request = nil }, "method A request: schema missing"},
		{"empty definition", func(s *Spec) { s.Defs["Nil"] = nil }, "definition Nil: schema missing"},
		{"required without property", func(s *Spec) { s.Defs["Item"].Required = append(s.Defs["Item"].Required, "ghost") }, `required field "ghost" has no schema`},
		{"required twice", func(s *Spec) { s.Defs["Item"].Required = append(s.Defs["Item"].Required, "name") }, `required field "name" listed twice`},
		{"no name", func(s *Spec) { s.Name = "" }, "spec has no name"},
		{"too deep", func(s *Spec) {
			deep := &Schema{Type: "string"}
			for range 70 {
				deep = &Schema{Type: "array", Items: deep}
			}
			s.Defs["Deep"] = deep
		}, "nested deeper than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSpec(t)
			tt.change(s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzSpecValidate feeds Validate specs as they arrive from peers, and
// walks what it accepts with Compare and Conform, which must neither panic
// nor loop.
func FuzzSpecValidate(f *testing.F) {
	raw, err := canon.Marshal(testSpec(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Spec
		if canon.Unmarshal(data, &s) != nil || s.Validate() != nil {
			return
		}
		for _, m := range s.Methods {
			if err := Compare(m.Request, s.Defs, m.Request, s.Defs); err != nil {
				t.Fatalf("%s request differs from itself: %v", m.Name, err)
			}
			for _, v := range []any{nil, map[string]any{}, []any{"x"}, "x", uint64(1)} {
				_, _ = Conform(v, m.Request, s.Defs)
			}
		}
	})
}
