package gen

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	"go/token"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// GoOptions are what Go asks besides the API.
type GoOptions struct {
	// Package is the package clause's name; empty: the API's name, lower
	// case, as packageName makes it.
	Package string
	// APIHash is the API hash of the spec, written in the header and as
	// the constant APIHash; empty leaves both out.
	APIHash string
}

// maxFixed is the largest length written as a Go array: past it a field
// is a slice with lengths in its papi tag, which describes the same values,
// rather than a value of that size.
const maxFixed = 1 << 16

// Go returns the source of a Go file, gofmt'ed, that declares a type for
// each definition of api and a client with a method per method of api,
// calling papi.Call with those types. Deriving a spec from the types gives
// api's schemas back: the same fields and names, the same required list in
// the same order, the same conditions. What Go types cannot carry so (a
// condition on the items of a slice, say, which only a struct field's tag
// can hold) is an error naming where it is. The output depends on api and
// opts alone.
func Go(api *API, opts GoOptions) ([]byte, error) {
	pkg := opts.Package
	if pkg == "" {
		pkg = packageName(api.Name)
	}
	if !token.IsIdentifier(pkg) || pkg == "_" || token.IsKeyword(pkg) {
		return nil, fmt.Errorf("package name %q is not a Go identifier", pkg)
	}
	g, err := newGoFile(api, pkg, opts.APIHash)
	if err != nil {
		return nil, err
	}
	src, err := g.source()
	if err != nil {
		return nil, err
	}
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("generated Go does not parse (a bug in papi gen): %w\n%s", err, src)
	}
	return out, nil
}

// goFile is the Go to write for an API: the names chosen, the value
// cycles found, the declarations made.
type goFile struct {
	api          *API
	pkg, apiHash string
	names        names
	typeName     map[string]string // definition -> its Go type
	useName      map[string]string // definition -> what signatures call it: its exported alias if it has one
	aliases      map[string]string // definition -> exported alias, for definitions named in lower case
	cyclic       map[[2]string]bool
	client, ctor string
	hashConst    string
	methods      []goMethod
	usesTime     bool
}

type goMethod struct {
	m                 *Method
	name              string // the client's method
	req, resp         string // Go types
	reqDecl, respDecl string // "type X = struct{…}" for an inline object, so it has a name to use
}

// Imports the file may need, and the names they take in it.
const (
	importContext = "context"
	importPapi    = "papi"
	importTime    = "time"
)

func newGoFile(api *API, pkg, apiHash string) (*goFile, error) {
	g := &goFile{api: api, pkg: pkg, apiHash: apiHash,
		names:    names{importContext: true, importPapi: true, importTime: true},
		typeName: map[string]string{}, useName: map[string]string{}, aliases: map[string]string{}}
	// Definitions keep their names where Go can declare them, so that a
	// spec derived from the types names its $defs the same; a name in lower
	// case also gets an exported alias, which reflection does not see.
	var renamed []*Def
	for _, d := range api.Defs {
		if g.names.take(d.Name) {
			g.typeName[d.Name], g.useName[d.Name] = d.Name, d.Name
		} else {
			renamed = append(renamed, d)
		}
	}
	for _, d := range api.Defs {
		if n, ok := g.typeName[d.Name]; ok && !token.IsExported(n) {
			if alias := exportedName(d.Name); g.names.take(alias) {
				g.aliases[d.Name], g.useName[d.Name] = alias, alias
			}
		}
	}
	for _, d := range renamed {
		n := g.names.fresh(exportedName(d.Name))
		g.typeName[d.Name], g.useName[d.Name] = n, n
	}
	if apiHash != "" {
		g.hashConst = g.names.fresh("APIHash")
	}
	base := exportedName(api.Name)
	g.client = g.names.fresh(base + "Client")
	g.ctor = g.names.fresh("New" + g.client)
	g.cyclic = valueCycles(api)

	methodNames := names{}
	for _, m := range api.Methods {
		gm := goMethod{m: m, name: methodNames.fresh(exportedName(m.Name))}
		var err error
		if gm.req, gm.reqDecl, err = g.root(m.Request, gm.name+"Request", m.Name+" request"); err != nil {
			return nil, err
		}
		if gm.resp, gm.respDecl, err = g.root(m.Response, gm.name+"Response", m.Name+" response"); err != nil {
			return nil, err
		}
		g.methods = append(g.methods, gm)
	}
	return g, nil
}

