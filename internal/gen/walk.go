// Package gen writes code from an API's spec: a type for each schema, with
// the tags papi derives the same spec back from, and a typed client.
//
// Generation has two halves. [Walk] reads a spec into an [API]: every
// schema classified into a [Type], references checked, definitions and
// methods in a fixed order and each object's fields in the order that
// reproduces its required list. It knows nothing of any target language.
// A printer ([Go]; TypeScript's to come) turns that model into source, and
// owns what is particular to its language: names, pointers, tags, imports.
package gen

import (
	"fmt"
	"maps"
	"slices"

	"github.com/papi-dev/papi/internal/spec"
)

// Kind is what a schema describes, in terms every target language can map.
type Kind int

// The kinds of schema.
const (
	Boolean  Kind = iota + 1
	Integer       // Type.Format: int8 … uint64
	Number        // Type.Format: float or double
	String        // text
	Bytes         // a byte string: contentEncoding base64
	DateTime      // a time: format date-time
	Array         // Type.Elem are the items
	Map           // an object with additionalProperties: Type.Elem are the values, keys are text
	Object        // an object with properties, inline: Type.Fields
	Ref           // a definition of the spec: Type.Ref names it
)

var kindNames = map[Kind]string{Boolean: "boolean", Integer: "integer", Number: "number", String: "string",
	Bytes: "bytes", DateTime: "date-time", Array: "array", Map: "map", Object: "object", Ref: "ref"}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// API is a spec read for generation.
type API struct {
	Name, Version, Description string
	Defs                       []*Def    // sorted by name
	Methods                    []*Method // sorted by name, as in the spec
	Spec                       *spec.Spec
}

// Def is one definition of the spec's $defs: a named object.
type Def struct {
	Name string // as in $defs
	Type *Type  // never a Ref
	// Users lists where the definition is referred to, for documentation:
	// "request of Nearest", "Station", sorted.
	Users []string
}

// Method is one method of the API.
type Method struct {
	Name, Description string
	Request, Response *Type
}

// Type is one schema, classified. The conditions are the schema's own:
// which of them a language can express, and where, is the printer's
// business.
type Type struct {
	Kind        Kind
	Format      string // of integers and numbers
	Nullable    bool
	Description string
	Ref         string   // Kind Ref: the definition's name
	Elem        *Type    // Array, Map
	Fields      []*Field // Object, in declaration order

	Minimum, Maximum     *float64
	MinLength, MaxLength *uint64
	MinItems, MaxItems   *uint64
	Pattern              string
	Enum                 []any

	Schema *spec.Schema // what the type was read from
}

// Field is one property of an object.
type Field struct {
	Name     string // on the wire
	Required bool
	Type     *Type
}

// Fixed returns the length of an Array or Bytes type whose minimum and
// maximum length are one number, as a fixed-size array in Go has.
func (t *Type) Fixed() (uint64, bool) {
	lo, hi := t.MinItems, t.MaxItems
	if t.Kind == Bytes {
		lo, hi = t.MinLength, t.MaxLength
	}
	if lo == nil || hi == nil || *lo != *hi {
		return 0, false
	}
	return *lo, true
}

// Walk reads s into an API. s must be valid ([spec.Spec.Validate]), which
// it checks first: a spec from another peer is checked on arrival, but one
// made in the process may not have been.
func Walk(s *spec.Spec) (*API, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("invalid spec: %w", err)
	}
	w := &walker{defs: s.Defs, users: map[string][]string{}}
	api := &API{Name: s.Name, Version: s.Version, Description: s.Description, Spec: s}
	for _, name := range slices.Sorted(maps.Keys(s.Defs)) {
		w.user = name
		t, err := w.walk(s.Defs[name], "$defs."+name)
		if err != nil {
			return nil, err
		}
		api.Defs = append(api.Defs, &Def{Name: name, Type: t})
	}
	for _, m := range s.Methods {
		w.user = "request of " + m.Name
		req, err := w.walk(m.Request, m.Name+" request")
		if err != nil {
			return nil, err
		}
		w.user = "response of " + m.Name
		resp, err := w.walk(m.Response, m.Name+" response")
		if err != nil {
			return nil, err
		}
		api.Methods = append(api.Methods, &Method{Name: m.Name, Description: m.Description, Request: req, Response: resp})
	}
	for _, d := range api.Defs {
		d.Users = slices.Compact(slices.Sorted(slices.Values(w.users[d.Name])))
	}
	return api, nil
}

type walker struct {
	defs  map[string]*spec.Schema
	user  string              // what the schemas being walked belong to
	users map[string][]string // who refers to each definition
}

func (w *walker) walk(s *spec.Schema, path string) (*Type, error) {
	t := &Type{Nullable: s.Nullable, Description: s.Description, Schema: s,
		Minimum: s.Minimum, Maximum: s.Maximum, MinLength: s.MinLength, MaxLength: s.MaxLength,
		MinItems: s.MinItems, MaxItems: s.MaxItems, Pattern: s.Pattern, Enum: s.Enum, Format: s.Format}
	if s.Ref != "" {
		name := s.RefName()
		if _, ok := w.defs[name]; !ok {
			return nil, fmt.Errorf("%s: $ref %s does not resolve", path, s.Ref)
		}
		t.Kind, t.Ref = Ref, name
		w.users[name] = append(w.users[name], w.user)
		return t, nil
	}
	switch s.Type {
	case spec.TypeBoolean:
		t.Kind = Boolean
	case spec.TypeInteger:
		t.Kind = Integer
	case spec.TypeNumber:
		t.Kind = Number
	case spec.TypeString:
		switch {
		case s.ContentEncoding == "base64":
			t.Kind = Bytes
		case s.Format == "date-time":
			t.Kind = DateTime
		default:
			t.Kind = String
		}
	case spec.TypeArray:
		t.Kind = Array
		elem, err := w.walk(s.Items, path+"[]")
		if err != nil {
			return nil, err
		}
		t.Elem = elem
	case spec.TypeObject:
		if s.AdditionalProperties != nil {
			if len(s.Properties) > 0 {
				return nil, fmt.Errorf("%s: an object with both properties and additionalProperties", path)
			}
			t.Kind = Map
			elem, err := w.walk(s.AdditionalProperties, path+"{}")
			if err != nil {
				return nil, err
			}
			t.Elem = elem
			return t, nil
		}
		t.Kind = Object
		fields, err := w.fields(s, path)
		if err != nil {
			return nil, err
		}
		t.Fields = fields
	default:
		return nil, fmt.Errorf("%s: unknown type %q", path, s.Type)
	}
	return t, nil
}

// fields lists an object's properties in an order a declaration can keep:
// the required ones first, in the order of the spec's required list (which
// is their order of declaration, and part of the hash), then the optional
// ones by name.
func (w *walker) fields(s *spec.Schema, path string) ([]*Field, error) {
	var out []*Field
	add := func(name string, required bool) error {
		ft, err := w.walk(s.Properties[name], joinPath(path, name))
		if err != nil {
			return err
		}
		out = append(out, &Field{Name: name, Required: required, Type: ft})
		return nil
	}
	for _, name := range s.Required {
		if err := add(name, true); err != nil {
			return nil, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		if slices.Contains(s.Required, name) {
			continue
		}
		if err := add(name, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func joinPath(path, name string) string { return path + "." + name }
