package spec

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Conform converts v, as decoded from JSON by encoding/json with UseNumber
// or from CBOR into an any, into the value s describes, ready for
// canon.Marshal: integers become int64 (below zero) or uint64, numbers
// float64 (float32 for format float), base64 text bytes; date-time text is
// checked and stays text. On the way it checks every condition, and refuses
// unknown fields and missing required ones. Its error is a *Violation
// naming the path and the rule. defs are the definitions s's $refs name.
func Conform(v any, s *Schema, defs map[string]*Schema) (any, error) {
	if s == nil {
		return nil, &Violation{Rule: "type", Detail: "no schema"}
	}
	out, viol := conform(v, s, defs, 0)
	if viol != nil {
		return nil, viol
	}
	return out, nil
}

func violation(rule, format string, args ...any) *Violation {
	return &Violation{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

func conform(v any, s *Schema, defs map[string]*Schema, depth int) (any, *Violation) {
	if depth > maxDepth {
		return nil, violation("depth", "nested deeper than %d", maxDepth)
	}
	if v == nil {
		if s.Nullable {
			return nil, nil
		}
		return nil, violation("type", "null where %s is required", typeName(s))
	}
	r, _, ok := resolve(s, defs)
	if !ok {
		return nil, violation("$ref", "%s does not resolve", s.Ref)
	}
	s = r
	switch s.Type {
	case TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, violation("type", "%s where boolean is required", describe(v))
		}
		return b, nil
	case TypeInteger:
		return conformInteger(v, s)
	case TypeNumber:
		return conformNumber(v, s)
	case TypeString:
		if s.ContentEncoding == "base64" {
			return conformBytes(v, s)
		}
		return conformString(v, s)
	case TypeArray:
		return conformArray(v, s, defs, depth)
	case TypeObject:
		return conformObject(v, s, defs, depth)
	}
	return nil, violation("type", "unknown schema type %q", s.Type)
}

func typeName(s *Schema) string {
	if s.Ref != "" {
		return s.RefName()
	}
	return s.Type
}

// describe names what a value is, for a message, without quoting all of it.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return "string " + quote(x)
	case json.Number:
		return "number " + cut(string(x))
	case float64, float32, int64, uint64, int:
		return fmt.Sprintf("number %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any:
		return "array"
	case map[string]any, map[any]any:
		return "object"
	case []byte:
		return "bytes"
	}
	return fmt.Sprintf("%T", v)
}

func conformArray(v any, s *Schema, defs map[string]*Schema, depth int) (any, *Violation) {
	list, ok := v.([]any)
	if !ok {
		return nil, violation("type", "%s where array is required", describe(v))
	}
	r := newCountRule(s.MinItems, s.MaxItems, "Items")
	if viol := r.check(uint64(len(list))); viol != nil {
		return nil, viol
	}
	if s.Items == nil {
		return nil, violation("items", "array schema without items")
	}
	out := make([]any, len(list))
	for i, e := range list {
		c, viol := conform(e, s.Items, defs, depth+1)
		if viol != nil {
			return nil, viol.under("[" + strconv.Itoa(i) + "]")
		}
		out[i] = c
	}
	return out, nil
}

func conformObject(v any, s *Schema, defs map[string]*Schema, depth int) (any, *Violation) {
	var m map[string]any
	switch x := v.(type) {
	case map[string]any:
		m = x
	case map[any]any: // what a CBOR decoder without a default map type gives
		m = make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, violation("type", "object with a %T key", k)
			}
			m[ks] = e
		}
	default:
		return nil, violation("type", "%s where object is required", describe(v))
	}
	// In key order, so that the violation reported does not depend on the
	// order of a map; unknown fields first, as a misspelt name is the likely
	// cause of a missing one.
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		if s.Properties[k] == nil && s.AdditionalProperties == nil {
			return nil, (&Violation{Rule: "additionalProperties", Detail: "unknown field"}).under(k)
		}
	}
	for _, r := range s.Required {
		if _, ok := m[r]; !ok {
			return nil, (&Violation{Rule: "required", Detail: "missing"}).under(r)
		}
	}
	out := make(map[string]any, len(m))
	for _, k := range keys {
		sub, isMap := s.Properties[k], false
		if sub == nil {
			sub, isMap = s.AdditionalProperties, true
		}
		c, viol := conform(m[k], sub, defs, depth+1)
		if viol != nil {
			if isMap {
				return nil, viol.under("[" + strconv.Quote(k) + "]")
			}
			return nil, viol.under(k)
		}
		out[k] = c
	}
	return out, nil
}