// root is the Go type of a method's request or response. An inline object
// gets a name, an alias of its struct type, so that callers can write it.
func (g *goFile) root(t *Type, alias, path string) (expr, decl string, err error) {
	if t.Kind == Object && !t.Nullable {
		body, err := g.structType(t, "", path)
		if err != nil {
			return "", "", err
		}
		name := g.names.fresh(alias)
		return name, fmt.Sprintf("type %s = %s", name, body), nil
	}
	expr, err = g.elem(t, "", path)
	return expr, "", err
}

// valueCycles finds the definitions that hold one another by value, which
// Go cannot declare: it returns each pair (holder, held) that is on such a
// cycle, so that the field between them becomes a pointer.
func valueCycles(api *API) map[[2]string]bool {
	held := map[string][]string{}
	var refs func(t *Type, into *[]string)
	refs = func(t *Type, into *[]string) {
		switch {
		case t.Nullable:
		case t.Kind == Ref:
			*into = append(*into, t.Ref)
		case t.Kind == Object:
			for _, f := range t.Fields {
				refs(f.Type, into)
			}
		case t.Kind == Array:
			if _, ok := t.Fixed(); ok {
				refs(t.Elem, into)
			}
		}
	}
	for _, d := range api.Defs {
		var into []string
		refs(d.Type, &into)
		held[d.Name] = into
	}
	reaches := func(from, to string) bool {
		seen := map[string]bool{}
		stack := slices.Clone(held[from])
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n == to {
				return true
			}
			if !seen[n] {
				seen[n] = true
				stack = append(stack, held[n]...)
			}
		}
		return false
	}
	out := map[[2]string]bool{}
	for from, to := range held {
		for _, t := range to {
			if from == t || reaches(t, from) {
				out[[2]string{from, t}] = true
			}
		}
	}
	return out
}

func (g *goFile) source() ([]byte, error) {
	var b bytes.Buffer
	api := g.api
	if g.apiHash != "" {
		fmt.Fprintf(&b, "// Code generated by papi gen go from API %s. DO NOT EDIT.\n\n", g.apiHash)
	} else {
		fmt.Fprintf(&b, "// Code generated by papi gen go. DO NOT EDIT.\n\n")
	}
	fmt.Fprintf(&b, "// Package %s calls the %s API, version %s, over papi", g.pkg, quoteName(api.Name), api.Version)
	if api.Description != "" {
		fmt.Fprintf(&b, ": %s", oneLine(api.Description))
	}
	b.WriteString(".\n//\n// Its types carry the cbor and papi tags that papi derives the API's spec\n" +
		"// from, so papi.Call checks them against a remote spec as it checks types\n// written by hand.\n")
	fmt.Fprintf(&b, "package %s\n\n", g.pkg)

	var decls bytes.Buffer
	for _, d := range api.Defs {
		body, err := g.structType(d.Type, d.Name, "$defs."+d.Name)
		if err != nil {
			return nil, err
		}
		name := g.typeName[d.Name]
		comment(&decls, g.defDoc(name, d))
		fmt.Fprintf(&decls, "type %s %s\n\n", name, body)
		if alias, ok := g.aliases[d.Name]; ok {
			comment(&decls, fmt.Sprintf("%s is %s, under a name other packages can use; the spec names it %s.", alias, name, d.Name))
			fmt.Fprintf(&decls, "type %s = %s\n\n", alias, name)
		}
	}
	for _, m := range g.methods {
		for _, d := range []struct{ decl, what string }{{m.reqDecl, "request"}, {m.respDecl, "response"}} {
			if d.decl == "" {
				continue
			}
			name := strings.Fields(d.decl)[1]
			comment(&decls, fmt.Sprintf("%s is the %s of %s.", name, d.what, m.m.Name))
			fmt.Fprintf(&decls, "%s\n\n", d.decl)
		}
	}
	g.clientDecls(&decls)

	var imports []string
	if len(g.methods) > 0 {
		imports = append(imports, strconv.Quote("context"))
	}
	if g.usesTime {
		imports = append(imports, strconv.Quote("time"))
	}
	fmt.Fprintf(&b, "import (\n%s\n\n%q\n)\n\n", strings.Join(imports, "\n"), "github.com/papi-dev/papi")
	if g.hashConst != "" {
		comment(&b, fmt.Sprintf("%s is the hash of the API these types were generated from: dial it (papi.Dial) to reach any peer that serves this interface.", g.hashConst))
		fmt.Fprintf(&b, "const %s = %q\n\n", g.hashConst, g.apiHash)
	}
	b.Write(decls.Bytes())
	return b.Bytes(), nil
}

