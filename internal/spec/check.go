package spec

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Violation reports the first condition a value breaks.
type Violation struct {
	Path   string // where, in wire names: "stations[2].name"
	Rule   string // the JSON Schema keyword: "maxLength"
	Detail string // what was found: "70 > 64"
}

func (v *Violation) Error() string {
	if v.Path == "" {
		return v.Rule + ": " + v.Detail
	}
	return v.Path + ": " + v.Rule + ": " + v.Detail
}

// under prefixes the violation's path with a field name or an index.
func (v *Violation) under(prefix string) *Violation {
	switch {
	case v.Path == "":
		v.Path = prefix
	case v.Path[0] == '[':
		v.Path = prefix + v.Path
	default:
		v.Path = prefix + "." + v.Path
	}
	return v
}

// checker checks one value; nil when its type has no condition anywhere,
// so that such values cost nothing to check.
type checker func(reflect.Value) *Violation

// Validator checks the conditions of one Go type's values. It is compiled
// once per type; checking a valid value does not allocate.
type Validator struct {
	check checker
}

var validators sync.Map // reflect.Type -> *Validator

// ValidatorFor returns the validator of t, compiling it on first use.
func ValidatorFor(t reflect.Type) (*Validator, error) {
	if v, ok := validators.Load(t); ok {
		return v.(*Validator), nil
	}
	c := &compiler{building: map[reflect.Type]*checker{}}
	check, err := c.compile(t, conditions{})
	if err != nil {
		return nil, err
	}
	v, _ := validators.LoadOrStore(t, &Validator{check: check})
	return v.(*Validator), nil
}

// Check returns nil or the *Violation of the first broken condition.
func (v *Validator) Check(rv reflect.Value) error {
	if v.check == nil {
		return nil
	}
	if viol := v.check(rv); viol != nil {
		return viol
	}
	return nil
}

type compiler struct {
	// building holds a slot for each struct type being compiled, so that a
	// recursive type's checker can call itself through the slot.
	building map[reflect.Type]*checker
}

func (c *compiler) compile(t reflect.Type, cond conditions) (checker, error) {
	if t == timeType {
		return nil, nil
	}
	own := c.conditionCheck(t, cond)
	var inner checker
	switch t.Kind() {
	case reflect.Pointer:
		elem, err := c.compile(t.Elem(), conditions{
			minimum: cond.minimum, maximum: cond.maximum, minLength: cond.minLength, maxLength: cond.maxLength,
			minItems: cond.minItems, maxItems: cond.maxItems, pattern: cond.pattern, enum: cond.enum,
		})
		if err != nil {
			return nil, err
		}
		required := cond.required
		if elem == nil && !required {
			return nil, nil
		}
		return func(v reflect.Value) *Violation {
			if v.IsNil() {
				if required {
					return &Violation{Rule: "required", Detail: "missing"}
				}
				return nil
			}
			if elem == nil {
				return nil
			}
			return elem(v.Elem())
		}, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			break
		}
		elem, err := c.compile(t.Elem(), conditions{})
		if err != nil {
			return nil, err
		}
		if elem != nil {
			inner = func(v reflect.Value) *Violation {
				for i := range v.Len() {
					if viol := elem(v.Index(i)); viol != nil {
						return viol.under("[" + strconv.Itoa(i) + "]")
					}
				}
				return nil
			}
		}
	case reflect.Map:
		elem, err := c.compile(t.Elem(), conditions{})
		if err != nil {
			return nil, err
		}
		if elem != nil {
			inner = func(v reflect.Value) *Violation {
				it := v.MapRange()
				for it.Next() {
					if viol := elem(it.Value()); viol != nil {
						return viol.under("[" + strconv.Quote(it.Key().String()) + "]")
					}
				}
				return nil
			}
		}
	case reflect.Struct:
		var err error
		if inner, err = c.structChecker(t); err != nil {
			return nil, err
		}
	}
	switch {
	case own == nil:
		return inner, nil
	case inner == nil:
		return own, nil
	}
	return func(v reflect.Value) *Violation {
		if viol := own(v); viol != nil {
			return viol
		}
		return inner(v)
	}, nil
}

func (c *compiler) structChecker(t reflect.Type) (checker, error) {
	if slot, ok := c.building[t]; ok {
		// A recursive reference: call whatever the slot holds once built.
		return func(v reflect.Value) *Violation {
			if *slot == nil {
				return nil
			}
			return (*slot)(v)
		}, nil
	}
	slot := new(checker)
	c.building[t] = slot
	fields, err := Fields(t)
	if err != nil {
		return nil, err
	}
	type fieldCheck struct {
		name  string
		index []int
		check checker
	}
	var checks []fieldCheck
	for _, f := range fields {
		cond, err := parseConditions(f.Tag.Get("papi"))
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		check, err := c.compile(f.Type, cond)
		if err != nil {
			return nil, err
		}
		if check != nil {
			checks = append(checks, fieldCheck{f.Name, f.Index, check})
		}
	}
	if len(checks) == 0 {
		return nil, nil
	}
	*slot = func(v reflect.Value) *Violation {
		for _, fc := range checks {
			fv, ok := fieldByIndex(v, fc.index)
			if !ok {
				continue // behind a nil embedded pointer: not on the wire
			}
			if viol := fc.check(fv); viol != nil {
				return viol.under(fc.name)
			}
		}
		return nil
	}
	return *slot, nil
}

