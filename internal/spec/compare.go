package spec

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Compare reports the first structural difference between schema a, read
// with definitions aDefs, and schema b, read with bDefs: an error whose text
// names the path, as in `stations[].name: type string vs integer` (a's
// first) or `field "limit" missing` (a has it, b does not). It is nil when
// the two describe the same values under the same conditions. $refs are
// followed on both sides, so the names of definitions do not count, and
// neither do descriptions nor the order of required fields.
func Compare(a *Schema, aDefs map[string]*Schema, b *Schema, bDefs map[string]*Schema) error {
	c := comparison{aDefs: aDefs, bDefs: bDefs, seen: map[[2]string]bool{}}
	return c.compare(a, b, "", 0)
}

type comparison struct {
	aDefs, bDefs map[string]*Schema
	seen         map[[2]string]bool // pairs of definitions compared or being compared: recursion ends there
}

// maxCompareDepth bounds the walk through references. Each schema is at
// most maxDepth deep (Validate), but following $refs can go deeper in a
// legitimate spec.
const maxCompareDepth = 16 * maxDepth

func (c *comparison) compare(a, b *Schema, path string, depth int) error {
	at := func(format string, args ...any) error {
		if path == "" {
			return fmt.Errorf(format, args...)
		}
		return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
	if depth > maxCompareDepth {
		return at("nested deeper than %d", maxCompareDepth)
	}
	if a == nil || b == nil {
		if a != b {
			return at("schema %s vs %s", present(a), present(b))
		}
		return nil
	}
	if a.Nullable != b.Nullable {
		return at("nullable %v vs %v", a.Nullable, b.Nullable)
	}
	ra, an, ok := resolve(a, c.aDefs)
	if !ok {
		return at("reference %s does not resolve in the first", a.Ref)
	}
	rb, bn, ok := resolve(b, c.bDefs)
	if !ok {
		return at("reference %s does not resolve in the second", b.Ref)
	}
	if an != "" && bn != "" {
		// Two definitions already being compared: the walk that started
		// it will find any difference.
		key := [2]string{an, bn}
		if c.seen[key] {
			return nil
		}
		c.seen[key] = true
	}
	a, b = ra, rb
	switch {
	case a.Type != b.Type:
		return at("type %s vs %s", a.Type, b.Type)
	case a.Format != b.Format:
		return at("format %s vs %s", show(a.Format), show(b.Format))
	case a.ContentEncoding != b.ContentEncoding:
		return at("contentEncoding %s vs %s", show(a.ContentEncoding), show(b.ContentEncoding))
	case !sameFloat(a.Minimum, b.Minimum):
		return at("minimum %s vs %s", showFloat(a.Minimum), showFloat(b.Minimum))
	case !sameFloat(a.Maximum, b.Maximum):
		return at("maximum %s vs %s", showFloat(a.Maximum), showFloat(b.Maximum))
	case !sameCount(a.MinLength, b.MinLength):
		return at("minLength %s vs %s", showCount(a.MinLength), showCount(b.MinLength))
	case !sameCount(a.MaxLength, b.MaxLength):
		return at("maxLength %s vs %s", showCount(a.MaxLength), showCount(b.MaxLength))
	case !sameCount(a.MinItems, b.MinItems):
		return at("minItems %s vs %s", showCount(a.MinItems), showCount(b.MinItems))
	case !sameCount(a.MaxItems, b.MaxItems):
		return at("maxItems %s vs %s", showCount(a.MaxItems), showCount(b.MaxItems))
	case a.Pattern != b.Pattern:
		return at("pattern %s vs %s", show(a.Pattern), show(b.Pattern))
	case !sameEnum(a.Enum, b.Enum):
		return at("enum %s vs %s", showEnum(a.Enum), showEnum(b.Enum))
	}
	for _, name := range slices.Sorted(maps.Keys(a.Properties)) {
		if _, ok := b.Properties[name]; !ok {
			return at("field %q missing", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.Properties)) {
		if _, ok := a.Properties[name]; !ok {
			return at("field %q added", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.Properties)) {
		if err := c.compare(a.Properties[name], b.Properties[name], join(path, name), depth+1); err != nil {
			return err
		}
	}
	// Required is in declaration order, which does not change what is sent.
	for _, name := range slices.Sorted(maps.Keys(a.Properties)) {
		if ra, rb := slices.Contains(a.Required, name), slices.Contains(b.Required, name); ra != rb {
			return at("field %q required %v vs %v", name, ra, rb)
		}
	}
	if err := c.compare(a.Items, b.Items, path+"[]", depth+1); err != nil {
		return err
	}
	return c.compare(a.AdditionalProperties, b.AdditionalProperties, path+"{}", depth+1)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func present(s *Schema) string {
	if s == nil {
		return "none"
	}
	return "present"
}

func show(s string) string {
	if s == "" {
		return "none"
	}
	return strconv.Quote(s)
}

func sameFloat(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
func sameCount(a, b *uint64) bool  { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func showFloat(f *float64) string {
	if f == nil {
		return "none"
	}
	return strconv.FormatFloat(*f, 'g', -1, 64)
}

func showCount(n *uint64) string {
	if n == nil {
		return "none"
	}
	return strconv.FormatUint(*n, 10)
}

// sameEnum compares enum values as the values they stand for: the integer
// 5 is the same whether a decoder made it an int64 or a uint64.
func sameEnum(a, b []any) bool {
	return slices.EqualFunc(a, b, func(x, y any) bool {
		kx, vx := enumKey(x)
		ky, vy := enumKey(y)
		return kx == ky && vx == vy
	})
}

// enumKey is an enum value's kind and a canonical text of it.
func enumKey(v any) (string, string) {
	switch x := v.(type) {
	case string:
		return "string", x
	case int64:
		return "integer", strconv.FormatInt(x, 10)
	case uint64:
		return "integer", strconv.FormatUint(x, 10)
	case int:
		return "integer", strconv.Itoa(x)
	case float64:
		return "number", strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return "number", strconv.FormatFloat(float64(x), 'g', -1, 64)
	}
	return fmt.Sprintf("%T", v), fmt.Sprint(v)
}

func showEnum(e []any) string {
	if e == nil {
		return "none"
	}
	parts := make([]string, len(e))
	for i, v := range e {
		kind, text := enumKey(v)
		if kind == "string" {
			text = strconv.Quote(text)
		}
		parts[i] = text
	}
	return "[" + strings.Join(parts, " ") + "]"
}