func (g *goFile) clientDecls(b *bytes.Buffer) {
	api := g.api
	comment(b, fmt.Sprintf("%s calls the methods of the %s API through a papi.Client, with the types of this package.", g.client, quoteName(api.Name)))
	fmt.Fprintf(b, "type %s struct {\n\tclient *papi.Client\n}\n\n", g.client)
	dialed := "a client dialed to a bundle of the API or to its API hash"
	if g.hashConst != "" {
		dialed += " (" + g.hashConst + ")"
	}
	comment(b, fmt.Sprintf("%s returns a %s that calls through c, %s.", g.ctor, g.client, dialed))
	fmt.Fprintf(b, "func %s(c *papi.Client) *%s {\n\treturn &%s{client: c}\n}\n\n", g.ctor, g.client, g.client)
	for _, m := range g.methods {
		doc := fmt.Sprintf("%s calls the method %s.", m.name, m.m.Name)
		if m.m.Description != "" {
			doc += "\n\n" + m.m.Description
		}
		comment(b, doc)
		fmt.Fprintf(b, "func (c *%s) %s(ctx context.Context, req %s) (%s, error) {\n\treturn papi.Call[%s, %s](ctx, c.client, %q, req)\n}\n\n",
			g.client, m.name, m.req, m.resp, m.req, m.resp, m.m.Name)
	}
}

// defDoc is the doc comment of a definition's type: where the API uses it.
func (g *goFile) defDoc(name string, d *Def) string {
	var uses []string
	for _, u := range d.Users {
		switch {
		case strings.HasPrefix(u, "request of "), strings.HasPrefix(u, "response of "):
			uses = append(uses, "the "+u)
		case u != d.Name:
			uses = append(uses, "part of "+g.useName[u])
		}
	}
	if len(uses) == 0 {
		return fmt.Sprintf("%s is a type of the %s API.", name, quoteName(g.api.Name))
	}
	return fmt.Sprintf("%s is %s.", name, strings.Join(uses, ", "))
}

