package spec

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Violation reports the first condition a value breaks.
type Violation struct {
	Path   string // where, in wire names: "stations[2].name"; "" for the value itself
	Rule   string // the JSON Schema keyword broken: "maxLength"
	Detail string // what was found: "70 > 64"
}

// Error returns the violation as `stations[2].name: maxLength: 70 > 64`.
func (v *Violation) Error() string {
	if v.Path == "" {
		return v.Rule + ": " + v.Detail
	}
	return v.Path + ": " + v.Rule + ": " + v.Detail
}

// under prefixes the violation's path with a field name or an index, as the
// violation travels up from where it was found.
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

// checker checks one value. A type with no condition anywhere inside has a
// nil checker, so that its values cost nothing to check.
type checker func(reflect.Value) *Violation

// Validator checks the conditions of one Go type's values: the `papi` tags
// of the fields of every struct inside it. It is compiled once per type, and
// checking a valid value does not allocate (but for maps whose values carry
// conditions). A Validator is safe for concurrent use.
type Validator struct {
	t     reflect.Type
	check checker
}

var validators sync.Map // reflect.Type -> *Validator

// ValidatorFor returns the validator of t, compiling it on first use. It
// refuses what Builder.Schema refuses, with the same error, so that a type
// that checks is a type that has a spec.
func ValidatorFor(t reflect.Type) (*Validator, error) {
	if v, ok := validators.Load(t); ok {
		return v.(*Validator), nil
	}
	if _, err := NewBuilder().Schema(t); err != nil {
		return nil, err
	}
	c := &compiler{needs: map[reflect.Type]bool{}, slots: map[reflect.Type]*checker{}}
	check, err := c.compile(t, nil)
	if err != nil {
		return nil, err
	}
	v, _ := validators.LoadOrStore(t, &Validator{t: t, check: check})
	return v.(*Validator), nil
}

// Check returns nil, or the *Violation of the first broken condition, in
// field order. rv is a value of the validator's type, or a pointer to one.
func (v *Validator) Check(rv reflect.Value) error {
	if v.check == nil {
		return nil
	}
	if !rv.IsValid() || rv.Type() != v.t {
		if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.Type().Elem() != v.t {
			return &Violation{Rule: "type", Detail: fmt.Sprintf("a %s checked by the validator of %s", typeOfValue(rv), v.t)}
		}
		if rv.IsNil() {
			return &Violation{Rule: "required", Detail: "nil"}
		}
		rv = rv.Elem()
	}
	if viol := v.check(rv); viol != nil {
		return viol
	}
	return nil
}

func typeOfValue(rv reflect.Value) string {
	if !rv.IsValid() {
		return "nil"
	}
	return rv.Type().String()
}

type compiler struct {
	needs map[reflect.Type]bool
	// slots holds a checker per struct type being compiled, so that a
	// recursive type's checker can call itself through its slot.
	slots map[reflect.Type]*checker
}

// needsCheck reports whether a value of t can break a condition: whether a
// struct field with a condition can be reached from t.
func (c *compiler) needsCheck(t reflect.Type) bool {
	if v, ok := c.needs[t]; ok {
		return v
	}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type) bool
	walk = func(t reflect.Type) bool {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if seen[t] {
			return false // being walked already: it adds no new type
		}
		seen[t] = true
		switch classOf(t) {
		case classArray, classMap:
			return walk(t.Elem())
		case classStruct:
			fields, _ := structFields(t)
			for i := range fields {
				if cond, _ := fieldConditions(&fields[i]); cond.any() || walk(fields[i].typ) {
					return true
				}
			}
		}
		return false
	}
	r := walk(t)
	c.needs[t] = r
	return r
}

// compile returns the checker of t's values, with cond the conditions of
// the field they are in (nil at the top).
func (c *compiler) compile(t reflect.Type, cond *conditions) (checker, error) {
	if cond != nil && !cond.any() {
		cond = nil
	}
	if t.Kind() == reflect.Pointer {
		required := cond != nil && cond.required
		var elemCond *conditions
		if cond != nil {
			ec := *cond
			ec.required = false
			elemCond = &ec
		}
		elem, err := c.compile(t.Elem(), elemCond)
		if err != nil || elem == nil && !required {
			return nil, err
		}
		return func(v reflect.Value) *Violation {
			if v.IsNil() {
				if required {
					return &Violation{Rule: "required", Detail: "nil"}
				}
				return nil
			}
			if elem == nil {
				return nil
			}
			return elem(v.Elem())
		}, nil
	}
	var checks []checker
	if cond != nil {
		checks = ownChecks(t, cond)
	}
	if c.needsCheck(t) {
		var inner checker
		var err error
		switch classOf(t) {
		case classArray:
			inner, err = c.itemsChecker(t)
		case classMap:
			inner, err = c.valuesChecker(t)
		case classStruct:
			inner, err = c.structChecker(t)
		}
		if err != nil {
			return nil, err
		}
		if inner != nil {
			checks = append(checks, inner)
		}
	}
	return all(checks), nil
}