// conformInteger reads v as an integer exactly (5, 5.0 and 5e0 are one; 5.5
// and 1e400 are not) and returns it as int64 below zero, uint64 from zero.
func conformInteger(v any, s *Schema) (any, *Violation) {
	neg, mag, viol := integerOf(v)
	if viol != nil {
		return nil, viol
	}
	if !fitsFormat(neg, mag, s.Format) {
		return nil, violation("format", "%s is out of range for %s", showInt(neg, mag), formatOr(s.Format, "an integer"))
	}
	var out any
	var below, above, inEnum bool
	if neg {
		x := -int64(mag-1) - 1 // mag may be 2^63
		r := signedRange(s.Minimum, s.Maximum)
		below = s.Minimum != nil && (r.loNever || x < r.lo)
		above = s.Maximum != nil && (r.hiNever || x > r.hi)
		inEnum = slices.ContainsFunc(s.Enum, func(e any) bool { n, ok := enumInt(e); return ok && n == x })
		out = x
	} else {
		r := unsignedRange(s.Minimum, s.Maximum)
		below = s.Minimum != nil && (r.loNever || mag < r.lo)
		above = s.Maximum != nil && (r.hiNever || mag > r.hi)
		inEnum = slices.ContainsFunc(s.Enum, func(e any) bool { n, ok := e.(uint64); return ok && n == mag })
		out = mag
	}
	b := bounds{minimum: s.Minimum, maximum: s.Maximum}
	switch {
	case below:
		return nil, b.below(showInt(neg, mag))
	case above:
		return nil, b.above(showInt(neg, mag))
	case s.Enum != nil && !inEnum:
		return nil, violation("enum", "%s is not one of %s", showInt(neg, mag), showEnum(s.Enum))
	}
	return out, nil
}

func formatOr(format, otherwise string) string {
	if format == "" {
		return otherwise
	}
	return format
}

func showInt(neg bool, mag uint64) string {
	if neg {
		return "-" + strconv.FormatUint(mag, 10)
	}
	return strconv.FormatUint(mag, 10)
}

// integerOf reads v as a sign and a magnitude. A zero is never negative.
func integerOf(v any) (neg bool, mag uint64, viol *Violation) {
	notInteger := func() (bool, uint64, *Violation) {
		return false, 0, violation("type", "%s where integer is required", describe(v))
	}
	tooLarge := func() (bool, uint64, *Violation) {
		return false, 0, violation("format", "%s is out of range for any integer", describe(v))
	}
	switch x := v.(type) {
	case json.Number:
		neg, mag, status := decimalInteger(string(x))
		switch status {
		case decimalNotNumber, decimalNotIntegral:
			return notInteger()
		case decimalTooLarge:
			return tooLarge()
		}
		return neg, mag, nil
	case float64:
		return floatInteger(x, notInteger, tooLarge)
	case float32:
		return floatInteger(float64(x), notInteger, tooLarge)
	case int64:
		return splitInt(x)
	case int:
		return splitInt(int64(x))
	case uint64:
		return false, x, nil
	case *big.Int:
		return bigInteger(x, tooLarge)
	case big.Int:
		return bigInteger(&x, tooLarge)
	}
	return notInteger()
}

