package spec

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
)

var (
	methodNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,127}$`)
	defNameRE    = regexp.MustCompile(`^[A-Za-z0-9_]{1,256}$`)
	knownFormats = map[string]map[string]bool{
		TypeInteger: {"int8": true, "int16": true, "int32": true, "int64": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true},
		TypeNumber:  {"float": true, "double": true},
		TypeString:  {"date-time": true},
	}
)

// maxSchemaDepth bounds how deeply schemas nest, so that a spec from another
// peer cannot make code that walks it recurse without end.
const maxSchemaDepth = 64

// Validate checks a spec decoded from another peer before anything relies on
// it: known types and formats, every $ref resolving, patterns that compile,
// bounded nesting, and unique, sorted, well-formed method names.
func (s *Spec) Validate() error {
	if s.Name == "" {
		return errors.New("spec has no name")
	}
	for i, m := range s.Methods {
		if !methodNameRE.MatchString(m.Name) {
			return fmt.Errorf("method name %q is not an identifier", m.Name)
		}
		if i > 0 && s.Methods[i-1].Name >= m.Name {
			return fmt.Errorf("methods not sorted, or %q twice", m.Name)
		}
		if m.Request == nil || m.Response == nil {
			return fmt.Errorf("method %s: request or response schema missing", m.Name)
		}
		if err := s.validateSchema(m.Request, 0); err != nil {
			return fmt.Errorf("method %s request: %w", m.Name, err)
		}
		if err := s.validateSchema(m.Response, 0); err != nil {
			return fmt.Errorf("method %s response: %w", m.Name, err)
		}
	}
	for name, d := range s.Defs {
		if !defNameRE.MatchString(name) {
			return fmt.Errorf("definition name %q is not an identifier", name)
		}
		if d == nil {
			return fmt.Errorf("definition %s is empty", name)
		}
		if err := s.validateSchema(d, 0); err != nil {
			return fmt.Errorf("definition %s: %w", name, err)
		}
	}
	return nil
}

func (s *Spec) validateSchema(x *Schema, depth int) error {
	if depth > maxSchemaDepth {
		return fmt.Errorf("schemas nested deeper than %d", maxSchemaDepth)
	}
	if x.Ref != "" {
		if x.Type != "" || x.Properties != nil || x.Items != nil || x.AdditionalProperties != nil {
			return fmt.Errorf("$ref %s has siblings that describe a type", x.Ref)
		}
		if d := s.Defs[x.RefName()]; d == nil {
			return fmt.Errorf("$ref %s does not resolve", x.Ref)
		}
		return nil
	}
	switch x.Type {
	case TypeObject, TypeArray, TypeString, TypeInteger, TypeNumber, TypeBoolean:
	default:
		return fmt.Errorf("unknown type %q", x.Type)
	}
	if x.Format != "" && !knownFormats[x.Type][x.Format] {
		return fmt.Errorf("unknown format %q for %s", x.Format, x.Type)
	}
	if x.ContentEncoding != "" && (x.ContentEncoding != "base64" || x.Type != TypeString) {
		return fmt.Errorf("unknown contentEncoding %q for %s", x.ContentEncoding, x.Type)
	}
	if x.Pattern != "" {
		if _, err := regexp.Compile(x.Pattern); err != nil {
			return fmt.Errorf("pattern %q: %w", x.Pattern, err)
		}
	}
	for _, r := range x.Required {
		if _, ok := x.Properties[r]; !ok {
			return fmt.Errorf("required field %q has no schema", r)
		}
	}
	if len(x.Required) != len(slices.Compact(slices.Sorted(slices.Values(x.Required)))) {
		return errors.New("a required field is listed twice")
	}
	for name, p := range x.Properties {
		if p == nil {
			return fmt.Errorf("field %q has no schema", name)
		}
		if err := s.validateSchema(p, depth+1); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, sub := range []*Schema{x.Items, x.AdditionalProperties} {
		if sub != nil {
			if err := s.validateSchema(sub, depth+1); err != nil {
				return err
			}
		}
	}
	if (x.Type == TypeArray) != (x.Items != nil) {
		return errors.New("items go with type array, and only with it")
	}
	return nil
}