// all combines checks into one, which reports the first violation.
func all(checks []checker) checker {
	switch len(checks) {
	case 0:
		return nil
	case 1:
		return checks[0]
	case 2:
		a, b := checks[0], checks[1]
		return func(v reflect.Value) *Violation {
			if viol := a(v); viol != nil {
				return viol
			}
			return b(v)
		}
	}
	return func(v reflect.Value) *Violation {
		for _, check := range checks {
			if viol := check(v); viol != nil {
				return viol
			}
		}
		return nil
	}
}

func (c *compiler) itemsChecker(t reflect.Type) (checker, error) {
	elem, err := c.compile(t.Elem(), nil)
	if err != nil || elem == nil {
		return nil, err
	}
	return func(v reflect.Value) *Violation {
		for i := range v.Len() {
			if viol := elem(v.Index(i)); viol != nil {
				return viol.under("[" + strconv.Itoa(i) + "]")
			}
		}
		return nil
	}, nil
}

func (c *compiler) valuesChecker(t reflect.Type) (checker, error) {
	elem, err := c.compile(t.Elem(), nil)
	if err != nil || elem == nil {
		return nil, err
	}
	return func(v reflect.Value) *Violation {
		// Every value is checked and the violation under the least key
		// reported, so that the answer does not depend on map order.
		var first *Violation
		var firstKey string
		it := v.MapRange()
		for it.Next() {
			if viol := elem(it.Value()); viol != nil {
				if k := it.Key().String(); first == nil || k < firstKey {
					first, firstKey = viol, k
				}
			}
		}
		if first == nil {
			return nil
		}
		return first.under("[" + strconv.Quote(firstKey) + "]")
	}, nil
}

func (c *compiler) structChecker(t reflect.Type) (checker, error) {
	if slot, ok := c.slots[t]; ok {
		// A recursive reference: the slot is filled before any value is
		// checked.
		return func(v reflect.Value) *Violation {
			if *slot == nil {
				return nil
			}
			return (*slot)(v)
		}, nil
	}
	slot := new(checker)
	c.slots[t] = slot
	fields, err := structFields(t)
	if err != nil {
		return nil, err
	}
	type fieldCheck struct {
		field
		check checker
	}
	var checks []fieldCheck
	for i := range fields {
		f := &fields[i]
		cond, err := fieldConditions(f)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", typeLabel(t), f.goPath, err)
		}
		if !cond.any() && !c.needsCheck(f.typ) {
			continue
		}
		check, err := c.compile(f.typ, &cond)
		if err != nil {
			return nil, err
		}
		if check != nil {
			checks = append(checks, fieldCheck{*f, check})
		}
	}
	if len(checks) == 0 {
		return nil, nil
	}
	*slot = func(v reflect.Value) *Violation {
		for i := range checks {
			fc := &checks[i]
			fv, ok := fc.value(v)
			if !ok {
				continue // behind a nil embedded pointer: not sent, not checked
			}
			if viol := fc.check(fv); viol != nil {
				return viol.under(fc.name)
			}
		}
		return nil
	}
	return *slot, nil
}

// ownChecks returns the checks of a field's own conditions, on its value
// (not its items'); t is no pointer.
func ownChecks(t reflect.Type, cond *conditions) []checker {
	var checks []checker
	if k := t.Kind(); cond.required && (k == reflect.Slice || k == reflect.Map) {
		checks = append(checks, func(v reflect.Value) *Violation {
			if v.IsNil() {
				return &Violation{Rule: "required", Detail: "nil"}
			}
			return nil
		})
	}
	switch classOf(t) {
	case classInteger:
		if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 {
			checks = append(checks, newUintRule(cond))
		} else {
			checks = append(checks, newIntRule(cond))
		}
	case classNumber:
		checks = append(checks, newFloatRule(cond, t.Kind() == reflect.Float32))
	case classString:
		checks = append(checks, newStringRule(cond))
	case classBytes, classArray:
		lo, hi, rule := cond.minLength, cond.maxLength, "Length"
		if classOf(t) == classArray {
			lo, hi, rule = cond.minItems, cond.maxItems, "Items"
		}
		if lo != nil || hi != nil {
			r := newCountRule(lo, hi, rule)
			checks = append(checks, func(v reflect.Value) *Violation { return r.check(uint64(v.Len())) })
		}
	}
	return slices.DeleteFunc(checks, func(c checker) bool { return c == nil })
}