func splitInt(x int64) (bool, uint64, *Violation) {
	if x < 0 {
		return true, uint64(-(x + 1)) + 1, nil
	}
	return false, uint64(x), nil
}

func floatInteger(x float64, notInteger, tooLarge func() (bool, uint64, *Violation)) (bool, uint64, *Violation) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0) || x != math.Trunc(x):
		return notInteger()
	case math.Abs(x) >= two64:
		return tooLarge()
	}
	return x < 0, uint64(math.Abs(x)), nil
}

func bigInteger(x *big.Int, tooLarge func() (bool, uint64, *Violation)) (bool, uint64, *Violation) {
	var a big.Int
	a.Abs(x)
	if !a.IsUint64() {
		return tooLarge()
	}
	return x.Sign() < 0, a.Uint64(), nil
}

// formatBits are the sizes of the integer formats.
var formatBits = map[string]uint{"int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}

// fitsFormat reports whether the integer is in the range of format; with
// no format, in that of int64 or of uint64.
func fitsFormat(neg bool, mag uint64, format string) bool {
	if neg && mag == 0 {
		neg = false
	}
	bits := formatBits[format]
	switch {
	case format == "":
		return !neg || mag <= 1<<63
	case bits == 0:
		return false
	case format[0] == 'u':
		return !neg && (bits == 64 || mag < 1<<bits)
	case neg:
		return mag <= 1<<(bits-1)
	}
	return mag < 1<<(bits-1)
}

type decimalStatus int

const (
	decimalOK decimalStatus = iota
	decimalNotNumber
	decimalNotIntegral
	decimalTooLarge // not below 2^64 in magnitude
)

// decimalInteger reads s, a number as JSON writes it, as an integer,
// exactly: no float64 stands in between, so 1e3 and 5.0 are integers and
// 9007199254740993 keeps its last digit.
func decimalInteger(s string) (neg bool, mag uint64, status decimalStatus) {
	digits := func(i int) int {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j
	}
	i := 0
	if i < len(s) && s[i] == '-' {
		neg, i = true, i+1
	}
	end := digits(i)
	whole := s[i:end]
	if whole == "" {
		return false, 0, decimalNotNumber
	}
	i = end
	var frac string
	if i < len(s) && s[i] == '.' {
		end = digits(i + 1)
		frac = s[i+1 : end]
		if frac == "" {
			return false, 0, decimalNotNumber
		}
		i = end
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		sign := 1
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			if s[i] == '-' {
				sign = -1
			}
			i++
		}
		end = digits(i)
		if end == i {
			return false, 0, decimalNotNumber
		}
		for _, d := range s[i:end] {
			if exp < 1e6 { // beyond, the answer no longer changes
				exp = exp*10 + int(d-'0')
			}
		}
		exp *= sign
		i = end
	}
	if i != len(s) {
		return false, 0, decimalNotNumber
	}
	// The digits are whole+frac, with the point after position point.
	n := len(whole) + len(frac)
	digit := func(k int) uint64 {
		switch {
		case k < len(whole):
			return uint64(whole[k] - '0')
		case k < n:
			return uint64(frac[k-len(whole)] - '0')
		}
		return 0
	}
	point := len(whole) + exp
	for k := max(point, 0); k < n; k++ {
		if digit(k) != 0 {
			return false, 0, decimalNotIntegral
		}
	}
	for k := 0; k < point; k++ {
		if k >= n && mag == 0 {
			break // zeros after zeros
		}
		d := digit(k)
		if mag > (math.MaxUint64-d)/10 {
			return false, 0, decimalTooLarge
		}
		mag = mag*10 + d
	}
	return neg && mag != 0, mag, decimalOK
}