// structType is the Go struct type of an object; owner is the definition
// it is part of, "" for none.
func (g *goFile) structType(t *Type, owner, path string) (string, error) {
	if t.Kind != Object {
		return "", fmt.Errorf("%s: a definition of type %s: papi derives definitions from structs only", path, t.Kind)
	}
	if len(t.Fields) == 0 {
		return "struct{}", nil
	}
	var b strings.Builder
	b.WriteString("struct {\n")
	fieldNames := names{}
	for _, f := range t.Fields {
		line, err := g.field(f, owner, joinPath(path, f.Name), fieldNames)
		if err != nil {
			return "", err
		}
		if f.Type.Description != "" {
			comment(&b, f.Type.Description)
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("}")
	return b.String(), nil
}

// field is the declaration of one field, its name, type and tags: the Go
// that derivation turns back into f's schema and its place in the
// required list.
//
// Derivation makes a field required unless it is a pointer or omitempty,
// and nullable when it is a pointer (or a time, whose zero is null), but
// for a pointer tagged required, which is neither null nor optional.
func (g *goFile) field(f *Field, owner, path string, fieldNames names) (string, error) {
	t := f.Type
	var (
		expr string
		tags conditionTags
		err  error
	)
	ptr, omit := false, false
	switch {
	case t.Kind == DateTime && t.Nullable && f.Required:
	case t.Kind == DateTime && t.Nullable:
		ptr = true
	case t.Kind == DateTime && f.Required:
		ptr, tags.required = true, true
	case t.Kind == DateTime:
		return "", fmt.Errorf("%s: a time that is neither nullable nor required, which no Go field is", path)
	case t.Nullable && f.Required:
		return "", fmt.Errorf("%s: nullable and required, which no Go field is but a time", path)
	case t.Nullable:
		ptr = true
	case !f.Required:
		omit = true
	}
	if t.Kind == Ref && !t.Nullable && g.cyclic[[2]string{owner, t.Ref}] {
		// A struct cannot hold itself: a pointer tagged required makes the
		// same schema.
		if omit {
			return "", fmt.Errorf("%s: an optional %s inside %s by value, which Go cannot declare (a pointer would make it nullable)", path, t.Ref, owner)
		}
		ptr, tags.required = true, true
	}
	expr, err = g.fieldType(t, owner, path, &tags)
	if err != nil {
		return "", err
	}
	if ptr {
		expr = "*" + expr
	}
	name := fieldNames.fresh(exportedName(f.Name))
	tag, err := g.tag(f, t, omit, tags, path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s %s", name, expr, tag), nil
}

// conditionTags are what a field's papi tag says beyond the schema of its
// Go type.
type conditionTags struct {
	required             bool
	lengths, items       bool // minLength/maxLength, minItems/maxItems
	minimum, maximum     bool
	pattern, enum        bool
	float32Enum, integer bool // how to write enum values
}

// fieldType is the Go type of a field's schema, without the pointer that
// makes it nullable; the conditions its type does not carry go to tags.
func (g *goFile) fieldType(t *Type, owner, path string, tags *conditionTags) (string, error) {
	tags.minimum, tags.maximum = t.Minimum != nil, t.Maximum != nil
	tags.pattern, tags.enum = t.Pattern != "", t.Enum != nil
	switch t.Kind {
	case Bytes:
		if n, ok := t.Fixed(); ok && n <= maxFixed {
			return fmt.Sprintf("[%d]byte", n), nil
		}
		tags.lengths = t.MinLength != nil || t.MaxLength != nil
		return "[]byte", nil
	case String:
		tags.lengths = t.MinLength != nil || t.MaxLength != nil
		return "string", nil
	case Array:
		n, fixed := t.Fixed()
		if fixed && n <= maxFixed && !g.holds(owner, t.Elem) {
			elem, err := g.elem(t.Elem, owner, path+"[]")
			return fmt.Sprintf("[%d]%s", n, elem), err
		}
		tags.items = t.MinItems != nil || t.MaxItems != nil
		elem, err := g.elem(t.Elem, "", path+"[]") // a slice holds its items apart
		return "[]" + elem, err
	case Object:
		return g.structType(t, owner, path)
	case Number:
		tags.float32Enum = t.Format == "float"
	case Integer:
		tags.integer = true
	}
	return g.scalar(t, path)
}

// holds reports whether an array of t inside owner would hold owner in
// itself, by value.
func (g *goFile) holds(owner string, t *Type) bool {
	return t.Kind == Ref && !t.Nullable && g.cyclic[[2]string{owner, t.Ref}]
}

// elem is the Go type of a schema that is no struct field's: a method's
// request or response, the items of an array, the values of a map. No tag
// can reach it, so it carries no condition but what its type says.
func (g *goFile) elem(t *Type, owner, path string) (string, error) {
	s := t.Schema
	if s.Minimum != nil || s.Maximum != nil || s.Pattern != "" || s.Enum != nil {
		return "", fmt.Errorf("%s: conditions on %s, which only a struct field's papi tag carries", path, t.Kind)
	}
	prefix := ""
	switch {
	case t.Kind == DateTime && !t.Nullable:
		return "", fmt.Errorf("%s: a time that is not nullable, which only a struct field tagged required is", path)
	case t.Kind == DateTime:
	case t.Nullable:
		prefix, owner = "*", ""
	}
	var expr string
	switch t.Kind {
	case Bytes:
		if n, ok := t.Fixed(); ok && n <= maxFixed {
			expr = fmt.Sprintf("[%d]byte", n)
		} else if s.MinLength != nil || s.MaxLength != nil {
			return "", fmt.Errorf("%s: lengths on bytes other than one fixed length, which only a struct field's papi tag carries", path)
		} else {
			expr = "[]byte"
		}
	case String:
		if s.MinLength != nil || s.MaxLength != nil {
			return "", fmt.Errorf("%s: lengths on a string, which only a struct field's papi tag carries", path)
		}
		expr = "string"
	case Array:
		n, fixed := t.Fixed()
		switch {
		case fixed && n <= maxFixed:
			if g.holds(owner, t.Elem) {
				return "", fmt.Errorf("%s: an array of %s inside %s by value, which Go cannot declare", path, t.Elem.Ref, owner)
			}
			elem, err := g.elem(t.Elem, owner, path+"[]")
			if err != nil {
				return "", err
			}
			expr = fmt.Sprintf("[%d]%s", n, elem)
		case s.MinItems != nil || s.MaxItems != nil:
			return "", fmt.Errorf("%s: item counts other than one fixed count, which only a struct field's papi tag carries", path)
		default:
			elem, err := g.elem(t.Elem, "", path+"[]")
			if err != nil {
				return "", err
			}
			expr = "[]" + elem
		}
	case Map:
		elem, err := g.elem(t.Elem, "", path+"{}")
		if err != nil {
			return "", err
		}
		expr = "map[string]" + elem
	case Object:
		body, err := g.structType(t, owner, path)
		if err != nil {
			return "", err
		}
		expr = body
	default:
		var err error
		if expr, err = g.scalar(t, path); err != nil {
			return "", err
		}
	}
	return prefix + expr, nil
}

// scalar is the Go type of a boolean, number, time, map or definition.
func (g *goFile) scalar(t *Type, path string) (string, error) {
	switch t.Kind {
	case Boolean:
		return "bool", nil
	case Integer:
		switch t.Format {
		case "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64":
			return t.Format, nil
		case "":
			return "int64", nil
		}
		return "", fmt.Errorf("%s: integer format %q", path, t.Format)
	case Number:
		switch t.Format {
		case "float":
			return "float32", nil
		case "double", "":
			return "float64", nil
		}
		return "", fmt.Errorf("%s: number format %q", path, t.Format)
	case DateTime:
		g.usesTime = true
		return "time.Time", nil
	case Map:
		elem, err := g.elem(t.Elem, "", path+"{}")
		return "map[string]" + elem, err
	case Ref:
		return g.useName[t.Ref], nil
	}
	return "", fmt.Errorf("%s: no Go type for %s", path, t.Kind)
}

// tag is a field's struct tag: its wire name in the cbor tag (and the
// json tag, so encoding/json writes what the spec's JSON form says), its
// conditions in the papi tag, its description in the doc tag.
func (g *goFile) tag(f *Field, t *Type, omit bool, c conditionTags, path string) (string, error) {
	name := f.Name
	switch {
	case name == "":
		return "", fmt.Errorf("%s: a field with no name", path)
	case strings.Contains(name, ","):
		return "", fmt.Errorf("%s: a field name with a comma, which no cbor tag can hold", path)
	}
	opts := ""
	if omit {
		opts = ",omitempty"
	}
	if name == "-" {
		opts = "," + strings.TrimPrefix(opts, ",") // "-" alone would leave the field out
	}
	parts := []string{"cbor:" + strconv.Quote(name+opts)}
	if jsonNameOK(name) {
		parts = append(parts, "json:"+strconv.Quote(name+opts))
	}
	conds, err := papiTag(t, c, path)
	if err != nil {
		return "", err
	}
	if conds != "" {
		parts = append(parts, "papi:"+strconv.Quote(conds))
	}
	if t.Description != "" {
		parts = append(parts, "doc:"+strconv.Quote(t.Description))
	}
	tag := strings.Join(parts, " ")
	if strings.ContainsRune(tag, '`') {
		return strconv.Quote(tag), nil
	}
	return "`" + tag + "`", nil
}

// jsonNameOK reports whether encoding/json takes name from a tag: its
// isValidTag, or it uses the Go name instead.
func jsonNameOK(name string) bool {
	for _, r := range name {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", r):
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			return false
		}
	}
	return true
}

// papiTag writes t's conditions as papi tag text, which parses back to
// exactly them: numbers in the shortest form that reads back the same,
// the pattern last as it may hold commas.
func papiTag(t *Type, c conditionTags, path string) (string, error) {
	var parts []string
	num := func(key string, v *float64) {
		format := byte('g')
		if *v == math.Trunc(*v) && math.Abs(*v) < 1e21 {
			format = 'f' // -9007199254740992, not -9.007199254740992e+15
		}
		parts = append(parts, key+"="+strconv.FormatFloat(*v, format, -1, 64))
	}
	count := func(key string, v *uint64) {
		if v != nil {
			parts = append(parts, key+"="+strconv.FormatUint(*v, 10))
		}
	}
	if c.required {
		parts = append(parts, "required")
	}
	if c.minimum {
		num("minimum", t.Minimum)
	}
	if c.maximum {
		num("maximum", t.Maximum)
	}
	if c.lengths {
		count("minLength", t.MinLength)
		count("maxLength", t.MaxLength)
	}
	if c.items {
		count("minItems", t.MinItems)
		count("maxItems", t.MaxItems)
	}
	if c.enum {
		vals := make([]string, len(t.Enum))
		for i, e := range t.Enum {
			v, err := enumText(e, t, c)
			if err != nil {
				return "", fmt.Errorf("%s: %w", path, err)
			}
			vals[i] = v
		}
		joined := strings.Join(vals, "|")
		if joined == "" || joined != strings.TrimSpace(joined) {
			return "", fmt.Errorf("%s: enum %q cannot be written in a papi tag (it would lose blanks at its ends, or is empty)", path, t.Enum)
		}
		parts = append(parts, "enum="+joined)
	}
	if c.pattern {
		parts = append(parts, "pattern="+t.Pattern)
	}
	return strings.Join(parts, ","), nil
}

var errEnumText = errors.New("cannot be written in a papi tag")

// enumText is one enum value as the papi tag writes it for the field's
// type, checked to parse back to the same value.
func enumText(e any, t *Type, c conditionTags) (string, error) {
	switch v := e.(type) {
	case string:
		if strings.ContainsAny(v, "|,") {
			return "", fmt.Errorf("enum value %q %w: it holds | or ,", v, errEnumText)
		}
		return v, nil
	case uint64:
		if c.integer && !fitsInteger(v, false, t.Format) {
			return "", fmt.Errorf("enum value %d does not fit %s", v, t.Format)
		}
		return strconv.FormatUint(v, 10), nil
	case int64:
		if c.integer && !fitsInteger(uint64(-v), true, t.Format) {
			return "", fmt.Errorf("enum value %d does not fit %s", v, t.Format)
		}
		return strconv.FormatInt(v, 10), nil
	case float64:
		if c.integer {
			return "", fmt.Errorf("enum value %v of an integer %w", v, errEnumText)
		}
		if c.float32Enum {
			if float64(float32(v)) != v {
				return "", fmt.Errorf("enum value %v is no float32", v)
			}
			return strconv.FormatFloat(v, 'g', -1, 32), nil
		}
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("enum value %v (%T) %w", e, e, errEnumText)
}

// fitsInteger reports whether an integer, abs with its sign apart (the
// CBOR decoder gives int64 below zero only), is in the range of format.
func fitsInteger(abs uint64, negative bool, format string) bool {
	bits := map[string]int{"int8": 8, "int16": 16, "int32": 32, "int64": 64, "": 64,
		"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}[format]
	if strings.HasPrefix(format, "uint") {
		return !negative && (bits == 64 || abs < 1<<bits)
	}
	if negative {
		return abs <= 1<<(bits-1)
	}
	return abs < 1<<(bits-1)
}

// comment writes text as a doc comment, its lines kept and wrapped at 76
// columns as gofmt'ed comments usually are.
func comment(b io.StringWriter, text string) {
	for _, l := range strings.Split(text, "\n") {
		words := strings.Fields(l)
		if len(words) == 0 || strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			// A blank line, or one indented as code is: as it is.
			b.WriteString(strings.TrimRight("// "+l, " \t") + "\n")
			continue
		}
		line := "//"
		for _, w := range words {
			if len(line) > 2 && len(line)+1+len(w) > 76 {
				b.WriteString(line + "\n")
				line = "//"
			}
			line += " " + w
		}
		b.WriteString(line + "\n")
	}
}

// oneLine is a description fit for the middle of a sentence.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// quoteName is an API name as prose shows it: as it is when it is one
// word, quoted otherwise.
func quoteName(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return s
	}
	return strconv.Quote(s)
}
