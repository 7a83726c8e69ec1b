package spec

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Conform converts v, as decoded from JSON (with json.Decoder.UseNumber) or
// from CBOR into an any, into the value s describes, ready to be encoded as
// CBOR: numbers become integers where s says integer, base64 text becomes
// bytes. It checks every condition on the way and refuses unknown fields and
// missing required ones; errors are *Violation naming the path.
func Conform(v any, s *Schema, defs map[string]*Schema) (any, error) {
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
	if depth > maxSchemaDepth {
		return nil, violation("depth", "nested deeper than %d", maxSchemaDepth)
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
			return nil, violation("type", "%T where boolean is required", v)
		}
		return b, nil
	case TypeInteger:
		return conformInteger(v, s)
	case TypeNumber:
		f, ok := toFloat(v)
		if !ok {
			return nil, violation("type", "%v where number is required", v)
		}
		if viol := checkRange(f, s); viol != nil {
			return nil, viol
		}
		if s.Enum != nil && !slices.ContainsFunc(s.Enum, func(e any) bool { g, _ := toFloat(e); return g == f }) {
			return nil, violation("enum", "%v is not one of %v", f, s.Enum)
		}
		if s.Format == "float" {
			return float32(f), nil
		}
		return f, nil
	case TypeString:
		return conformString(v, s)
	case TypeArray:
		list, ok := v.([]any)
		if !ok {
			return nil, violation("type", "%T where array is required", v)
		}
		if viol := checkCount("Items", uint64(len(list)), s.MinItems, s.MaxItems); viol != nil {
			return nil, viol
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
	case TypeObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, violation("type", "%T where object is required", v)
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			sub := s.Properties[k]
			if sub == nil {
				sub = s.AdditionalProperties
			}
			if sub == nil {
				return nil, (&Violation{Rule: "additionalProperties", Detail: "unknown field"}).under(k)
			}
			c, viol := conform(e, sub, defs, depth+1)
			if viol != nil {
				if s.AdditionalProperties != nil && s.Properties[k] == nil {
					return nil, viol.under("[" + strconv.Quote(k) + "]")
				}
				return nil, viol.under(k)
			}
			out[k] = c
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				return nil, (&Violation{Rule: "required", Detail: "missing"}).under(r)
			}
		}
		return out, nil
	}
	return nil, violation("type", "unknown schema type %q", s.Type)
}

func typeName(s *Schema) string {
	if s.Ref != "" {
		return s.RefName()
	}
	return s.Type
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

var integerRanges = map[string][2]float64{
	"int8": {math.MinInt8, math.MaxInt8}, "int16": {math.MinInt16, math.MaxInt16}, "int32": {math.MinInt32, math.MaxInt32},
	"int64": {math.MinInt64, math.MaxInt64}, "uint8": {0, math.MaxUint8}, "uint16": {0, math.MaxUint16},
	"uint32": {0, math.MaxUint32}, "uint64": {0, math.MaxUint64},
}

func conformInteger(v any, s *Schema) (any, *Violation) {
	var n int64
	var u uint64
	negative := false
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			n, negative = i, i < 0
			u = uint64(i)
		} else if p, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			u = p
			n = math.MaxInt64 // only compared when not negative
		} else {
			return nil, violation("type", "%s is not an integer", x)
		}
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return nil, violation("type", "%v is not an integer", x)
		}
		n, negative, u = int64(x), x < 0, uint64(int64(x))
	case int64:
		n, negative, u = x, x < 0, uint64(x)
	case uint64:
		u, n = x, math.MaxInt64
	default:
		return nil, violation("type", "%T where integer is required", v)
	}
	f := float64(u)
	if negative {
		f = float64(n)
	}
	if r, ok := integerRanges[s.Format]; ok && (f < r[0] || f > r[1]) {
		return nil, violation("format", "%v is out of range for %s", v, s.Format)
	}
	if viol := checkRange(f, s); viol != nil {
		return nil, viol
	}
	if s.Enum != nil && !slices.ContainsFunc(s.Enum, func(e any) bool { g, _ := toFloat(e); return g == f }) {
		return nil, violation("enum", "%v is not one of %v", v, s.Enum)
	}
	if negative {
		return n, nil
	}
	return u, nil
}

func conformString(v any, s *Schema) (any, *Violation) {
	if s.ContentEncoding == "base64" {
		switch x := v.(type) {
		case []byte:
			return x, checkCount("Length", uint64(len(x)), s.MinLength, s.MaxLength)
		case string:
			b, err := base64.StdEncoding.DecodeString(x)
			if err != nil {
				return nil, violation("contentEncoding", "not base64: %v", err)
			}
			if viol := checkCount("Length", uint64(len(b)), s.MinLength, s.MaxLength); viol != nil {
				return nil, viol
			}
			return b, nil
		}
		return nil, violation("type", "%T where base64 bytes are required", v)
	}
	str, ok := v.(string)
	if !ok {
		return nil, violation("type", "%T where string is required", v)
	}
	if s.Format == "date-time" {
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			return nil, violation("format", "%q is not an RFC 3339 date-time", str)
		}
	}
	if viol := checkCount("Length", uint64(utf8.RuneCountInString(str)), s.MinLength, s.MaxLength); viol != nil {
		return nil, viol
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil || !re.MatchString(str) {
			return nil, violation("pattern", "%q does not match %s", str, s.Pattern)
		}
	}
	if s.Enum != nil && !slices.Contains(s.Enum, any(str)) {
		return nil, violation("enum", "%q is not one of %v", str, s.Enum)
	}
	return str, nil
}

func checkRange(f float64, s *Schema) *Violation {
	if s.Minimum != nil && !(f >= *s.Minimum) {
		return violation("minimum", "%v < %v", f, *s.Minimum)
	}
	if s.Maximum != nil && !(f <= *s.Maximum) {
		return violation("maximum", "%v > %v", f, *s.Maximum)
	}
	return nil
}

func checkCount(what string, n uint64, lo, hi *uint64) *Violation {
	if lo != nil && n < *lo {
		return violation("min"+what, "%d < %d", n, *lo)
	}
	if hi != nil && n > *hi {
		return violation("max"+what, "%d > %d", n, *hi)
	}
	return nil
}