func conformNumber(v any, s *Schema) (any, *Violation) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, violation("format", "%s is out of range for %s", describe(v), formatOr(s.Format, "a number"))
			}
			return nil, violation("type", "%s where number is required", describe(v))
		}
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case int:
		f = float64(x)
	default:
		return nil, violation("type", "%s where number is required", describe(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, violation("type", "%v where a finite number is required", f)
	}
	f32 := s.Format == "float"
	if f32 {
		if math.Abs(f) > math.MaxFloat32 {
			return nil, violation("format", "%v is out of range for float", f)
		}
		f = float64(float32(f))
	}
	b := bounds{minimum: s.Minimum, maximum: s.Maximum}
	show := strconv.FormatFloat(f, 'g', -1, 64)
	switch {
	case s.Minimum != nil && !(f >= atPrecision(*s.Minimum, f32)):
		return nil, b.below(show)
	case s.Maximum != nil && !(f <= atPrecision(*s.Maximum, f32)):
		return nil, b.above(show)
	case s.Enum != nil && !slices.ContainsFunc(s.Enum, func(e any) bool { return numberEquals(e, f) }):
		return nil, violation("enum", "%s is not one of %s", show, showEnum(s.Enum))
	}
	if f32 {
		return float32(f), nil
	}
	return f, nil
}

// numberEquals reports whether enum value e, of whatever numeric type a
// decoder gave it, is f.
func numberEquals(e any, f float64) bool {
	switch x := e.(type) {
	case float64:
		return x == f
	case uint64:
		return f >= 0 && f < two64 && f == math.Trunc(f) && uint64(f) == x
	case int64:
		return f >= -two63 && f < two63 && f == math.Trunc(f) && int64(f) == x
	}
	return false
}

func conformBytes(v any, s *Schema) (any, *Violation) {
	var b []byte
	switch x := v.(type) {
	case []byte: // from a CBOR decoder
		b = x
	case string:
		var err error
		if b, err = base64.StdEncoding.DecodeString(x); err != nil {
			// Padding is often left out; the bytes are the same.
			if b, err = base64.RawStdEncoding.DecodeString(x); err != nil {
				return nil, violation("contentEncoding", "%s is not base64", describe(v))
			}
		}
	default:
		return nil, violation("type", "%s where base64 text is required", describe(v))
	}
	r := newCountRule(s.MinLength, s.MaxLength, "Length")
	if viol := r.check(uint64(len(b))); viol != nil {
		return nil, viol
	}
	return b, nil
}

func conformString(v any, s *Schema) (any, *Violation) {
	str, ok := v.(string)
	if !ok {
		return nil, violation("type", "%s where string is required", describe(v))
	}
	if !utf8.ValidString(str) {
		return nil, violation("type", "text that is not UTF-8")
	}
	if s.Format == "date-time" {
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			return nil, violation("format", "%s is not an RFC 3339 date-time", quote(str))
		}
	}
	r := newCountRule(s.MinLength, s.MaxLength, "Length")
	if viol := r.check(uint64(utf8.RuneCountInString(str))); viol != nil {
		return nil, viol
	}
	if s.Pattern != "" {
		re, err := compiledPattern(s.Pattern)
		if err != nil {
			return nil, violation("pattern", "%q does not compile: %v", s.Pattern, err)
		}
		if !re.MatchString(str) {
			return nil, violation("pattern", "%s does not match %s", quote(str), s.Pattern)
		}
	}
	if s.Enum != nil && !slices.Contains(s.Enum, any(str)) {
		return nil, violation("enum", "%s is not one of %s", quote(str), showEnum(s.Enum))
	}
	return str, nil
}

// Patterns compiled for Conform, which sees the same few over and over.
// The cache is bounded: its patterns come from other peers' specs.
var (
	patternCache     sync.Map // string -> *regexp.Regexp
	patternsCached   atomic.Int64
	maxCachedPattern = int64(1024)
)

func compiledPattern(p string) (*regexp.Regexp, error) {
	if re, ok := patternCache.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	if patternsCached.Add(1) <= maxCachedPattern {
		patternCache.Store(p, re)
	}
	return re, nil
}
