package spec

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Direction is which way a value travels between a caller and a server.
type Direction uint8

// The directions of a change; NoDirection is a change to the spec or to a
// method as a whole.
const (
	NoDirection Direction = iota
	Request
	Response
)

func (d Direction) String() string {
	switch d {
	case Request:
		return "request"
	case Response:
		return "response"
	}
	return ""
}

// Kind names a category of change, after buf breaking's rule names.
type Kind string

// The kinds of change Diff reports.
const (
	KindNameChanged        Kind = "name-changed"
	KindVersionChanged     Kind = "version-changed"
	KindDescriptionChanged Kind = "description-changed"
	KindMethodAdded        Kind = "method-added"
	KindMethodRemoved      Kind = "method-removed"
	KindMethodRenamed      Kind = "method-renamed"
	KindFieldAdded         Kind = "field-added"
	KindFieldRemoved       Kind = "field-removed"
	KindFieldRenamed       Kind = "field-renamed"
	KindRequiredChanged    Kind = "required-changed"
	KindNullableChanged    Kind = "nullable-changed"
	KindTypeChanged        Kind = "type-changed"
	KindConditionChanged   Kind = "condition-changed"
	KindUnresolved         Kind = "unresolved"
)

// Change is one difference between an old and a new spec, judged for the
// callers of the old one.
type Change struct {
	Kind      Kind
	Method    string    // "" for a change to the spec as a whole
	Direction Direction // NoDirection for a change to a method as a whole
	Path      string    // where in the request or response, "stations[].name"; "" at its root
	Keyword   string    // the schema keyword that differs (minimum, enum, type, …), if one does
	Old, New  string    // what each side has there, "none" when it has nothing
	Effect    string    // loosened, tightened, widened, narrowed, changed, added, removed, renamed
	Breaking  bool
	Why       string // what it means for existing callers

	hint string // for a local Go type checked against a remote spec: what to change locally
}

