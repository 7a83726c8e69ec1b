package spec

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Compare reports the first structural difference between local, the
// schema of the caller's own types read with definitions localDefs, and
// remote, the schema they must match (a remote peer's spec, or the spec of a
// bundle being served), read with remoteDefs. The error names the path, the
// keyword and what each side has, and says what to change on the local
// side, which is the one a programmer can change:
//
//	lat: minimum: local none, remote -90; add minimum=-90 to the papi tag of the local field
//
// It is nil when the two describe the same values under the same
// conditions. $refs are followed on both sides, so the names of definitions
// do not count, and neither do descriptions nor the order of required
// fields. CompareType names Go fields in its hints; Compare, which sees
// schemas only, cannot.
func Compare(local *Schema, localDefs map[string]*Schema, remote *Schema, remoteDefs map[string]*Schema) error {
	c := comparison{aDefs: localDefs, bDefs: remoteDefs, seen: map[[2]string]bool{}}
	return c.compare(local, remote, "", 0, goSide{})
}

// CompareType is Compare for the schema of Go type t, derived as
// Builder.Schema does, against remote. Its hints name the Go field to
// change, `tag the Go field NearestReq.Lat cbor:"lat"`. A type that has no
// schema is an error naming the field, as from Builder.Schema.
func CompareType(t reflect.Type, remote *Schema, remoteDefs map[string]*Schema) error {
	b := NewBuilder()
	local, err := b.Schema(t)
	if err != nil {
		return err
	}
	c := comparison{aDefs: b.Defs(), bDefs: remoteDefs, seen: map[[2]string]bool{}}
	return c.compare(local, remote, "", 0, goRoot(t))
}

type comparison struct {
	aDefs, bDefs map[string]*Schema // local, remote
	seen         map[[2]string]bool // pairs of definitions compared or being compared: recursion ends there
}

// goSide is the place in the local Go type that the walk has reached, so
// that a hint can name the Go field to change. It is zero when only
// schemas are known, or when the walk left what the Go type describes.
type goSide struct {
	t     reflect.Type // pointers removed
	path  string       // "NearestReq.Stations[].Name", as in derivation errors
	field *field       // the struct field here; nil at the root and for items and map values
}

