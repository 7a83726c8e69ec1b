package spec

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// Builder derives schemas from Go types, collecting the named struct types
// it meets as definitions shared by every schema it makes.
type Builder struct {
	defs  map[string]*Schema
	types map[string]reflect.Type // which Go type each definition is, to catch two of one name
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{defs: map[string]*Schema{}, types: map[string]reflect.Type{}}
}

// Defs returns the definitions collected so far, by name.
func (b *Builder) Defs() map[string]*Schema {
	if len(b.defs) == 0 {
		return nil
	}
	out := make(map[string]*Schema, len(b.defs))
	for k, v := range b.defs {
		out[k] = v
	}
	return out
}

// Schema returns the schema of t. A named struct type becomes a $ref to a
// definition; an unsupported type is an error naming the path to it.
func (b *Builder) Schema(t reflect.Type) (*Schema, error) {
	return b.schema(t, typeLabel(t))
}

func typeLabel(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

var integerFormats = map[reflect.Kind]string{
	reflect.Int: "int64", reflect.Int8: "int8", reflect.Int16: "int16", reflect.Int32: "int32", reflect.Int64: "int64",
	reflect.Uint: "uint64", reflect.Uint8: "uint8", reflect.Uint16: "uint16", reflect.Uint32: "uint32", reflect.Uint64: "uint64",
}

func (b *Builder) schema(t reflect.Type, path string) (*Schema, error) {
	if t == timeType {
		return &Schema{Type: TypeString, Format: "date-time"}, nil
	}
	switch k := t.Kind(); k {
	case reflect.Bool:
		return &Schema{Type: TypeBoolean}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &Schema{Type: TypeInteger, Format: integerFormats[k]}, nil
	case reflect.Float32:
		return &Schema{Type: TypeNumber, Format: "float"}, nil
	case reflect.Float64:
		return &Schema{Type: TypeNumber, Format: "double"}, nil
	case reflect.String:
		return &Schema{Type: TypeString}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return &Schema{Type: TypeString, ContentEncoding: "base64"}, nil
		}
		items, err := b.schema(t.Elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		return &Schema{Type: TypeArray, Items: items}, nil
	case reflect.Array:
		n := uint64(t.Len())
		if t.Elem().Kind() == reflect.Uint8 { // CBOR encodes byte arrays as byte strings
			return &Schema{Type: TypeString, ContentEncoding: "base64", MinLength: &n, MaxLength: &n}, nil
		}
		items, err := b.schema(t.Elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		return &Schema{Type: TypeArray, Items: items, MinItems: &n, MaxItems: &n}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: unsupported map key type %s (only string keys)", path, t.Key())
		}
		values, err := b.schema(t.Elem(), path+"{}")
		if err != nil {
			return nil, err
		}
		return &Schema{Type: TypeObject, AdditionalProperties: values}, nil
	case reflect.Pointer:
		s, err := b.schema(t.Elem(), path)
		if err != nil {
			return nil, err
		}
		c := *s
		c.Nullable = true
		return &c, nil
	case reflect.Struct:
		if t.Name() == "" {
			return b.object(t, path)
		}
		return b.ref(t, path)
	default:
		return nil, fmt.Errorf("%s: unsupported type %s", path, t)
	}
}

var defNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// defName is a named type's definition name: its Go name, with the
// brackets and dots of generic instantiations made safe.
func defName(t reflect.Type) string {
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		args := name[i+1 : len(name)-1]
		parts := strings.Split(args, ",")
		for j, p := range parts {
			if k := strings.LastIndexAny(p, "./"); k >= 0 {
				parts[j] = p[k+1:]
			}
		}
		name = name[:i] + "_" + strings.Join(parts, "_")
	}
	return strings.Trim(defNameUnsafe.ReplaceAllString(name, "_"), "_")
}

func (b *Builder) ref(t reflect.Type, path string) (*Schema, error) {
	name := defName(t)
	if have, ok := b.types[name]; ok {
		if have != t {
			return nil, fmt.Errorf("%s: two types are named %s: %s and %s; rename one", path, name, qualified(have), qualified(t))
		}
		return &Schema{Ref: refPrefix + name}, nil
	}
	// Registered before its fields are derived, so a recursive type refers to itself.
	b.types[name] = t
	obj, err := b.object(t, path)
	if err != nil {
		delete(b.types, name)
		return nil, err
	}
	b.defs[name] = obj
	return &Schema{Ref: refPrefix + name}, nil
}

