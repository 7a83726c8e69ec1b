// Package spec derives the language-neutral description of an API from Go
// types, and checks values against the conditions it carries.
//
// The vocabulary is JSON Schema 2020-12's, so that an OpenAPI 3.1 document
// can be made from a Spec with nothing lost. A Spec is encoded as
// deterministic CBOR and hashed: every field and tag below is part of the
// API hash, and changing one changes every hash.
package spec

// Schema is a JSON Schema (2020-12 vocabulary) subset describing exactly
// what papi's CBOR encoding of a Go type produces.
type Schema struct {
	Ref                  string             `cbor:"$ref,omitempty" json:"$ref,omitempty"`
	Type                 string             `cbor:"type,omitempty" json:"type,omitempty"`
	Format               string             `cbor:"format,omitempty" json:"format,omitempty"`
	ContentEncoding      string             `cbor:"contentEncoding,omitempty" json:"contentEncoding,omitempty"`
	Nullable             bool               `cbor:"nullable,omitempty" json:"nullable,omitempty"`
	Description          string             `cbor:"description,omitempty" json:"description,omitempty"`
	Properties           map[string]*Schema `cbor:"properties,omitempty" json:"properties,omitempty"`
	Required             []string           `cbor:"required,omitempty" json:"required,omitempty"`
	AdditionalProperties *Schema            `cbor:"additionalProperties,omitempty" json:"additionalProperties,omitempty"`
	Items                *Schema            `cbor:"items,omitempty" json:"items,omitempty"`
	Minimum              *float64           `cbor:"minimum,omitempty" json:"minimum,omitempty"`
	Maximum              *float64           `cbor:"maximum,omitempty" json:"maximum,omitempty"`
	MinLength            *uint64            `cbor:"minLength,omitempty" json:"minLength,omitempty"`
	MaxLength            *uint64            `cbor:"maxLength,omitempty" json:"maxLength,omitempty"`
	Pattern              string             `cbor:"pattern,omitempty" json:"pattern,omitempty"`
	Enum                 []any              `cbor:"enum,omitempty" json:"enum,omitempty"`
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

// Spec is the language-neutral description of an API.
type Spec struct {
	Name        string             `cbor:"name" json:"name"`
	Version     string             `cbor:"version" json:"version"`
	Description string             `cbor:"description,omitempty" json:"description,omitempty"`
	Methods     []Method           `cbor:"methods" json:"methods"`
	Defs        map[string]*Schema `cbor:"$defs,omitempty" json:"$defs,omitempty"`
}

// JSON Schema type names.
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

// RefName returns the definition a $ref names, or "" if s is not a reference.
func (s *Schema) RefName() string {
	if len(s.Ref) > len(refPrefix) && s.Ref[:len(refPrefix)] == refPrefix {
		return s.Ref[len(refPrefix):]
	}
	return ""
}

// resolve follows s's $ref in defs; it returns s itself when s is no reference.
func resolve(s *Schema, defs map[string]*Schema) (*Schema, string, bool) {
	if s.Ref == "" {
		return s, "", true
	}
	name := s.RefName()
	d, ok := defs[name]
	return d, name, ok && d != nil
}
