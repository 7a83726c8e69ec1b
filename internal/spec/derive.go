package spec

import (
	"encoding"
	"fmt"
	"maps"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

var (
	timeType            = reflect.TypeFor[time.Time]()
	bigIntType          = reflect.TypeFor[big.Int]()
	cborMarshalerType   = reflect.TypeFor[cbor.Marshaler]()
	binaryMarshalerType = reflect.TypeFor[encoding.BinaryMarshaler]()
)

// class is what the CBOR encoding makes of a Go type, in the terms the
// schema and the conditions care about.
type class int

const (
	classUnsupported class = iota
	classBoolean
	classInteger
	classNumber
	classString
	classDateTime
	classBytes
	classMarshaled // a byte string made by MarshalBinary: no condition can see into it
	classArray
	classMap
	classStruct
)

// classOf follows the order in which the CBOR library picks an encoding
// (newEncodeFunc in its encode.go): its own special types, cbor.Marshaler,
// encoding.BinaryMarshaler, and only then the kind. t is no pointer.
func classOf(t reflect.Type) class {
	switch {
	case t == timeType:
		return classDateTime
	case t == bigIntType, reflect.PointerTo(t).Implements(cborMarshalerType):
		return classUnsupported // the shape of what they write is not known
	case reflect.PointerTo(t).Implements(binaryMarshalerType):
		return classMarshaled
	}
	switch t.Kind() {
	case reflect.Bool:
		return classBoolean
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return classInteger
	case reflect.Float32, reflect.Float64:
		return classNumber
	case reflect.String:
		return classString
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return classBytes // arrays too: the library's default ByteArrayToByteSlice
		}
		return classArray
	case reflect.Map:
		return classMap
	case reflect.Struct:
		return classStruct
	}
	return classUnsupported
}

// Builder derives schemas from Go types, collecting the named struct types
// it meets as definitions shared by every schema it makes, as a Spec's Defs.
// A Builder is not safe for concurrent use.
type Builder struct {
	defs  map[string]*Schema
	types map[string]reflect.Type // which Go type each definition is, to catch two of one name
	added []string                // definitions the Schema call under way added, taken back if it fails
}

// NewBuilder returns a Builder with no definitions.
func NewBuilder() *Builder {
	return &Builder{defs: map[string]*Schema{}, types: map[string]reflect.Type{}}
}

// Clone returns a copy of b that derives on its own: what a caller
// derives into when it keeps the definitions only if several derivations
// all succeed, as a method's request and response must.
func (b *Builder) Clone() *Builder {
	return &Builder{defs: maps.Clone(b.defs), types: maps.Clone(b.types)}
}

// Defs returns the definitions collected so far, by name, for Spec.Defs;
// nil when there are none, so that an encoded spec leaves $defs out.
func (b *Builder) Defs() map[string]*Schema {
	if len(b.defs) == 0 {
		return nil
	}
	return maps.Clone(b.defs)
}

// Schema returns the schema of what canon.Marshal makes of a value of type
// t. A named struct type becomes {"$ref": "#/$defs/Name"}, its definition
// added to b's. An unsupported type, or a condition that does not fit its
// field, is an error naming the Go path to it, "Req.Filter.Callback"; b is
// then left as it was.
func (b *Builder) Schema(t reflect.Type) (*Schema, error) {
	b.added = b.added[:0]
	s, err := b.schema(t, where{root: typeLabel(t)})
	if err != nil {
		for _, name := range b.added {
			delete(b.defs, name)
			delete(b.types, name)
		}
		return nil, err
	}
	return s, nil
}

// typeLabel names the root of a path in an error message.
func typeLabel(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Name() != "":
		return t.Name()
	case t.Kind() == reflect.Struct:
		return "struct" // its full text would drown the path
	}
	return t.String()
}

var integerFormats = map[reflect.Kind]string{
	reflect.Int: "int64", reflect.Int8: "int8", reflect.Int16: "int16", reflect.Int32: "int32", reflect.Int64: "int64",
	reflect.Uint: "uint64", reflect.Uint8: "uint8", reflect.Uint16: "uint16", reflect.Uint32: "uint32", reflect.Uint64: "uint64",
}

// where is a place in a type, for error messages: by Go names for the
// programmer who wrote the type, and by wire names for what a peer sees.
// Items add "[]" to both, map values "{}".
type where struct {
	root         string // the type's name
	goPath, wire string // from the root
}

func (w where) field(f *field) where {
	return where{w.root, w.goPath + "." + f.goPath, join(w.wire, f.name)}
}

func (w where) in(suffix string) where { return where{w.root, w.goPath + suffix, w.wire + suffix} }

// errorf returns an error at w, "Req.Filter.Callback: …", with the wire
// path after the message when the names differ.
func (w where) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if w.wire != "" && w.wire != strings.TrimPrefix(w.goPath, ".") {
		return fmt.Errorf("%s%s: %w (on the wire: %s)", w.root, w.goPath, err, w.wire)
	}
	return fmt.Errorf("%s%s: %w", w.root, w.goPath, err)
}

