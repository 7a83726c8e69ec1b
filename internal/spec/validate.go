package spec

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
)

var (
	methodNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	defNameRE    = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	knownFormats = map[string]map[string]bool{
		TypeInteger: {"int8": true, "int16": true, "int32": true, "int64": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true},
		TypeNumber:  {"float": true, "double": true},
		TypeString:  {"date-time": true},
	}
)

// Validate checks a spec decoded from another peer before anything relies
// on it: known types and formats, conditions that fit their types, every
// $ref resolving, patterns that compile, nesting no deeper than 64, and
// method names unique, sorted and matching ^[A-Za-z][A-Za-z0-9_]*$. What
// passes can be walked by Conform and Compare without surprises.
func (s *Spec) Validate() error {
	if s.Name == "" {
		return errors.New("spec has no name")
	}
	for i, m := range s.Methods {
		if !methodNameRE.MatchString(m.Name) {
			return fmt.Errorf("method name %q is not an identifier", m.Name)
		}
		if i > 0 && s.Methods[i-1].Name >= m.Name {
			if s.Methods[i-1].Name == m.Name {
				return fmt.Errorf("method %s listed twice", m.Name)
			}
			return fmt.Errorf("methods not sorted by name: %s before %s", s.Methods[i-1].Name, m.Name)
		}
		if err := s.validateSchema(m.Request, "", 0); err != nil {
			return fmt.Errorf("method %s request: %w", m.Name, err)
		}
		if err := s.validateSchema(m.Response, "", 0); err != nil {
			return fmt.Errorf("method %s response: %w", m.Name, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Defs)) {
		d := s.Defs[name]
		if !defNameRE.MatchString(name) {
			return fmt.Errorf("definition name %q is not an identifier", name)
		}
		if d != nil && d.Ref != "" {
			return fmt.Errorf("definition %s is only a reference", name)
		}
		if err := s.validateSchema(d, "", 0); err != nil {
			return fmt.Errorf("definition %s: %w", name, err)
		}
	}
	return nil
}

func (s *Spec) validateSchema(x *Schema, path string, depth int) error {
	at := func(format string, args ...any) error {
		if path == "" {
			return fmt.Errorf(format, args...)
		}
		return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
	if x == nil {
		return at("schema missing")
	}
	if depth > maxDepth {
		return at("schemas nested deeper than %d", maxDepth)
	}
	if x.Ref != "" {
		bare := *x
		bare.Ref, bare.Nullable, bare.Description = "", false, ""
		if !isZero(&bare) {
			return at("$ref %s has siblings other than nullable and description", x.Ref)
		}
		if name := x.RefName(); name == "" || s.Defs[name] == nil {
			return at("$ref %s does not resolve", x.Ref)
		}
		return nil
	}
	switch x.Type {
	case TypeObject, TypeArray, TypeString, TypeInteger, TypeNumber, TypeBoolean:
	default:
		return at("unknown type %q", x.Type)
	}
	if x.Format != "" && !knownFormats[x.Type][x.Format] {
		return at("unknown format %q for %s", x.Format, x.Type)
	}
	if x.ContentEncoding != "" && (x.ContentEncoding != "base64" || x.Type != TypeString || x.Format != "") {
		return at("contentEncoding %q does not apply to %s %s", x.ContentEncoding, x.Type, x.Format)
	}
	plainString := x.Type == TypeString && x.ContentEncoding == "" && x.Format == ""
	numeric := x.Type == TypeInteger || x.Type == TypeNumber
	for _, c := range []struct {
		keyword string
		set     bool
		fits    bool
	}{
		{"properties", x.Properties != nil, x.Type == TypeObject},
		{"required", x.Required != nil, x.Type == TypeObject},
		{"additionalProperties", x.AdditionalProperties != nil, x.Type == TypeObject},
		{"items", x.Items != nil, x.Type == TypeArray},
		{"minimum", x.Minimum != nil, numeric},
		{"maximum", x.Maximum != nil, numeric},
		{"minLength", x.MinLength != nil, x.Type == TypeString && x.Format == ""},
		{"maxLength", x.MaxLength != nil, x.Type == TypeString && x.Format == ""},
		{"pattern", x.Pattern != "", plainString},
		{"enum", x.Enum != nil, plainString || numeric},
		{"minItems", x.MinItems != nil, x.Type == TypeArray},
		{"maxItems", x.MaxItems != nil, x.Type == TypeArray},
	} {
		if c.set && !c.fits {
			return at("%s does not apply to %s", c.keyword, x.Type)
		}
	}
	switch {
	case x.Type == TypeArray && x.Items == nil:
		return at("array without items")
	case x.Minimum != nil && (math.IsNaN(*x.Minimum) || math.IsInf(*x.Minimum, 0)),
		x.Maximum != nil && (math.IsNaN(*x.Maximum) || math.IsInf(*x.Maximum, 0)):
		return at("minimum or maximum is not a finite number")
	case x.Minimum != nil && x.Maximum != nil && *x.Minimum > *x.Maximum:
		return at("minimum %v > maximum %v", *x.Minimum, *x.Maximum)
	case x.MinLength != nil && x.MaxLength != nil && *x.MinLength > *x.MaxLength:
		return at("minLength %d > maxLength %d", *x.MinLength, *x.MaxLength)
	case x.MinItems != nil && x.MaxItems != nil && *x.MinItems > *x.MaxItems:
		return at("minItems %d > maxItems %d", *x.MinItems, *x.MaxItems)
	}
	if x.Pattern != "" {
		if _, err := regexp.Compile(x.Pattern); err != nil {
			return at("pattern %q: %v", x.Pattern, err)
		}
	}
	for i, e := range x.Enum {
		kind, _ := enumKey(e)
		if kind != x.Type && !(x.Type == TypeNumber && kind == TypeInteger) {
			return at("enum value %v is not a %s", e, x.Type)
		}
		if f, ok := e.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return at("enum value %v is not a finite number", f)
		}
		if slices.ContainsFunc(x.Enum[:i], func(o any) bool { return sameEnum([]any{o}, []any{e}) }) {
			return at("enum value %v listed twice", e)
		}
	}
	for i, r := range x.Required {
		if _, ok := x.Properties[r]; !ok {
			return at("required field %q has no schema", r)
		}
		if slices.Contains(x.Required[:i], r) {
			return at("required field %q listed twice", r)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(x.Properties)) {
		if err := s.validateSchema(x.Properties[name], join(path, name), depth+1); err != nil {
			return err
		}
	}
	if x.Items != nil {
		if err := s.validateSchema(x.Items, path+"[]", depth+1); err != nil {
			return err
		}
	}
	if x.AdditionalProperties != nil {
		return s.validateSchema(x.AdditionalProperties, path+"{}", depth+1)
	}
	return nil
}

// isZero reports whether x sets no keyword at all.
func isZero(x *Schema) bool {
	return x.Ref == "" && x.Type == "" && x.Format == "" && x.ContentEncoding == "" && !x.Nullable &&
		x.Description == "" && x.Properties == nil && x.Required == nil && x.AdditionalProperties == nil &&
		x.Items == nil && x.Minimum == nil && x.Maximum == nil && x.MinLength == nil && x.MaxLength == nil &&
		x.Pattern == "" && x.Enum == nil && x.MinItems == nil && x.MaxItems == nil
}