// countRule bounds a length or a count.
type countRule struct {
	lo, hi           uint64
	hasLo, hasHi     bool
	minRule, maxRule string
}

func newCountRule(lo, hi *uint64, what string) countRule {
	r := countRule{minRule: "min" + what, maxRule: "max" + what}
	if lo != nil {
		r.lo, r.hasLo = *lo, true
	}
	if hi != nil {
		r.hi, r.hasHi = *hi, true
	}
	return r
}

func (r *countRule) check(n uint64) *Violation {
	if r.hasLo && n < r.lo {
		return &Violation{Rule: r.minRule, Detail: strconv.FormatUint(n, 10) + " < " + strconv.FormatUint(r.lo, 10)}
	}
	if r.hasHi && n > r.hi {
		return &Violation{Rule: r.maxRule, Detail: strconv.FormatUint(n, 10) + " > " + strconv.FormatUint(r.hi, 10)}
	}
	return nil
}

// stringRule holds a string field's conditions, compiled.
type stringRule struct {
	count    countRule // in code points
	re       *regexp.Regexp
	enum     []string
	enumText string // for messages, made once
}

func newStringRule(cond *conditions) checker {
	r := &stringRule{count: newCountRule(cond.minLength, cond.maxLength, "Length"), re: cond.pattern}
	for _, e := range cond.enum {
		r.enum = append(r.enum, e.(string))
	}
	r.enumText = showEnum(cond.enum)
	if !r.count.hasLo && !r.count.hasHi && r.re == nil && r.enum == nil {
		return nil
	}
	return r.check
}

func (r *stringRule) check(v reflect.Value) *Violation {
	s := v.String()
	// The length in bytes bounds the count of code points from above, and
	// a quarter of it from below: most strings need no counting.
	if n := uint64(len(s)); r.count.hasHi && n > r.count.hi || r.count.hasLo && n/4 < r.count.lo {
		if viol := r.count.check(uint64(utf8.RuneCountInString(s))); viol != nil {
			return viol
		}
	}
	if r.re != nil && !r.re.MatchString(s) {
		return &Violation{Rule: "pattern", Detail: quote(s) + " does not match " + r.re.String()}
	}
	if r.enum != nil && !slices.Contains(r.enum, s) {
		return &Violation{Rule: "enum", Detail: quote(s) + " is not one of " + r.enumText}
	}
	return nil
}

// quote quotes a value for a message, cut short: values can be large.
func quote(s string) string {
	c := cut(s)
	if len(c) == len(s) {
		return strconv.Quote(s)
	}
	return strconv.Quote(c) + "…"
}

