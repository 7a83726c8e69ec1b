package spec

import (
	"fmt"
	"maps"
	"slices"
)

// Compare reports the first structural difference between two schemas, each
// read with its own definitions, as an error naming the path; nil when they
// describe the same values with the same conditions. Descriptions and the
// names of definitions do not count.
func Compare(a *Schema, aDefs map[string]*Schema, b *Schema, bDefs map[string]*Schema) error {
	c := comparison{aDefs: aDefs, bDefs: bDefs, seen: map[[2]string]bool{}}
	return c.compare(a, b, "")
}

type comparison struct {
	aDefs, bDefs map[string]*Schema
	seen         map[[2]string]bool // pairs of definitions being compared: recursion ends there
}

func (c *comparison) compare(a, b *Schema, path string) error {
	at := func(format string, args ...any) error {
		p := path
		if p == "" {
			p = "(top)"
		}
		return fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...))
	}
	if a == nil || b == nil {
		if a != b {
			return at("schema missing on one side")
		}
		return nil
	}
	if a.Nullable != b.Nullable {
		return at("optional %v vs %v", a.Nullable, b.Nullable)
	}
	ra, an, ok := resolve(a, c.aDefs)
	if !ok {
		return at("unresolved reference %s", a.Ref)
	}
	rb, bn, ok := resolve(b, c.bDefs)
	if !ok {
		return at("unresolved reference %s", b.Ref)
	}
	if an != "" && bn != "" {
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
		return at("format %q vs %q", a.Format, b.Format)
	case a.ContentEncoding != b.ContentEncoding:
		return at("contentEncoding %q vs %q", a.ContentEncoding, b.ContentEncoding)
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
		return at("pattern %q vs %q", a.Pattern, b.Pattern)
	case fmt.Sprint(a.Enum) != fmt.Sprint(b.Enum):
		return at("enum %v vs %v", a.Enum, b.Enum)
	}
	ra2, rb2 := slices.Sorted(slices.Values(a.Required)), slices.Sorted(slices.Values(b.Required))
	if !slices.Equal(ra2, rb2) {
		return at("required fields %v vs %v", ra2, rb2)
	}
	for _, name := range slices.Sorted(maps.Keys(a.Properties)) {
		bp, ok := b.Properties[name]
		if !ok {
			return at("field %q only on one side", name)
		}
		if err := c.compare(a.Properties[name], bp, join(path, name)); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.Properties)) {
		if _, ok := a.Properties[name]; !ok {
			return at("field %q only on one side", name)
		}
	}
	if err := c.compare(a.Items, b.Items, path+"[]"); err != nil {
		return err
	}
	return c.compare(a.AdditionalProperties, b.AdditionalProperties, path+"{}")
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func sameFloat(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
func sameCount(a, b *uint64) bool  { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func showFloat(f *float64) string {
	if f == nil {
		return "none"
	}
	return fmt.Sprint(*f)
}

func showCount(n *uint64) string {
	if n == nil {
		return "none"
	}
	return fmt.Sprint(*n)
}