// schema derives t's schema; path is where t is.
func (b *Builder) schema(t reflect.Type, path where) (*Schema, error) {
	if t.Kind() == reflect.Pointer {
		s, err := b.schema(t.Elem(), path)
		if err != nil {
			return nil, err
		}
		s.Nullable = true // s is new: every case below makes a fresh one
		return s, nil
	}
	switch classOf(t) {
	case classBoolean:
		return &Schema{Type: TypeBoolean}, nil
	case classInteger:
		return &Schema{Type: TypeInteger, Format: integerFormats[t.Kind()]}, nil
	case classNumber:
		if t.Kind() == reflect.Float32 {
			return &Schema{Type: TypeNumber, Format: "float"}, nil
		}
		return &Schema{Type: TypeNumber, Format: "double"}, nil
	case classString:
		return &Schema{Type: TypeString}, nil
	case classDateTime:
		// The CBOR library sends the zero time as null, whatever the options.
		return &Schema{Type: TypeString, Format: "date-time", Nullable: true}, nil
	case classBytes:
		// The CBOR library sends byte arrays as byte strings too, so [N]byte
		// is N bytes, not an array of N integers.
		s := &Schema{Type: TypeString, ContentEncoding: "base64"}
		if t.Kind() == reflect.Array {
			n := uint64(t.Len())
			s.MinLength, s.MaxLength = &n, &n
		}
		return s, nil
	case classMarshaled:
		return &Schema{Type: TypeString, ContentEncoding: "base64"}, nil
	case classArray:
		items, err := b.schema(t.Elem(), path.in("[]"))
		if err != nil {
			return nil, err
		}
		s := &Schema{Type: TypeArray, Items: items}
		if t.Kind() == reflect.Array {
			n := uint64(t.Len())
			s.MinItems, s.MaxItems = &n, &n
		}
		return s, nil
	case classMap:
		// A key type that marshals itself would be sent as bytes, which no
		// JSON object and no map[string]any can hold.
		if k := t.Key(); k.Kind() != reflect.String || classOf(k) != classString {
			return nil, path.errorf("unsupported map key type %s (only string keys)", k)
		}
		values, err := b.schema(t.Elem(), path.in("{}"))
		if err != nil {
			return nil, err
		}
		return &Schema{Type: TypeObject, AdditionalProperties: values}, nil
	case classStruct:
		if t.Name() == "" {
			return b.object(t, path)
		}
		return b.ref(t, path)
	}
	if t != bigIntType && reflect.PointerTo(t).Implements(cborMarshalerType) {
		return nil, path.errorf("unsupported type %s (it encodes itself with MarshalCBOR)", t)
	}
	return nil, path.errorf("unsupported type %s", t)
}

var (
	// qualifier matches the package path before a type name in a generic
	// instantiation's name: "example.com/x/y." in "Page[example.com/x/y.Item]".
	qualifier     = regexp.MustCompile(`[^\[\],;*\s]*[./]`)
	defNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_]+`)
)

// defName is a named type's definition name: its Go name, with the package
// paths, brackets and dots of a generic instantiation's replaced, so that
// Page[example.com/x/y.Item] is Page_Item.
func defName(t reflect.Type) string {
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i+1] + qualifier.ReplaceAllString(name[i+1:], "")
	}
	return strings.Trim(defNameUnsafe.ReplaceAllString(name, "_"), "_")
}

func (b *Builder) ref(t reflect.Type, path where) (*Schema, error) {
	name := defName(t)
	if name == "" {
		return nil, path.errorf("type %s has no name a spec can hold (A-Z, a-z, 0-9 and _)", qualified(t))
	}
	if have, ok := b.types[name]; ok {
		if have != t {
			return nil, path.errorf("two types are named %s in the spec: %s and %s; rename one", name, qualified(have), qualified(t))
		}
		return &Schema{Ref: refPrefix + name}, nil
	}
	// Registered before its fields are derived, so that a recursive type
	// refers to itself.
	b.types[name] = t
	b.added = append(b.added, name)
	obj, err := b.object(t, path)
	if err != nil {
		return nil, err
	}
	b.defs[name] = obj
	return &Schema{Ref: refPrefix + name}, nil
}

// qualified names t with its full package path: two types of one name
// differ there.
func qualified(t reflect.Type) string {
	if t.PkgPath() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}

func (b *Builder) object(t reflect.Type, path where) (*Schema, error) {
	fields, err := structFields(t)
	if err != nil {
		return nil, path.errorf("%w", err)
	}
	obj := &Schema{Type: TypeObject, Properties: make(map[string]*Schema, len(fields))}
	for i := range fields {
		f := &fields[i]
		fpath := path.field(f)
		s, err := b.schema(f.typ, fpath)
		if err != nil {
			return nil, err
		}
		c, err := fieldConditions(f)
		if err != nil {
			return nil, fpath.errorf("%w", err)
		}
		c.annotate(s, f.typ)
		if doc := f.tag.Get("doc"); doc != "" {
			s.Description = doc
		}
		obj.Properties[f.name] = s
		if c.required || !f.optional() {
			obj.Required = append(obj.Required, f.name)
		}
	}
	return obj, nil
}