// cut returns s, or its start if it is too long to show whole.
func cut(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	n := most
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// bounds are a numeric field's minimum and maximum as written in its tag,
// for messages.
type bounds struct {
	minimum, maximum *float64
	enumText         string
}

func (b bounds) below(x string) *Violation {
	return &Violation{Rule: "minimum", Detail: x + " < " + strconv.FormatFloat(*b.minimum, 'g', -1, 64)}
}

func (b bounds) above(x string) *Violation {
	return &Violation{Rule: "maximum", Detail: x + " > " + strconv.FormatFloat(*b.maximum, 'g', -1, 64)}
}

// intRule holds a signed integer field's conditions, with the bounds made
// integers, so that checking compares integers exactly.
type intRule struct {
	bounds
	r    intRange
	enum []int64
}

func newIntRule(cond *conditions) checker {
	r := &intRule{bounds: bounds{cond.minimum, cond.maximum, showEnum(cond.enum)}, r: signedRange(cond.minimum, cond.maximum)}
	for _, e := range cond.enum {
		n, _ := enumInt(e)
		r.enum = append(r.enum, n)
	}
	if cond.minimum == nil && cond.maximum == nil && r.enum == nil {
		return nil
	}
	return r.check
}

func (r *intRule) check(v reflect.Value) *Violation {
	x := v.Int()
	if r.minimum != nil && (r.r.loNever || x < r.r.lo) {
		return r.below(strconv.FormatInt(x, 10))
	}
	if r.maximum != nil && (r.r.hiNever || x > r.r.hi) {
		return r.above(strconv.FormatInt(x, 10))
	}
	if r.enum != nil && !slices.Contains(r.enum, x) {
		return &Violation{Rule: "enum", Detail: strconv.FormatInt(x, 10) + " is not one of " + r.enumText}
	}
	return nil
}

// uintRule is intRule for unsigned integers.
type uintRule struct {
	bounds
	r    uintRange
	enum []uint64
}

func newUintRule(cond *conditions) checker {
	r := &uintRule{bounds: bounds{cond.minimum, cond.maximum, showEnum(cond.enum)}, r: unsignedRange(cond.minimum, cond.maximum)}
	for _, e := range cond.enum {
		r.enum = append(r.enum, e.(uint64))
	}
	if cond.minimum == nil && cond.maximum == nil && r.enum == nil {
		return nil
	}
	return r.check
}

func (r *uintRule) check(v reflect.Value) *Violation {
	x := v.Uint()
	if r.minimum != nil && (r.r.loNever || x < r.r.lo) {
		return r.below(strconv.FormatUint(x, 10))
	}
	if r.maximum != nil && (r.r.hiNever || x > r.r.hi) {
		return r.above(strconv.FormatUint(x, 10))
	}
	if r.enum != nil && !slices.Contains(r.enum, x) {
		return &Violation{Rule: "enum", Detail: strconv.FormatUint(x, 10) + " is not one of " + r.enumText}
	}
	return nil
}

// floatRule holds a float field's conditions. For a float32 field the
// bounds are rounded to float32, so that a value written like a bound
// meets it.
type floatRule struct {
	bounds
	lo, hi float64
	enum   []float64
}

func newFloatRule(cond *conditions, f32 bool) checker {
	r := &floatRule{bounds: bounds{cond.minimum, cond.maximum, showEnum(cond.enum)}}
	if cond.minimum != nil {
		r.lo = atPrecision(*cond.minimum, f32)
	}
	if cond.maximum != nil {
		r.hi = atPrecision(*cond.maximum, f32)
	}
	for _, e := range cond.enum {
		r.enum = append(r.enum, e.(float64))
	}
	if cond.minimum == nil && cond.maximum == nil && r.enum == nil {
		return nil
	}
	return r.check
}

func atPrecision(f float64, f32 bool) float64 {
	if f32 {
		return float64(float32(f))
	}
	return f
}

func (r *floatRule) check(v reflect.Value) *Violation {
	x := v.Float()
	// Written so that NaN, which is no number, fails both bounds.
	if r.minimum != nil && !(x >= r.lo) {
		return r.below(strconv.FormatFloat(x, 'g', -1, 64))
	}
	if r.maximum != nil && !(x <= r.hi) {
		return r.above(strconv.FormatFloat(x, 'g', -1, 64))
	}
	if r.enum != nil && !slices.Contains(r.enum, x) {
		return &Violation{Rule: "enum", Detail: strconv.FormatFloat(x, 'g', -1, 64) + " is not one of " + r.enumText}
	}
	return nil
}

// intRange is the set of int64 values that a minimum and a maximum allow:
// [lo, hi], unless a bound is beyond every int64 (loNever, hiNever).
type intRange struct {
	lo, hi           int64
	loNever, hiNever bool
}

// The float64 values of 2^63 and 2^64, where the int64 and uint64 ranges end.
const (
	two63 = float64(1 << 63)
	two64 = two63 * 2
)

func signedRange(minimum, maximum *float64) intRange {
	r := intRange{lo: math.MinInt64, hi: math.MaxInt64}
	if minimum != nil {
		switch c := math.Ceil(*minimum); {
		case c >= two63:
			r.loNever = true
		case c > -two63:
			r.lo = int64(c)
		}
	}
	if maximum != nil {
		switch f := math.Floor(*maximum); {
		case f < -two63:
			r.hiNever = true
		case f < two63:
			r.hi = int64(f)
		}
	}
	return r
}

// uintRange is intRange for uint64 values.
type uintRange struct {
	lo, hi           uint64
	loNever, hiNever bool
}

func unsignedRange(minimum, maximum *float64) uintRange {
	r := uintRange{lo: 0, hi: math.MaxUint64}
	if minimum != nil {
		switch c := math.Ceil(*minimum); {
		case c >= two64:
			r.loNever = true
		case c > 0:
			r.lo = uint64(c)
		}
	}
	if maximum != nil {
		switch f := math.Floor(*maximum); {
		case f < 0:
			r.hiNever = true
		case f < two64:
			r.hi = uint64(f)
		}
	}
	return r
}

// enumInt reads an integer enum value as an int64.
func enumInt(e any) (int64, bool) {
	switch n := e.(type) {
	case int64:
		return n, true
	case uint64:
		return int64(n), n <= math.MaxInt64
	}
	return 0, false
}