func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// conditionCheck checks a value's own conditions (not its elements').
func (c *compiler) conditionCheck(t reflect.Type, cond conditions) checker {
	var checks []checker
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if cond.minimum != nil || cond.maximum != nil {
			checks = append(checks, rangeCheck(cond, func(v reflect.Value) float64 { return float64(v.Int()) }))
		}
		if cond.enum != nil {
			set := map[int64]bool{}
			for _, e := range cond.enum {
				n, _ := strconv.ParseInt(e, 10, 64)
				set[n] = true
			}
			checks = append(checks, func(v reflect.Value) *Violation {
				if !set[v.Int()] {
					return &Violation{Rule: "enum", Detail: strconv.FormatInt(v.Int(), 10) + " is not one of the values allowed"}
				}
				return nil
			})
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if cond.minimum != nil || cond.maximum != nil {
			checks = append(checks, rangeCheck(cond, func(v reflect.Value) float64 { return float64(v.Uint()) }))
		}
		if cond.enum != nil {
			set := map[uint64]bool{}
			for _, e := range cond.enum {
				n, _ := strconv.ParseUint(e, 10, 64)
				set[n] = true
			}
			checks = append(checks, func(v reflect.Value) *Violation {
				if !set[v.Uint()] {
					return &Violation{Rule: "enum", Detail: strconv.FormatUint(v.Uint(), 10) + " is not one of the values allowed"}
				}
				return nil
			})
		}
	case reflect.Float32, reflect.Float64:
		if cond.minimum != nil || cond.maximum != nil {
			checks = append(checks, rangeCheck(cond, reflect.Value.Float))
		}
		if cond.enum != nil {
			set := map[float64]bool{}
			for _, e := range cond.enum {
				f, _ := strconv.ParseFloat(e, 64)
				set[f] = true
			}
			checks = append(checks, func(v reflect.Value) *Violation {
				if !set[v.Float()] {
					return &Violation{Rule: "enum", Detail: strconv.FormatFloat(v.Float(), 'g', -1, 64) + " is not one of the values allowed"}
				}
				return nil
			})
		}
	case reflect.String:
		if cond.minLength != nil || cond.maxLength != nil {
			checks = append(checks, lengthCheck("Length", cond.minLength, cond.maxLength, func(v reflect.Value) int { return utf8.RuneCountInString(v.String()) }))
		}
		if cond.pattern != "" {
			re := regexp.MustCompile(cond.pattern) // compiled when the tag was parsed
			checks = append(checks, func(v reflect.Value) *Violation {
				if !re.MatchString(v.String()) {
					return &Violation{Rule: "pattern", Detail: strconv.Quote(v.String()) + " does not match " + re.String()}
				}
				return nil
			})
		}
		if cond.enum != nil {
			set := map[string]bool{}
			for _, e := range cond.enum {
				set[e] = true
			}
			checks = append(checks, func(v reflect.Value) *Violation {
				if !set[v.String()] {
					return &Violation{Rule: "enum", Detail: strconv.Quote(v.String()) + " is not one of the values allowed"}
				}
				return nil
			})
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if cond.minLength != nil || cond.maxLength != nil {
				checks = append(checks, lengthCheck("Length", cond.minLength, cond.maxLength, reflect.Value.Len))
			}
		} else if cond.minItems != nil || cond.maxItems != nil {
			checks = append(checks, lengthCheck("Items", cond.minItems, cond.maxItems, reflect.Value.Len))
		}
	}
	switch len(checks) {
	case 0:
		return nil
	case 1:
		return checks[0]
	}
	return func(v reflect.Value) *Violation {
		for _, c := range checks {
			if viol := c(v); viol != nil {
				return viol
			}
		}
		return nil
	}
}

func rangeCheck(cond conditions, get func(reflect.Value) float64) checker {
	lo, hi := cond.minimum, cond.maximum
	return func(v reflect.Value) *Violation {
		x := get(v)
		if lo != nil && !(x >= *lo) {
			return &Violation{Rule: "minimum", Detail: fmt.Sprintf("%v < %v", x, *lo)}
		}
		if hi != nil && !(x <= *hi) {
			return &Violation{Rule: "maximum", Detail: fmt.Sprintf("%v > %v", x, *hi)}
		}
		return nil
	}
}

func lengthCheck(what string, lo, hi *uint64, get func(reflect.Value) int) checker {
	return func(v reflect.Value) *Violation {
		n := uint64(get(v))
		if lo != nil && n < *lo {
			return &Violation{Rule: "min" + what, Detail: fmt.Sprintf("%d < %d", n, *lo)}
		}
		if hi != nil && n > *hi {
			return &Violation{Rule: "max" + what, Detail: fmt.Sprintf("%d > %d", n, *hi)}
		}
		return nil
	}
}
