package spec

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// conditions are what a `papi:"…"` struct tag asks of a field.
type conditions struct {
	required             bool
	minimum, maximum     *float64
	minLength, maxLength *uint64
	minItems, maxItems   *uint64
	pattern              string
	enum                 []string
}

// parseConditions reads a papi tag: comma-separated JSON Schema keywords,
// with pattern last because a regular expression may hold commas.
func parseConditions(tag string) (conditions, error) {
	var c conditions
	for tag != "" {
		var item string
		if strings.HasPrefix(tag, "pattern=") {
			item, tag = tag, ""
		} else {
			item, tag, _ = strings.Cut(tag, ",")
		}
		key, val, hasVal := strings.Cut(strings.TrimSpace(item), "=")
		num := func() (*float64, error) {
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s=%q: not a finite number", key, val)
			}
			return &f, nil
		}
		count := func() (*uint64, error) {
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s=%q: not a count", key, val)
			}
			return &n, nil
		}
		var err error
		switch {
		case key == "":
			continue
		case key == "required" && !hasVal:
			c.required = true
		case key == "minimum" && hasVal:
			c.minimum, err = num()
		case key == "maximum" && hasVal:
			c.maximum, err = num()
		case key == "minLength" && hasVal:
			c.minLength, err = count()
		case key == "maxLength" && hasVal:
			c.maxLength, err = count()
		case key == "minItems" && hasVal:
			c.minItems, err = count()
		case key == "maxItems" && hasVal:
			c.maxItems, err = count()
		case key == "enum" && hasVal && val != "":
			c.enum = strings.Split(val, "|")
		case key == "pattern" && hasVal && val != "":
			if _, err = regexp.Compile(val); err != nil {
				err = fmt.Errorf("pattern %q: %w", val, err)
			}
			c.pattern = val
		default:
			return c, fmt.Errorf("unknown condition %q in papi tag", item)
		}
		if err != nil {
			return c, err
		}
	}
	switch {
	case c.minimum != nil && c.maximum != nil && *c.minimum > *c.maximum:
		return c, fmt.Errorf("minimum %v > maximum %v", *c.minimum, *c.maximum)
	case c.minLength != nil && c.maxLength != nil && *c.minLength > *c.maxLength:
		return c, fmt.Errorf("minLength %d > maxLength %d", *c.minLength, *c.maxLength)
	case c.minItems != nil && c.maxItems != nil && *c.minItems > *c.maxItems:
		return c, fmt.Errorf("minItems %d > maxItems %d", *c.minItems, *c.maxItems)
	}
	return c, nil
}

// apply puts the conditions on the schema of a field of Go type t, refusing
// those that do not fit its kind.
func (c conditions) apply(s *Schema, t reflect.Type) error {
	if c.required && !(t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map) {
		c.required = false // implied for every other kind
	}
	if c.required && t.Kind() == reflect.Pointer {
		s.Nullable = false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	kind := s.Type
	if s.Ref != "" {
		kind = "struct"
	}
	fits := func(keyword string, ok bool) error {
		if !ok {
			return fmt.Errorf("%s does not apply to %s", keyword, t)
		}
		return nil
	}
	numeric := kind == TypeInteger || kind == TypeNumber
	if c.minimum != nil || c.maximum != nil {
		if err := fits("minimum/maximum", numeric); err != nil {
			return err
		}
		s.Minimum, s.Maximum = c.minimum, c.maximum
	}
	if c.minLength != nil || c.maxLength != nil {
		if err := fits("minLength/maxLength", kind == TypeString && t != timeType); err != nil {
			return err
		}
		s.MinLength, s.MaxLength = c.minLength, c.maxLength
	}
	if c.pattern != "" {
		if err := fits("pattern", kind == TypeString && s.ContentEncoding == "" && t != timeType); err != nil {
			return err
		}
		s.Pattern = c.pattern
	}
	if c.minItems != nil || c.maxItems != nil {
		if err := fits("minItems/maxItems", kind == TypeArray); err != nil {
			return err
		}
		s.MinItems, s.MaxItems = c.minItems, c.maxItems
	}
	if c.enum != nil {
		if err := fits("enum", (kind == TypeString && s.ContentEncoding == "" && t != timeType) || numeric); err != nil {
			return err
		}
		for _, v := range c.enum {
			ev, err := enumValue(v, t)
			if err != nil {
				return err
			}
			s.Enum = append(s.Enum, ev)
		}
	}
	return nil
}

// enumValue parses one enum value as the kind of t, in the form CBOR will
// give back when the spec is decoded: uint64 for non-negative integers.
func enumValue(v string, t reflect.Type) (any, error) {
	switch t.Kind() {
	case reflect.String:
		return v, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(v, 10, t.Bits())
		if err != nil {
			return nil, fmt.Errorf("enum value %q is not a %s", v, t)
		}
		if n >= 0 {
			return uint64(n), nil
		}
		return n, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(v, 10, t.Bits())
		if err != nil {
			return nil, fmt.Errorf("enum value %q is not a %s", v, t)
		}
		return n, nil
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(v, t.Bits())
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("enum value %q is not a %s", v, t)
		}
		return f, nil
	}
	return nil, fmt.Errorf("enum does not apply to %s", t)
}