func qualified(t reflect.Type) string { return t.PkgPath() + "." + t.Name() }

func (b *Builder) object(t reflect.Type, path string) (*Schema, error) {
	fields, err := Fields(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	obj := &Schema{Type: TypeObject, Properties: map[string]*Schema{}}
	for _, f := range fields {
		fpath := path + "." + f.Name
		s, err := b.schema(f.Type, fpath)
		if err != nil {
			return nil, err
		}
		c, err := parseConditions(f.Tag.Get("papi"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fpath, err)
		}
		if err := c.apply(s, f.Type); err != nil {
			return nil, fmt.Errorf("%s: %w", fpath, err)
		}
		if doc := f.Tag.Get("doc"); doc != "" {
			s.Description = doc
		}
		obj.Properties[f.Name] = s
		if c.required || !f.Optional {
			obj.Required = append(obj.Required, f.Name)
		}
	}
	return obj, nil
}

// Field is a struct field as papi's CBOR encoding sees it.
type Field struct {
	Name     string // the name on the wire
	Index    []int  // for reflect.Value.FieldByIndex
	Type     reflect.Type
	Tag      reflect.StructTag
	Optional bool // a pointer, omitempty, or reached through an embedded pointer
}

// Fields lists the fields of struct type t under the rules of the CBOR
// library: the cbor tag, else the json tag, else the Go name; embedded
// structs flattened as encoding/json does.
func Fields(t reflect.Type) ([]Field, error) {
	if f, ok := t.FieldByName("_"); ok && strings.Contains(f.Tag.Get("cbor"), "toarray") {
		return nil, fmt.Errorf("struct %s is encoded as an array (toarray), which papi does not describe", t)
	}
	type cand struct {
		Field
		depth  int
		tagged bool
	}
	var all []cand
	type level struct {
		t        reflect.Type
		index    []int
		optional bool
	}
	next := []level{{t: t}}
	visited := map[reflect.Type]bool{t: true}
	for depth := 0; len(next) > 0; depth++ {
		cur := next
		next = nil
		count := map[reflect.Type]int{}
		for _, l := range cur {
			count[l.t]++
		}
		for _, l := range cur {
			if count[l.t] > 1 { // two embedded structs of one type at one level: both ignored
				continue
			}
			for i := range l.t.NumField() {
				sf := l.t.Field(i)
				ft := sf.Type
				ptr := false
				for ft.Kind() == reflect.Pointer {
					ft, ptr = ft.Elem(), true
				}
				if !sf.IsExported() && !(sf.Anonymous && ft.Kind() == reflect.Struct) {
					continue
				}
				tag := sf.Tag.Get("cbor")
				if tag == "" {
					tag = sf.Tag.Get("json")
				}
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if strings.Contains(","+opts+",", ",keyasint,") {
					return nil, fmt.Errorf("field %s uses keyasint, which papi does not describe", sf.Name)
				}
				index := append(slices.Clone(l.index), i)
				if sf.Anonymous && ft.Kind() == reflect.Struct && name == "" {
					if !visited[ft] {
						next = append(next, level{t: ft, index: index, optional: l.optional || ptr})
					}
					continue
				}
				if !sf.IsExported() {
					continue
				}
				if name == "" {
					name = sf.Name
				}
				omit := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
				all = append(all, cand{
					Field: Field{Name: name, Index: index, Type: sf.Type, Tag: sf.Tag,
						Optional: l.optional || omit || sf.Type.Kind() == reflect.Pointer},
					depth: depth, tagged: tag != "",
				})
			}
		}
		for _, l := range next {
			visited[l.t] = true
		}
	}
	// Of fields sharing a name, the shallowest wins, then a tagged one;
	// a tie hides them all, as in encoding/json.
	byName := map[string][]cand{}
	for _, c := range all {
		byName[c.Name] = append(byName[c.Name], c)
	}
	var out []Field
	for _, c := range all {
		group := byName[c.Name]
		best := group[0]
		tie := false
		for _, o := range group[1:] {
			switch {
			case o.depth < best.depth, o.depth == best.depth && o.tagged && !best.tagged:
				best, tie = o, false
			case o.depth == best.depth && o.tagged == best.tagged:
				tie = true
			}
		}
		if !tie && slices.Equal(best.Index, c.Index) {
			out = append(out, c.Field)
		}
	}
	slices.SortFunc(out, func(a, b Field) int { return slices.Compare(a.Index, b.Index) })
	return out, nil
}