func goRoot(t reflect.Type) goSide {
	return goSide{t: deref(t), path: typeLabel(t)}
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// properties returns the places of the fields of g's struct, by wire
// name; nil when g is no struct.
func (g goSide) properties() map[string]goSide {
	if g.t == nil || classOf(g.t) != classStruct {
		return nil
	}
	fields, _ := structFields(g.t)
	out := make(map[string]goSide, len(fields))
	for i := range fields {
		f := &fields[i]
		out[f.name] = goSide{t: deref(f.typ), path: g.path + "." + f.goPath, field: f}
	}
	return out
}

// elem is the place of g's items ("[]") or map values ("{}").
func (g goSide) elem(suffix string) goSide {
	if g.t == nil {
		return goSide{}
	}
	switch classOf(g.t) {
	case classArray, classMap:
		return goSide{t: deref(g.t.Elem()), path: g.path + suffix}
	}
	return goSide{}
}

// name is how a hint names the local place: its Go path when known.
func (g goSide) name(path string) string {
	switch {
	case g.path != "" && g.field != nil:
		return "the Go field " + g.path
	case g.path != "":
		return "the Go type " + g.path
	case path == "":
		return "the local type"
	case strings.HasSuffix(path, "[]") || strings.HasSuffix(path, "{}"):
		return "the local items"
	}
	return "the local field"
}

// maxCompareDepth bounds the walk through references. Each schema is at
// most maxDepth deep (Validate), but following $refs can go deeper in a
// legitimate spec.
const maxCompareDepth = 16 * maxDepth

// compare compares a (local) with b (remote) at path; g is where the walk
// is in the local Go type, if known.
func (c *comparison) compare(a, b *Schema, path string, depth int, g goSide) error {
	at := func(format string, args ...any) error {
		if path == "" {
			return fmt.Errorf(format, args...)
		}
		return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
	// differ reports a keyword whose values differ, with what to change.
	differ := func(keyword, local, remote, hint string) error {
		if hint == "" {
			return at("%s: local %s, remote %s", keyword, local, remote)
		}
		return at("%s: local %s, remote %s; %s", keyword, local, remote, hint)
	}
	if depth > maxCompareDepth {
		return at("nested deeper than %d", maxCompareDepth)
	}
	if a == nil || b == nil {
		if a != b {
			return differ("schema", present(a), present(b), "")
		}
		return nil
	}
	ra, an, ok := resolve(a, c.aDefs)
	if !ok {
		return at("local reference %s does not resolve", a.Ref)
	}
	rb, bn, ok := resolve(b, c.bDefs)
	if !ok {
		return at("remote reference %s does not resolve", b.Ref)
	}
	if a.Nullable != b.Nullable {
		return differ("nullable", strconv.FormatBool(a.Nullable), strconv.FormatBool(b.Nullable), nullableHint(b.Nullable, g, path))
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
	retype := func() string { return "change " + g.name(path) + " to " + typePhrase(b, c.bDefs) }
	condition := func(keyword, local, remote, tagValue string) error {
		return differ(keyword, local, remote, tagHint(keyword, local, remote, tagValue, b, g, path))
	}
	switch {
	case a.Type != b.Type:
		return differ("type", a.Type, b.Type, retype())
	case a.Type == TypeObject && (a.AdditionalProperties == nil) != (b.AdditionalProperties == nil):
		return differ("type", objectKind(a), objectKind(b), retype())
	case a.Format != b.Format:
		return differ("format", show(a.Format), show(b.Format), retype())
	case a.ContentEncoding != b.ContentEncoding:
		return differ("contentEncoding", show(a.ContentEncoding), show(b.ContentEncoding), retype())
	case !sameFloat(a.Minimum, b.Minimum):
		return condition("minimum", showFloat(a.Minimum), showFloat(b.Minimum), showFloat(b.Minimum))
	case !sameFloat(a.Maximum, b.Maximum):
		return condition("maximum", showFloat(a.Maximum), showFloat(b.Maximum), showFloat(b.Maximum))
	case !sameCount(a.MinLength, b.MinLength):
		return condition("minLength", showCount(a.MinLength), showCount(b.MinLength), showCount(b.MinLength))
	case !sameCount(a.MaxLength, b.MaxLength):
		return condition("maxLength", showCount(a.MaxLength), showCount(b.MaxLength), showCount(b.MaxLength))
	case !sameCount(a.MinItems, b.MinItems):
		return condition("minItems", showCount(a.MinItems), showCount(b.MinItems), showCount(b.MinItems))
	case !sameCount(a.MaxItems, b.MaxItems):
		return condition("maxItems", showCount(a.MaxItems), showCount(b.MaxItems), showCount(b.MaxItems))
	case a.Pattern != b.Pattern:
		return condition("pattern", show(a.Pattern), show(b.Pattern), b.Pattern)
	case !sameEnum(a.Enum, b.Enum):
		return condition("enum", showEnum(a.Enum), showEnum(b.Enum), enumTag(b.Enum))
	}
	var fields map[string]goSide
	if len(a.Properties) > 0 {
		fields = g.properties()
	}
	localOnly, remoteOnly := onlyIn(a.Properties, b.Properties), onlyIn(b.Properties, a.Properties)
	if len(localOnly) > 0 {
		name := localOnly[0]
		hint := missingHint(name, remoteOnly, fields[name], path)
		if more := caseOnly(localOnly[1:], remoteOnly); len(more) > 0 {
			hint += ", and likewise " + quoteAll(more)
		}
		return at("field %q: local has it, remote does not; %s", name, hint)
	}
	if len(remoteOnly) > 0 {
		name := remoteOnly[0]
		return at("field %q: remote has it, local does not; add a field of type %s tagged cbor:%q to %s",
			name, goTypeOf(b.Properties[name], c.bDefs, true), name, g.name(path))
	}
	for _, name := range slices.Sorted(maps.Keys(a.Properties)) {
		if err := c.compare(a.Properties[name], b.Properties[name], join(path, name), depth+1, fields[name]); err != nil {
			return err
		}
	}
	// Required is in declaration order, which does not change what is sent.
	for _, name := range slices.Sorted(maps.Keys(a.Properties)) {
		if ra, rb := slices.Contains(a.Required, name), slices.Contains(b.Required, name); ra != rb {
			return at("field %q: local %s, remote %s; %s", name, requiredness(ra), requiredness(rb), requiredHint(rb, fields[name], join(path, name)))
		}
	}
	if err := c.compare(a.Items, b.Items, path+"[]", depth+1, g.elem("[]")); err != nil {
		return err
	}
	return c.compare(a.AdditionalProperties, b.AdditionalProperties, path+"{}", depth+1, g.elem("{}"))
}

// onlyIn returns the names of x that y lacks, sorted.
func onlyIn(x, y map[string]*Schema) []string {
	var out []string
	for name := range x {
		if _, ok := y[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func requiredness(required bool) string {
	if required {
		return "required"
	}
	return "optional"
}

func objectKind(s *Schema) string {
	if s.AdditionalProperties != nil {
		return "map"
	}
	return "object with fields"
}

// missingHint says what to do about a local field the remote lacks: most
// often it is a remote field under another name, and a name that differs
// only in case is what an untagged Go field makes of a lower-case wire name.
func missingHint(name string, remoteOnly []string, g goSide, path string) string {
	field := g.name(join(path, name))
	for _, r := range remoteOnly {
		if strings.EqualFold(r, name) {
			return fmt.Sprintf("remote has %q: tag %s cbor:%q", r, field, r)
		}
	}
	if len(remoteOnly) > 0 {
		return fmt.Sprintf("remote has %s instead: rename %s with a cbor tag, or remove it", quoteAll(remoteOnly), field)
	}
	return "remove " + field + ", or tag it cbor:\"-\""
}

// caseOnly returns the names of local that differ from a name of remote
// only in case.
func caseOnly(local, remote []string) []string {
	var out []string
	for _, l := range local {
		if slices.ContainsFunc(remote, func(r string) bool { return strings.EqualFold(l, r) }) {
			out = append(out, l)
		}
	}
	return out
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// requiredHint says how to make a local field required (always sent) or
// optional (may be left out), as the remote has it.
func requiredHint(remoteRequired bool, g goSide, path string) string {
	field := g.name(path)
	f := g.field
	if remoteRequired {
		switch {
		case f == nil:
			return "make " + field + " always sent: no pointer, no omitempty"
		case f.omit:
			return "remove omitempty (or omitzero) from the cbor tag of " + field
		case f.viaPtr:
			return "embed the struct holding " + field + " by value, not by pointer"
		}
		return "make " + field + ` no pointer, or tag it papi:"required"`
	}
	if f != nil {
		if c, err := fieldConditions(f); err == nil && c.required {
			return "remove required from the papi tag of " + field
		}
	}
	return "add omitempty to the cbor tag of " + field + ", or make it a pointer"
}

// nullableHint says how to make a local value nullable or not.
func nullableHint(remoteNullable bool, g goSide, path string) string {
	field := g.name(path)
	if remoteNullable {
		return "make " + field + " a pointer"
	}
	if g.field != nil && g.field.typ.Kind() == reflect.Pointer {
		return "make " + field + ` no pointer, or tag it papi:"required"`
	}
	return "make " + field + " no pointer"
}

// tagHint says how to change a condition in the local papi tag to the
// remote's: local and remote are the values shown ("none" when absent),
// tagValue the remote's as a tag writes it, remoteSchema where it is.
func tagHint(keyword, local, remote, tagValue string, remoteSchema *Schema, g goSide, path string) string {
	if g.field == nil && (path == "" || strings.HasSuffix(path, "[]") || strings.HasSuffix(path, "{}")) {
		// Conditions come from field tags: nothing local can hold one on
		// a type itself, on items or on map values.
		return "no papi tag can put a condition here: wrap the value in a struct field"
	}
	field := g.name(path)
	if g.t != nil && g.t.Kind() == reflect.Array && keyword != "minimum" && keyword != "maximum" {
		// A Go array's length is part of its type and fixes both bounds,
		// which no tag can change.
		lo, hi := remoteSchema.MinItems, remoteSchema.MaxItems
		if remoteSchema.ContentEncoding != "" {
			lo, hi = remoteSchema.MinLength, remoteSchema.MaxLength
		}
		if lo != nil && hi != nil && *lo == *hi {
			return fmt.Sprintf("change %s to an array of length %d", field, *lo)
		}
		return "change " + field + " to a slice"
	}
	item := keyword + "=" + tagValue
	if keyword == "pattern" {
		item += " (last in the tag)"
	}
	switch {
	case local == "none":
		return "add " + item + " to the papi tag of " + field
	case remote == "none":
		return "remove " + keyword + " from the papi tag of " + field
	}
	return "set " + item + " in the papi tag of " + field
}

// enumTag writes enum values as a papi tag does: a|b|c.
func enumTag(e []any) string {
	parts := make([]string, len(e))
	for i, v := range e {
		_, parts[i] = enumKey(v)
	}
	return strings.Join(parts, "|")
}

// typePhrase says what Go type to use for s: "type float64", or "a struct
// with fields "lat", "lon"".
func typePhrase(s *Schema, defs map[string]*Schema) string {
	if s.Type == TypeObject && s.AdditionalProperties == nil && s.Ref == "" && len(s.Properties) > 0 {
		return "a struct with fields " + quoteAll(slices.Sorted(maps.Keys(s.Properties)))
	}
	return "type " + goTypeOf(s, defs, false)
}

// goTypeOf names a Go type whose values s describes, for a hint. With
// nullable, a nullable schema is a pointer.
func goTypeOf(s *Schema, defs map[string]*Schema, nullable bool) string {
	if s == nil {
		return "?"
	}
	prefix := ""
	if nullable && s.Nullable && s.Format != "date-time" {
		prefix = "*"
	}
	if name := s.RefName(); name != "" {
		return prefix + name
	}
	switch s.Type {
	case TypeBoolean:
		return prefix + "bool"
	case TypeInteger:
		return prefix + formatOr(s.Format, "int64")
	case TypeNumber:
		if s.Format == "float" {
			return prefix + "float32"
		}
		return prefix + "float64"
	case TypeString:
		switch {
		case s.ContentEncoding != "":
			return prefix + "[]byte"
		case s.Format == "date-time":
			return "time.Time"
		}
		return prefix + "string"
	case TypeArray:
		return prefix + "[]" + goTypeOf(s.Items, defs, true)
	case TypeObject:
		if s.AdditionalProperties != nil {
			return prefix + "map[string]" + goTypeOf(s.AdditionalProperties, defs, true)
		}
		if len(s.Properties) == 0 {
			return prefix + "struct{}"
		}
		return prefix + "struct{" + strings.Join(slices.Sorted(maps.Keys(s.Properties)), ", ") + "}"
	}
	return prefix + s.Type
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
