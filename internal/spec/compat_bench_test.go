package spec

import (
	"fmt"
	"testing"
)

// specOf200 is a spec of 200 methods, each with a request of six fields
// and a response that lists a definition of its own, which refers to a
// definition all methods share. With changed, every method has changes:
// a condition loosened, an optional field added, a response field added,
// and the shared definition has a field retyped.
func specOf200(changed bool) *Spec {
	f := func(v float64) *float64 { return &v }
	n := func(v uint64) *uint64 { return &v }
	s := &Spec{Name: "big", Version: "1", Defs: map[string]*Schema{}}
	shared := &Schema{Type: TypeObject, Properties: map[string]*Schema{
		"id":   {Type: TypeString, MinLength: n(1), MaxLength: n(32)},
		"when": {Type: TypeString, Format: "date-time", Nullable: true},
		"n":    {Type: TypeInteger, Format: "int32"},
	}, Required: []string{"id", "when", "n"}}
	if changed {
		shared.Properties["n"] = &Schema{Type: TypeInteger, Format: "int64"}
	}
	s.Defs["Shared"] = shared
	for i := range 200 {
		name := fmt.Sprintf("Method%03d", i)
		item := fmt.Sprintf("Item%03d", i)
		req := &Schema{Type: TypeObject, Properties: map[string]*Schema{
			"lat":    {Type: TypeNumber, Format: "double", Minimum: f(-90), Maximum: f(90)},
			"lon":    {Type: TypeNumber, Format: "double", Minimum: f(-180), Maximum: f(180)},
			"limit":  {Type: TypeInteger, Format: "int64", Minimum: f(1), Maximum: f(50)},
			"kind":   {Type: TypeString, Enum: []any{"a", "b", "c"}},
			"tags":   {Type: TypeArray, Items: &Schema{Type: TypeString, Pattern: "^[a-z]+$"}, MaxItems: n(8)},
			"filter": {Ref: "#/$defs/Shared", Nullable: true},
		}, Required: []string{"lat", "lon", "limit", "kind", "tags"}}
		s.Defs[item] = &Schema{Type: TypeObject, Properties: map[string]*Schema{
			"name":   {Type: TypeString, MaxLength: n(200)},
			"score":  {Type: TypeNumber, Format: "double"},
			"shared": {Ref: "#/$defs/Shared"},
		}, Required: []string{"name", "score", "shared"}}
		resp := &Schema{Type: TypeObject, Properties: map[string]*Schema{
			"items": {Type: TypeArray, Items: &Schema{Ref: "#/$defs/" + item}, MaxItems: n(50)},
		}, Required: []string{"items"}}
		if changed {
			req.Properties["limit"] = &Schema{Type: TypeInteger, Format: "int64", Minimum: f(1), Maximum: f(100)}
			req.Properties["since"] = &Schema{Type: TypeString, Format: "date-time", Nullable: true}
			resp.Properties["total"] = &Schema{Type: TypeInteger, Format: "int64"}
		}
		s.Methods = append(s.Methods, Method{Name: name, Request: req, Response: resp})
	}
	return s
}

// BenchmarkDiff lists the changes between two specs of 200 methods, as
// papi diff does, beside the baseline: Compare, the strict check Call made
// before there was an engine, walking every method of two equal specs.
func BenchmarkDiff(b *testing.B) {
	old, changed, same := specOf200(false), specOf200(true), specOf200(false)
	if got := len(Diff(old, changed)); got != 200*3+2 {
		b.Fatalf("%d changes, want %d (3 a method, and the shared definition once per direction)", got, 200*3+2)
	}
	b.Run("engine/200-methods-changed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Diff(old, changed)
		}
	})
	b.Run("engine/200-methods-equal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(Diff(old, same)) != 0 {
				b.Fatal("changes between equal specs")
			}
		}
	})
	b.Run("baseline-compare/200-methods-equal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range old.Methods {
				if Compare(old.Methods[i].Request, old.Defs, same.Methods[i].Request, same.Defs) != nil ||
					Compare(old.Methods[i].Response, old.Defs, same.Methods[i].Response, same.Defs) != nil {
					b.Fatal("difference between equal specs")
				}
			}
		}
	})
}
