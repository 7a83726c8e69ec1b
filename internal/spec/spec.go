// Package spec derives the language-neutral description of an API from Go
// types, and checks values against the conditions it carries.
//
// The vocabulary is JSON Schema 2020-12's, so that an OpenAPI 3.1 document
// can be made from a Spec with nothing lost. A Spec is encoded as
// deterministic CBOR and hashed: every field and tag below is part of the
// API hash, and changing one changes every hash.
//
// A schema describes what canon.Marshal makes of a value, which is not
// always what the Go type suggests: a [N]byte is a byte string, not an
// array; a zero time.Time is null; a type with a MarshalBinary method is the
// bytes it makes. Field names follow the CBOR library: the cbor tag, else
// the json tag, else the Go name, with embedded structs flattened.
//
// Conditions come from a field's papi tag, comma separated: required,
// minimum=N, maximum=N, minLength=N, maxLength=N, minItems=N, maxItems=N,
// enum=a|b|c and pattern=REGEX, which must come last as it takes the rest
// of the tag. Lengths count code points of text and bytes of bytes;
// patterns are Go (RE2) regular expressions, unanchored. A doc tag gives a
// field's description.
package spec

import "strings"

// Schema is a JSON Schema (2020-12 vocabulary) subset describing exactly
// what papi's CBOR encoding of a Go type produces. A reference ($ref) stands
// alone but for Nullable and Description, which belong to the place that
// refers, not to the definition.
type Schema struct {
	Ref                  string             `cbor:"$ref,omitempty" json:"$ref,omitempty"`                       // "#/$defs/Name"
	Type                 string             `cbor:"type,omitempty" json:"type,omitempty"`                       // object|array|string|integer|number|boolean
	Format               string             `cbor:"format,omitempty" json:"format,omitempty"`                   // int8..int64, uint8..uint64, float, double, date-time
	ContentEncoding      string             `cbor:"contentEncoding,omitempty" json:"contentEncoding,omitempty"` // "base64" for bytes
	Nullable             bool               `cbor:"nullable,omitempty" json:"nullable,omitempty"`               // may be null: a pointer, or a time (zero is null)
	Description          string             `cbor:"description,omitempty" json:"description,omitempty"`
	Properties           map[string]*Schema `cbor:"properties,omitempty" json:"properties,omitempty"`
	Required             []string           `cbor:"required,omitempty" json:"required,omitempty"`                         // in field declaration order
	AdditionalProperties *Schema            `cbor:"additionalProperties,omitempty" json:"additionalProperties,omitempty"` // map values
	Items                *Schema            `cbor:"items,omitempty" json:"items,omitempty"`
	Minimum              *float64           `cbor:"minimum,omitempty" json:"minimum,omitempty"`
	Maximum              *float64           `cbor:"maximum,omitempty" json:"maximum,omitempty"`
	MinLength            *uint64            `cbor:"minLength,omitempty" json:"minLength,omitempty"` // code points of text, bytes of bytes
	MaxLength            *uint64            `cbor:"maxLength,omitempty" json:"maxLength,omitempty"`
	Pattern              string             `cbor:"pattern,omitempty" json:"pattern,omitempty"` // RE2 syntax (Go's regexp), unanchored
	Enum                 []any              `cbor:"enum,omitempty" json:"enum,omitempty"`       // string, int64/uint64 or float64, as the type
	MinItems             *uint64            `cbor:"minItems,omitempty" json:"minItems,omitempty"`
	MaxItems             *uint64            `cbor:"maxItems,omitempty" json:"maxItems,omitempty"`
}

// Method is one operation of an API.
type Method struct {
	Name        string  `cbor:"name" json:"name"`
	Description string  `cbor:"description,omitempty" json:"description,omitempty"`
	Request     *Schema `cbor:"request" json:"request"`
	Response    *Schema `cbor:"response" json:"response"`
}

// Spec is the language-neutral description of an API: what its methods
// take and give, with the named struct types they share in Defs.
type Spec struct {
	Name        string             `cbor:"name" json:"name"`
	Version     string             `cbor:"version" json:"version"`
	Description string             `cbor:"description,omitempty" json:"description,omitempty"`
	Methods     []Method           `cbor:"methods" json:"methods"` // sorted by Name
	Defs        map[string]*Schema `cbor:"$defs,omitempty" json:"$defs,omitempty"`
}

// JSON Schema type names, the values of Schema.Type.
const (
	TypeObject  = "object"
	TypeArray   = "array"
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
)

// refPrefix starts every $ref: definitions live in the spec's $defs.
const refPrefix = "#/$defs/"

// maxDepth bounds how deeply schemas and values nest, so that a spec or a
// value from another peer cannot make code that walks it recurse without end.
const maxDepth = 64

// RefName returns the definition a $ref names, or "" if s is no reference
// into $defs.
func (s *Schema) RefName() string {
	name, ok := strings.CutPrefix(s.Ref, refPrefix)
	if !ok {
		return ""
	}
	return name
}

// resolve follows s's $ref in defs, once: definitions are never references
// themselves (Validate refuses that), which keeps every walk finite. It
// returns s itself when s is no reference, and the definition's name.
func resolve(s *Schema, defs map[string]*Schema) (*Schema, string, bool) {
	if s.Ref == "" {
		return s, "", true
	}
	name := s.RefName()
	d, ok := defs[name]
	if !ok || d == nil || d.Ref != "" {
		return nil, name, false
	}
	return d, name, true
}
