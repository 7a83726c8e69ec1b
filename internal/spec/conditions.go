package spec

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// conditions are what a `papi:"…"` struct tag asks of a field.
type conditions struct {
	required             bool // non-nil; kept only for pointers, slices and maps
	minimum, maximum     *float64
	minLength, maxLength *uint64
	minItems, maxItems   *uint64
	pattern              *regexp.Regexp
	enum                 []any // parsed as the field's kind: string, int64, uint64 or float64
}

// any reports whether c asks anything of a value.
func (c *conditions) any() bool {
	return c.required || c.minimum != nil || c.maximum != nil || c.minLength != nil || c.maxLength != nil ||
		c.minItems != nil || c.maxItems != nil || c.pattern != nil || c.enum != nil
}

// fieldConditions reads the papi tag of f and checks that every condition
// fits the field's type, so that a mistake shows when the API is declared
// rather than as a condition that never holds, or never fails.
func fieldConditions(f *field) (conditions, error) {
	tag, ok := f.tag.Lookup("papi")
	if !ok {
		return conditions{}, nil
	}
	c, enum, err := parseConditions(tag)
	if err != nil {
		return c, err
	}
	t := f.typ
	if c.required {
		switch k := t.Kind(); {
		case f.viaPtr:
			return c, errors.New("required does not apply to a field of an embedded pointer, which is left out when the pointer is nil")
		case k == reflect.Pointer:
		case f.omit:
			return c, fmt.Errorf("required contradicts omitempty on %s: an empty value is left out", t)
		case k != reflect.Slice && k != reflect.Map:
			c.required = false // every other kind is always sent
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	cl := classOf(t)
	fits := func(keyword string, ok bool) error {
		if !ok {
			return fmt.Errorf("%s does not apply to %s", keyword, t)
		}
		return nil
	}
	numeric := cl == classInteger || cl == classNumber
	fixed := t.Kind() == reflect.Array // its length is part of its type, and of its schema
	if c.minimum != nil || c.maximum != nil {
		if err := fits(either(c.minimum != nil, "minimum", "maximum"), numeric); err != nil {
			return c, err
		}
	}
	if c.minLength != nil || c.maxLength != nil {
		ok := cl == classString || cl == classBytes && !fixed
		if err := fits(either(c.minLength != nil, "minLength", "maxLength"), ok); err != nil {
			return c, err
		}
	}
	if c.pattern != nil {
		if err := fits("pattern", cl == classString); err != nil {
			return c, err
		}
	}
	if c.minItems != nil || c.maxItems != nil {
		if err := fits(either(c.minItems != nil, "minItems", "maxItems"), cl == classArray && !fixed); err != nil {
			return c, err
		}
	}
	if enum != nil {
		if err := fits("enum", cl == classString || numeric); err != nil {
			return c, err
		}
		for _, v := range enum {
			ev, err := enumValue(v, t)
			if err != nil {
				return c, err
			}
			for _, have := range c.enum {
				if have == ev {
					return c, fmt.Errorf("enum value %q listed twice", v)
				}
			}
			c.enum = append(c.enum, ev)
		}
	}
	return c, nil
}

func either(first bool, a, b string) string {
	if first {
		return a
	}
	return b
}

// parseConditions reads a papi tag: comma-separated JSON Schema keywords,
// with pattern last because a regular expression may hold commas. Enum
// values come back as text, to be parsed once the field's kind is known.
func parseConditions(tag string) (conditions, []string, error) {
	var c conditions
	var enum []string
	seen := map[string]bool{}
	for tag != "" {
		var item string
		if strings.HasPrefix(strings.TrimLeft(tag, " "), "pattern=") {
			item, tag = tag, ""
		} else {
			item, tag, _ = strings.Cut(tag, ",")
		}
		key, val, hasVal := strings.Cut(strings.TrimLeft(item, " "), "=")
		if key != "pattern" { // a pattern's spaces are its own
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		}
		if key == "" && !hasVal {
			continue
		}
		if seen[key] {
			return c, nil, fmt.Errorf("condition %s given twice", key)
		}
		seen[key] = true
		num := func() (*float64, error) {
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s=%s: not a finite number", key, val)
			}
			return &f, nil
		}
		count := func() (*uint64, error) {
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: not a count", key, val)
			}
			return &n, nil
		}
		var err error
		switch {
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
			enum = strings.Split(val, "|")
		case key == "pattern" && hasVal && val != "":
			if c.pattern, err = regexp.Compile(val); err != nil {
				err = fmt.Errorf("pattern %q: %w", val, err)
			}
		default:
			return c, nil, fmt.Errorf("unknown condition %q in papi tag", item)
		}
		if err != nil {
			return c, nil, err
		}
	}
	switch {
	case c.minimum != nil && c.maximum != nil && *c.minimum > *c.maximum:
		return c, nil, fmt.Errorf("minimum %v > maximum %v", *c.minimum, *c.maximum)
	case c.minLength != nil && c.maxLength != nil && *c.minLength > *c.maxLength:
		return c, nil, fmt.Errorf("minLength %d > maxLength %d", *c.minLength, *c.maxLength)
	case c.minItems != nil && c.maxItems != nil && *c.minItems > *c.maxItems:
		return c, nil, fmt.Errorf("minItems %d > maxItems %d", *c.minItems, *c.maxItems)
	}
	return c, enum, nil
}

// annotate puts the conditions on s, the schema of the field of type t
// they were read from. fieldConditions has made sure that none of them
// replaces anything derivation set.
func (c *conditions) annotate(s *Schema, t reflect.Type) {
	if c.required && t.Kind() == reflect.Pointer {
		s.Nullable = false // it is never nil, so never null
	}
	if c.minimum != nil || c.maximum != nil {
		s.Minimum, s.Maximum = c.minimum, c.maximum
	}
	if c.minLength != nil || c.maxLength != nil {
		s.MinLength, s.MaxLength = c.minLength, c.maxLength
	}
	if c.minItems != nil || c.maxItems != nil {
		s.MinItems, s.MaxItems = c.minItems, c.maxItems
	}
	if c.pattern != nil {
		s.Pattern = c.pattern.String()
	}
	if c.enum != nil {
		s.Enum = c.enum
	}
}

// enumValue parses one enum value as the kind of t, in the form the CBOR
// decoder gives back when a spec is read: uint64 for integers from zero up,
// int64 below, so that a spec compares equal to itself after a round trip.
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
		// At the field's own precision, so that a float32 field holding the
		// value written in the tag equals it.
		f, err := strconv.ParseFloat(v, t.Bits())
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("enum value %q is not a %s", v, t)
		}
		return f, nil
	}
	return nil, fmt.Errorf("enum does not apply to %s", t)
}