// String writes c on one line: its verdict, where it is, what changed and why.
func (c Change) String() string {
	verdict := "compatible"
	if c.Breaking {
		verdict = "breaking"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %s: ", verdict, c.Where())
	switch c.Kind {
	case KindMethodAdded, KindMethodRemoved, KindFieldAdded, KindFieldRemoved:
		fmt.Fprintf(&b, "%s", c.Effect)
	case KindMethodRenamed, KindFieldRenamed:
		fmt.Fprintf(&b, "renamed from %s to %s", c.Old, c.New)
	default:
		fmt.Fprintf(&b, "%s %s: old %s, new %s", c.Keyword, c.Effect, c.Old, c.New)
	}
	fmt.Fprintf(&b, " (%s)", c.Why)
	return b.String()
}

// Where names the place of c: "Nearest request lat", "Count", "spec".
func (c Change) Where() string {
	parts := []string{}
	if c.Method != "" {
		parts = append(parts, c.Method)
	} else {
		parts = append(parts, "spec")
	}
	if c.Direction != NoDirection {
		parts = append(parts, c.Direction.String())
	}
	if c.Path != "" {
		parts = append(parts, c.Path)
	}
	return strings.Join(parts, " ")
}

// Breaking reports whether any of changes breaks existing callers.
func Breaking(changes []Change) bool {
	return slices.ContainsFunc(changes, func(c Change) bool { return c.Breaking })
}

// Diff lists every change from old to new, each with its verdict for the
// callers of old: methods first (sorted by name), then, within a method,
// its request and its response walked depth first, fields by name. A
// definition shared by several places is walked once per direction, at
// the first place that reaches it. The rules are in the package
// documentation of papi, under Compatibility.
func Diff(old, new *Spec) []Change {
	d := &differ{oldDefs: old.Defs, newDefs: new.Defs, seen: map[seenKey]bool{}, docs: true}
	text := func(kind Kind, keyword, o, n string) {
		if o != n {
			d.add(Change{Kind: kind, Keyword: keyword, Old: show(o), New: show(n), Effect: "changed", Why: "callers do not depend on it"})
		}
	}
	text(KindNameChanged, "name", old.Name, new.Name)
	text(KindVersionChanged, "version", old.Version, new.Version)
	text(KindDescriptionChanged, "description", old.Description, new.Description)
	var removed, added []*Method
	for i := range old.Methods {
		if _, ok := methodNamed(new, old.Methods[i].Name); !ok {
			removed = append(removed, &old.Methods[i])
		}
	}
	for i := range new.Methods {
		if _, ok := methodNamed(old, new.Methods[i].Name); !ok {
			added = append(added, &new.Methods[i])
		}
	}
	// A method removed and another added that takes and gives the same is
	// one method under a new name: reported so, as a rename is what the
	// author will recognise, and it breaks callers all the same.
	renamedTo := map[string]string{}
	taken := map[string]bool{}
	for _, r := range removed {
		for _, a := range added {
			if !taken[a.Name] && sameMethod(old, new, r, a) {
				renamedTo[r.Name], taken[a.Name] = a.Name, true
				break
			}
		}
	}
	for _, name := range methodNames(old, new) {
		om, inOld := methodNamed(old, name)
		nm, inNew := methodNamed(new, name)
		switch {
		case inOld && inNew:
			d.method = name
			if om.Description != nm.Description {
				d.add(Change{Kind: KindDescriptionChanged, Keyword: "description", Old: show(om.Description), New: show(nm.Description), Effect: "changed", Why: "callers do not depend on it"})
			}
			d.dir = Request
			d.schema(om.Request, nm.Request, "", 0, goSide{})
			d.dir = Response
			d.schema(om.Response, nm.Response, "", 0, goSide{})
			d.dir = NoDirection
		case inOld && renamedTo[name] != "":
			d.method = name
			d.add(Change{Kind: KindMethodRenamed, Old: strconv.Quote(name), New: strconv.Quote(renamedTo[name]), Effect: "renamed", Breaking: true,
				Why: "callers call it by its old name and get unknown method"})
		case inOld:
			d.method = name
			d.add(Change{Kind: KindMethodRemoved, Effect: "method removed", Breaking: true, Why: "callers of it get unknown method"})
		case !taken[name]:
			d.method = name
			d.add(Change{Kind: KindMethodAdded, Effect: "method added", Why: "no existing caller uses it"})
		}
	}
	return d.changes
}

// methodNames is the sorted union of the method names of a and b.
func methodNames(a, b *Spec) []string {
	set := map[string]bool{}
	for _, m := range a.Methods {
		set[m.Name] = true
	}
	for _, m := range b.Methods {
		set[m.Name] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func methodNamed(s *Spec, name string) (*Method, bool) {
	i, ok := slices.BinarySearchFunc(s.Methods, name, func(m Method, n string) int { return strings.Compare(m.Name, n) })
	if ok {
		return &s.Methods[i], true
	}
	// Methods are sorted in a valid spec; a spec that is not still answers.
	for i := range s.Methods {
		if s.Methods[i].Name == name {
			return &s.Methods[i], true
		}
	}
	return nil, false
}

// sameMethod reports whether a (of old) and b (of new) take and give the
// same values, descriptions aside.
func sameMethod(old, new *Spec, a, b *Method) bool {
	return same(a.Request, old.Defs, b.Request, new.Defs) && same(a.Response, old.Defs, b.Response, new.Defs)
}

// same reports whether a and b describe the same values under the same
// conditions.
func same(a *Schema, aDefs map[string]*Schema, b *Schema, bDefs map[string]*Schema) bool {
	d := &differ{oldDefs: aDefs, newDefs: bDefs, seen: map[seenKey]bool{}, dir: Request, stop: true}
	d.schema(a, b, "", 0, goSide{})
	return len(d.changes) == 0
}

// CheckType reports whether a caller whose Go type for one direction of a
// method is t can talk to remote, the spec's schema for it (read with
// remoteDefs): the local type stands for the old spec and the remote for
// the new, and the change must not break the caller. What the server
// enforces anyway is accepted: a request type without the remote's
// conditions, with looser ones, with optional or nullable fields the remote
// requires, or with integers wider than the remote's, fails only when a
// value breaks them, with ErrPrecondition from the server. So is what a
// reader copes with: a response field the local type lacks is ignored, and
// a value or a required field where the remote may send null or nothing
// gets its zero value. The error names the path, the keyword and what each
// side has, "local …, remote …", and what to change in the local type.
func CheckType(t reflect.Type, dir Direction, remote *Schema, remoteDefs map[string]*Schema) error {
	b := NewBuilder()
	local, err := b.Schema(t)
	if err != nil {
		return err
	}
	d := &differ{oldDefs: b.Defs(), newDefs: remoteDefs, seen: map[seenKey]bool{}, dir: dir, check: true}
	d.schema(local, remote, "", 0, goRoot(t))
	for _, c := range d.changes {
		if c.Breaking {
			return checkError(c)
		}
	}
	return nil
}

// checkError writes a change found by CheckType in Compare's words.
func checkError(c Change) error {
	var msg string
	switch c.Kind {
	case KindFieldAdded:
		msg = fmt.Sprintf("field %s: remote has it, local does not", c.New)
	case KindFieldRemoved:
		msg = fmt.Sprintf("field %s: local has it, remote does not", c.Old)
	case KindRequiredChanged:
		msg = fmt.Sprintf("field %s: local %s, remote %s", strconv.Quote(c.Path[strings.LastIndexByte(c.Path, '.')+1:]), c.Old, c.New)
		if i := strings.LastIndexByte(c.Path, '.'); i >= 0 {
			msg = c.Path[:i] + ": " + msg
		}
		c.Path = ""
	default:
		msg = fmt.Sprintf("%s: local %s, remote %s", c.Keyword, c.Old, c.New)
	}
	if c.Path != "" {
		msg = c.Path + ": " + msg
	}
	if c.hint != "" {
		msg += "; " + c.hint
	}
	return errors.New(msg)
}

type seenKey struct {
	old, new string
	dir      Direction
}

// differ walks an old and a new schema side by side and collects changes.
type differ struct {
	oldDefs, newDefs map[string]*Schema
	seen             map[seenKey]bool // pairs of definitions walked or being walked, per direction: recursion ends there
	method           string
	dir              Direction
	docs             bool // report changed descriptions
	check            bool // old is a local Go type: hints, and what the server enforces is accepted
	stop             bool // only whether there is any change matters
	changes          []Change
}

func (d *differ) add(c Change) {
	if d.stop && len(d.changes) > 0 {
		return
	}
	c.Method = d.method
	if c.Direction == NoDirection {
		c.Direction = d.dir
	}
	d.changes = append(d.changes, c)
}

// effect is how a change moves the set of values a schema allows.
type effect uint8

const (
	widens  effect             = 1 << iota // every old value is still allowed, and more
	narrows                                // every new value was allowed before, and fewer are
	changes = widens | narrows             // neither contains the other
)

// judge fills in c's verdict from how it moves the set of values: a
// request may only accept more, as callers keep sending what the old spec
// allowed; a response may only give less, as callers expect only what the
// old spec allowed.
func (d *differ) judge(c Change, e effect) Change {
	if c.Kind == KindDescriptionChanged {
		c.Why = "callers do not depend on it"
		return c
	}
	switch d.dir {
	case Request:
		c.Breaking = e&narrows != 0
		if c.Breaking {
			c.Why = "callers may send values the new spec refuses"
		} else {
			c.Why = "the new spec accepts every request the old one did"
		}
	case Response:
		c.Breaking = e&widens != 0
		if c.Breaking {
			c.Why = "callers may get values the old spec did not allow"
		} else {
			c.Why = "every new response is one the old spec allowed"
		}
	}
	if c.Effect == "" {
		switch e {
		case widens:
			c.Effect = "loosened"
		case narrows:
			c.Effect = "tightened"
		default:
			c.Effect = "changed"
		}
	}
	return c
}

// accepted reports whether, checking a local type, a breaking change is
// one the server enforces or the reader copes with (see CheckType).
func (d *differ) accepted(c Change, e effect) bool {
	if !d.check {
		return false
	}
	switch d.dir {
	case Request:
		switch c.Kind {
		case KindConditionChanged, KindRequiredChanged, KindNullableChanged:
			return true
		case KindTypeChanged:
			// Another range of integers, or text where the remote wants a
			// date-time: the server's decoding refuses a value that does
			// not fit.
			return c.Keyword == "format"
		}
	case Response:
		switch c.Kind {
		case KindRequiredChanged, KindNullableChanged:
			return true
		}
	}
	return false
}

// change records c with the verdict e gives it.
func (d *differ) change(c Change, e effect) {
	c = d.judge(c, e)
	if c.Breaking && d.accepted(c, e) {
		return
	}
	if d.stop && !c.Breaking && c.Kind == KindDescriptionChanged {
		return
	}
	d.add(c)
}

// schema walks a (old) and b (new) at path; g is where the walk is in the
// local Go type, when old is one.
func (d *differ) schema(a, b *Schema, path string, depth int, g goSide) {
	if depth > maxCompareDepth {
		d.add(Change{Kind: KindUnresolved, Path: path, Keyword: "depth", Old: "?", New: "?", Effect: "unknown", Breaking: true,
			Why: fmt.Sprintf("nested deeper than %d", maxCompareDepth)})
		return
	}
	if a == nil || b == nil {
		if a != b {
			d.change(Change{Kind: KindTypeChanged, Path: path, Keyword: "schema", Old: present(a), New: present(b)}, changes)
		}
		return
	}
	if d.docs && a.Description != b.Description {
		d.change(Change{Kind: KindDescriptionChanged, Path: path, Keyword: "description", Old: show(a.Description), New: show(b.Description), Effect: "changed"}, 0)
	}
	ra, an, ok := resolve(a, d.oldDefs)
	if !ok {
		d.add(Change{Kind: KindUnresolved, Path: path, Keyword: "$ref", Old: a.Ref, New: "?", Effect: "does not resolve", Breaking: true, Why: "the old spec is not valid"})
		return
	}
	rb, bn, ok := resolve(b, d.newDefs)
	if !ok {
		d.add(Change{Kind: KindUnresolved, Path: path, Keyword: "$ref", Old: "?", New: b.Ref, Effect: "does not resolve", Breaking: true, Why: "the new spec is not valid"})
		return
	}
	if a.Nullable != b.Nullable {
		e := narrows
		if b.Nullable {
			e = widens
		}
		d.change(Change{Kind: KindNullableChanged, Path: path, Keyword: "nullable", Old: strconv.FormatBool(a.Nullable), New: strconv.FormatBool(b.Nullable),
			hint: d.hint(func() string { return nullableHint(b.Nullable, g, path) })}, e)
	}
	if an != "" && bn != "" {
		key := seenKey{an, bn, d.dir}
		if d.seen[key] {
			return
		}
		d.seen[key] = true
	}
	a, b = ra, rb
	if d.docs && (an != "" || bn != "") && a.Description != b.Description {
		d.change(Change{Kind: KindDescriptionChanged, Path: path, Keyword: "description", Old: show(a.Description), New: show(b.Description), Effect: "changed"}, 0)
	}
	if !d.types(a, b, path, g) {
		return
	}
	d.conditions(a, b, path, g)
	if a.Type == TypeObject && a.AdditionalProperties == nil {
		d.properties(a, b, path, depth, g)
	}
	if a.Items != nil || b.Items != nil {
		d.schema(a.Items, b.Items, path+"[]", depth+1, g.elem("[]"))
	}
	if a.AdditionalProperties != nil || b.AdditionalProperties != nil {
		d.schema(a.AdditionalProperties, b.AdditionalProperties, path+"{}", depth+1, g.elem("{}"))
	}
}

// hint is what to change locally, computed only when checking a local type.
func (d *differ) hint(f func() string) string {
	if !d.check {
		return ""
	}
	return f()
}

// types compares the types and formats of a and b, and reports whether
// the walk can go on into them: not when one is a map and the other an
// object, say, where their parts have nothing to do with each other.
func (d *differ) types(a, b *Schema, path string, g goSide) bool {
	retype := func() string { return "change " + g.name(path) + " to " + typePhrase(b, d.newDefs) }
	typeChange := func(keyword, o, n string, e effect) {
		d.change(Change{Kind: KindTypeChanged, Path: path, Keyword: keyword, Old: o, New: n, hint: d.hint(retype)}, e)
	}
	switch {
	case a.Type != b.Type:
		e := changes
		switch {
		case a.Type == TypeInteger && b.Type == TypeNumber:
			e = widens
		case a.Type == TypeNumber && b.Type == TypeInteger:
			e = narrows
		}
		typeChange("type", a.Type, b.Type, e)
		return e != changes
	case a.Type == TypeObject && (a.AdditionalProperties == nil) != (b.AdditionalProperties == nil):
		typeChange("type", objectKind(a), objectKind(b), changes)
		return false
	case a.ContentEncoding != b.ContentEncoding:
		typeChange("contentEncoding", show(a.ContentEncoding), show(b.ContentEncoding), changes)
		return false
	case a.Format != b.Format:
		if e := formatEffect(a.Type, a.Format, b.Format); e != 0 {
			typeChange("format", show(a.Format), show(b.Format), e)
		}
	}
	return true
}

// formatEffect is how a change of format moves the values of a type: an
// integer format is a range, a number's is its precision, and date-time
// is a kind of text.
func formatEffect(typ, a, b string) effect {
	switch typ {
	case TypeInteger:
		alo, ahi := integerRange(a)
		blo, bhi := integerRange(b)
		return rangeEffect(alo, ahi, blo, bhi)
	case TypeNumber:
		rank := map[string]int{"float": 0, "double": 1, "": 1}
		switch ra, rb := rank[a], rank[b]; {
		case ra < rb:
			return widens
		case ra > rb:
			return narrows
		}
		return 0
	case TypeString:
		switch {
		case a == "":
			return narrows // any text, now only date-times
		case b == "":
			return widens
		}
	}
	return changes
}

// integerRange is the range of an integer format; no format is any integer.
func integerRange(format string) (float64, float64) {
	bits := map[string]int{"int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}
	n, ok := bits[format]
	switch {
	case !ok:
		return math.Inf(-1), math.Inf(1)
	case strings.HasPrefix(format, "u"):
		return 0, math.Ldexp(1, n) - 1
	}
	return -math.Ldexp(1, n-1), math.Ldexp(1, n-1) - 1
}

// rangeEffect is how [blo, bhi] differs from [alo, ahi].
func rangeEffect(alo, ahi, blo, bhi float64) effect {
	var e effect
	if blo < alo || bhi > ahi {
		e |= widens
	}
	if blo > alo || bhi < ahi {
		e |= narrows
	}
	return e
}

// conditions compares the conditions of a and b. Values are written out
// only for a condition that differs: most do not, and formatting them all
// was most of what a diff of equal specs cost.
func (d *differ) conditions(a, b *Schema, path string, g goSide) {
	cond := func(keyword string, e effect, o, n func() string, tagValue func() string) {
		if e == 0 {
			return
		}
		ov, nv, tv := o(), n(), tagValue()
		d.change(Change{Kind: KindConditionChanged, Path: path, Keyword: keyword, Old: ov, New: nv,
			hint: d.hint(func() string { return tagHint(keyword, ov, nv, tv, b, g, path) })}, e)
	}
	float := func(v *float64) func() string { return func() string { return showFloat(v) } }
	count := func(v *uint64) func() string { return func() string { return showCount(v) } }
	cond("minimum", lowerBound(a.Minimum, b.Minimum), float(a.Minimum), float(b.Minimum), float(b.Minimum))
	cond("maximum", upperBound(a.Maximum, b.Maximum), float(a.Maximum), float(b.Maximum), float(b.Maximum))
	cond("minLength", lowerBound(countFloat(a.MinLength), countFloat(b.MinLength)), count(a.MinLength), count(b.MinLength), count(b.MinLength))
	cond("maxLength", upperBound(countFloat(a.MaxLength), countFloat(b.MaxLength)), count(a.MaxLength), count(b.MaxLength), count(b.MaxLength))
	cond("minItems", lowerBound(countFloat(a.MinItems), countFloat(b.MinItems)), count(a.MinItems), count(b.MinItems), count(b.MinItems))
	cond("maxItems", upperBound(countFloat(a.MaxItems), countFloat(b.MaxItems)), count(a.MaxItems), count(b.MaxItems), count(b.MaxItems))
	if a.Pattern != b.Pattern {
		// Whether one regular expression matches a subset of another's
		// language is not worth deciding: a changed pattern is both.
		e := changes
		switch {
		case a.Pattern == "":
			e = narrows
		case b.Pattern == "":
			e = widens
		}
		cond("pattern", e, func() string { return show(a.Pattern) }, func() string { return show(b.Pattern) }, func() string { return b.Pattern })
	}
	if a.Enum != nil || b.Enum != nil {
		cond("enum", enumEffect(a.Enum, b.Enum), func() string { return showEnum(a.Enum) }, func() string { return showEnum(b.Enum) }, func() string { return enumTag(b.Enum) })
	}
}

func countFloat(n *uint64) *float64 {
	if n == nil {
		return nil
	}
	f := float64(*n) // escapes only into lowerBound and upperBound, which keep nothing
	return &f
}

// lowerBound is how a minimum moving from a to b moves the values allowed.
func lowerBound(a, b *float64) effect {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return narrows
	case b == nil, *b < *a:
		return widens
	case *b > *a:
		return narrows
	}
	return 0
}

// upperBound is lowerBound for a maximum.
func upperBound(a, b *float64) effect {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return narrows
	case b == nil, *b > *a:
		return widens
	case *b < *a:
		return narrows
	}
	return 0
}

// enumEffect is how the values allowed move from enum a to enum b; no enum
// allows any value.
func enumEffect(a, b []any) effect {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return narrows
	case b == nil:
		return widens
	}
	keys := func(e []any) map[[2]string]bool {
		m := make(map[[2]string]bool, len(e))
		for _, v := range e {
			k, t := enumKey(v)
			m[[2]string{k, t}] = true
		}
		return m
	}
	ka, kb := keys(a), keys(b)
	var e effect
	for k := range kb {
		if !ka[k] {
			e |= widens
		}
	}
	for k := range ka {
		if !kb[k] {
			e |= narrows
		}
	}
	return e
}

// properties compares the fields of two objects.
func (d *differ) properties(a, b *Schema, path string, depth int, g goSide) {
	var fields map[string]goSide
	if d.check && len(a.Properties) > 0 {
		fields = g.properties()
	}
	oldOnly, newOnly := onlyIn(a.Properties, b.Properties), onlyIn(b.Properties, a.Properties)
	renamed := map[string]string{} // old name -> new name
	if !d.check {
		taken := map[string]bool{}
		for _, o := range oldOnly {
			for _, n := range newOnly {
				if !taken[n] && slices.Contains(a.Required, o) == slices.Contains(b.Required, n) &&
					same(a.Properties[o], d.oldDefs, b.Properties[n], d.newDefs) {
					renamed[o], taken[n] = n, true
					break
				}
			}
		}
		newOnly = slices.DeleteFunc(newOnly, func(n string) bool { return taken[n] })
	}
	for i, name := range oldOnly {
		required := slices.Contains(a.Required, name)
		if to, ok := renamed[name]; ok {
			why := "callers send the old name, which the new spec does not know"
			if d.dir == Response {
				why = "callers look for the old name and find nothing"
			}
			d.add(Change{Kind: KindFieldRenamed, Path: join(path, to), Old: strconv.Quote(name), New: strconv.Quote(to), Effect: "renamed", Breaking: true, Why: why})
			continue
		}
		c := Change{Kind: KindFieldRemoved, Path: join(path, name), Old: strconv.Quote(name), New: "none", Effect: "field removed"}
		switch {
		case d.dir == Request:
			c.Breaking, c.Why = true, "callers still send it, and the new spec has no such field"
		case required:
			c.Breaking, c.Why = true, "callers expect it in every response"
		default:
			c.Why = "it was optional: callers already cope without it"
		}
		if c.Breaking && d.check {
			c.Path = path
			c.hint = missingHint(name, newOnly, fields[name], path)
			if more := caseOnly(oldOnly[i+1:], newOnly); len(more) > 0 {
				c.hint += ", and likewise " + quoteAll(more)
			}
		}
		d.add(c)
	}
	for _, name := range newOnly {
		required := slices.Contains(b.Required, name)
		c := Change{Kind: KindFieldAdded, Path: join(path, name), Old: "none", New: strconv.Quote(name)}
		switch {
		case d.dir == Response:
			c.Effect, c.Why = "field added", "callers ignore fields they do not know"
		case required:
			c.Effect, c.Breaking, c.Why = "required field added", true, "callers do not send it"
		default:
			c.Effect, c.Why = "optional field added", "callers may leave it out"
		}
		if c.Breaking && d.check {
			c.Path = path
			c.hint = fmt.Sprintf("add a field of type %s tagged cbor:%q to %s", goTypeOf(b.Properties[name], d.newDefs, true), name, g.name(path))
		}
		d.add(c)
	}
	for _, name := range slices.Sorted(maps.Keys(a.Properties)) {
		bs, ok := b.Properties[name]
		if !ok {
			continue
		}
		fpath := join(path, name)
		if ra, rb := slices.Contains(a.Required, name), slices.Contains(b.Required, name); ra != rb {
			e := widens
			if rb {
				e = narrows
			}
			d.change(Change{Kind: KindRequiredChanged, Path: fpath, Keyword: "required", Old: requiredness(ra), New: requiredness(rb),
				hint: d.hint(func() string { return requiredHint(rb, fields[name], fpath) })}, e)
		}
		d.schema(a.Properties[name], bs, fpath, depth+1, fields[name])
	}
}
