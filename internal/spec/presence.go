package spec

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Presence checks the CBOR encoding of a value for what decoding it into
// a Go type would hide: a required field left out, and a null where the
// schema allows none. The decoder leaves both at the field's zero value,
// which a handler cannot tell from a zero sent on purpose, so without this
// check a caller not written in Go could skip a required field and be
// answered as if it had sent 0 (or be told "minimum: 0 < 1" for a field it
// never sent). Go callers never trip it: canon.Marshal sends every field a
// schema requires, and null only where the schema allows it.
//
// Check reads the bytes once, looking at every map key of the objects the
// schema describes and skipping the values that need no check, and does
// not allocate unless it finds a violation. It does not check types,
// conditions or unknown fields: the decoder and the Validator do that
// after it. A Presence is safe for concurrent use.
type Presence struct {
	root *presenceCheck
}

// presenceCheck is what one place of a schema asks of the value there.
type presenceCheck struct {
	nullable bool
	what     string         // the schema's type, for a message about null
	shape    *presenceShape // nil for a value whose insides need no check
}

// presenceShape is what the insides of an object, an array or a map ask.
type presenceShape struct {
	array bool
	// fields are an object's properties in the order of core
	// deterministic encoding (shorter names first, then bytewise), the
	// order in which a canonical encoder sends them: the field after the
	// one last found is the one to try first. byName indexes them when
	// there are too many to look through.
	fields   []presenceField
	byName   map[string]int
	required []string       // an object's required fields, in declaration order
	values   *presenceCheck // an array's items, or a map's values
}

type presenceField struct {
	name     string
	required int // the field's index in required, or -1
	check    *presenceCheck
}

// maxScannedFields is the most fields an object looks through one by one
// for a key; with more, a map finds them.
const maxScannedFields = 16

// field returns the index of the field named key, or -1; next is where to
// look first.
func (sh *presenceShape) field(key []byte, next int) int {
	if sh.byName != nil {
		if i, ok := sh.byName[string(key)]; ok { // no allocation: the compiler looks up with the bytes
			return i
		}
		return -1
	}
	n := len(sh.fields)
	for k := range n {
		i := next + k
		if i >= n {
			i -= n
		}
		if sh.fields[i].name == string(key) {
			return i
		}
	}
	return -1
}

// ErrMalformedCBOR is the error Check returns, wrapped, for bytes that are
// not one well-formed CBOR data item as papi's decoders accept them: no
// tags, no indefinite lengths, nothing after the item.
var ErrMalformedCBOR = errors.New("malformed cbor")

// maxPresenceDepth bounds how deeply Check follows nested values that need
// a check. It is above the decoders' own limit (64), so that Check refuses
// nothing a decoder accepts, and low enough that a recursive schema cannot
// make it recurse without end.
const maxPresenceDepth = 2 * maxDepth

// NewPresence compiles the presence check of values of schema s, whose
// $refs name definitions in defs. s must have passed Validate.
func NewPresence(s *Schema, defs map[string]*Schema) (*Presence, error) {
	c := presenceCompiler{defs: defs, shapes: map[string]*presenceShape{}}
	root, err := c.compile(s)
	if err != nil {
		return nil, err
	}
	return &Presence{root: root}, nil
}

type presenceCompiler struct {
	defs   map[string]*Schema
	shapes map[string]*presenceShape // by definition name: recursive types refer to themselves
}

func (c *presenceCompiler) compile(s *Schema) (*presenceCheck, error) {
	if s == nil {
		return nil, errors.New("schema missing")
	}
	r, name, ok := resolve(s, c.defs)
	if !ok {
		return nil, fmt.Errorf("$ref %s does not resolve", s.Ref)
	}
	check := &presenceCheck{nullable: s.Nullable, what: typeName(s)}
	if name != "" {
		if sh, ok := c.shapes[name]; ok {
			check.shape = sh
			return check, nil
		}
	}
	var err error
	switch {
	case r.Type == TypeObject:
		sh := &presenceShape{required: slices.Clone(r.Required)}
		if name != "" {
			c.shapes[name] = sh // before the fields, which may refer back
		}
		names := slices.SortedFunc(maps.Keys(r.Properties), func(a, b string) int {
			return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
		})
		for _, f := range names {
			pf := presenceField{name: f, required: slices.Index(sh.required, f)}
			if pf.check, err = c.compile(r.Properties[f]); err != nil {
				return nil, err
			}
			sh.fields = append(sh.fields, pf)
		}
		if len(sh.fields) > maxScannedFields {
			sh.byName = make(map[string]int, len(sh.fields))
			for i, f := range sh.fields {
				sh.byName[f.name] = i
			}
		}
		if r.AdditionalProperties != nil {
			if sh.values, err = c.compile(r.AdditionalProperties); err != nil {
				return nil, err
			}
		}
		check.shape = sh
	case r.Type == TypeArray:
		sh := &presenceShape{array: true}
		if name != "" {
			c.shapes[name] = sh
		}
		if sh.values, err = c.compile(r.Items); err != nil {
			return nil, err
		}
		check.shape = sh
	}
	return check, nil
}

// Check returns nil, a *Violation naming the first field found missing
// (rule required, "missing") or null where no null is allowed (rule type),
// or an error wrapping ErrMalformedCBOR.
func (p *Presence) Check(data []byte) error {
	sc := scanner{data: data}
	viol, err := sc.value(p.root, 0)
	switch {
	case err != nil:
		return err
	case viol != nil:
		return viol
	case sc.pos != len(data):
		return fmt.Errorf("%w: %d bytes after the value", ErrMalformedCBOR, len(data)-sc.pos)
	}
	return nil
}

// scanner reads CBOR from data without decoding it.
type scanner struct {
	data []byte
	pos  int
}

func (sc *scanner) malformed(what string) error {
	return fmt.Errorf("%w: %s at byte %d", ErrMalformedCBOR, what, sc.pos)
}

// CBOR major types.
const (
	majorUint = iota
	majorNegInt
	majorBytes
	majorText
	majorArray
	majorMap
	majorTag
	majorSimple
)

// head reads the initial byte of a data item and its argument: a length,
// a count, an integer, or a float's bits, which head has then passed.
func (sc *scanner) head() (major byte, arg uint64, err error) {
	if sc.pos >= len(sc.data) {
		return 0, 0, sc.malformed("unexpected end")
	}
	b := sc.data[sc.pos]
	major, info := b>>5, b&0x1f
	sc.pos++
	var n int
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info <= 27:
		n = 1 << (info - 24)
	default:
		return 0, 0, sc.malformed("indefinite length or reserved additional information")
	}
	if len(sc.data)-sc.pos < n {
		return 0, 0, sc.malformed("unexpected end")
	}
	p := sc.data[sc.pos:]
	switch n {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	default:
		arg = binary.BigEndian.Uint64(p)
	}
	sc.pos += n
	return major, arg, nil
}

// contents checks that a count of items, each at least one byte, or of
// bytes, fits in what is left, and returns it as an int.
func (sc *scanner) contents(arg uint64) (int, error) {
	if arg > uint64(len(sc.data)-sc.pos) {
		return 0, sc.malformed("length beyond the end")
	}
	return int(arg), nil
}

// rest skips what follows the head of an item: its bytes, or its items.
// It keeps a count of items still to skip instead of recursing, so that
// nesting costs no stack.
func (sc *scanner) rest(major byte, arg uint64) error {
	pending := 0
	for {
		switch major {
		case majorBytes, majorText:
			n, err := sc.contents(arg)
			if err != nil {
				return err
			}
			sc.pos += n
		case majorArray, majorMap:
			n, err := sc.contents(arg)
			if err != nil {
				return err
			}
			if major == majorMap {
				n *= 2 // at most 2 × len(data): no overflow
			}
			pending += n
		case majorTag:
			return sc.malformed("tag")
		}
		if pending == 0 {
			return nil
		}
		pending--
		var err error
		if major, arg, err = sc.head(); err != nil {
			return err
		}
	}
}

// skip skips one data item.
func (sc *scanner) skip() error {
	major, arg, err := sc.head()
	if err != nil {
		return err
	}
	return sc.rest(major, arg)
}

// isNull reports whether the next item is null or undefined, which the
// decoder both takes for nil, and if so passes it.
func (sc *scanner) isNull() bool {
	if sc.pos < len(sc.data) && (sc.data[sc.pos] == 0xf6 || sc.data[sc.pos] == 0xf7) {
		sc.pos++
		return true
	}
	return false
}

// value checks the next item against c. An item of another type than c's
// is skipped: the decoder refuses it afterwards.
func (sc *scanner) value(c *presenceCheck, depth int) (*Violation, error) {
	if sc.isNull() {
		if c.nullable {
			return nil, nil
		}
		return violation("type", "null where %s is required", c.what), nil
	}
	if c.shape == nil {
		return nil, sc.skip()
	}
	if depth > maxPresenceDepth {
		return nil, sc.malformed("nested deeper than " + strconv.Itoa(maxPresenceDepth))
	}
	major, arg, err := sc.head()
	if err != nil {
		return nil, err
	}
	sh := c.shape
	switch {
	case sh.array && major == majorArray:
		n, err := sc.contents(arg)
		if err != nil {
			return nil, err
		}
		for i := range n {
			if viol, err := sc.value(sh.values, depth+1); viol != nil || err != nil {
				if viol != nil {
					viol = viol.under("[" + strconv.Itoa(i) + "]")
				}
				return viol, err
			}
		}
		return nil, nil
	case !sh.array && major == majorMap:
		return sc.object(sh, arg, depth)
	}
	return nil, sc.rest(major, arg)
}

// object checks the pairs of a map, whose head has been read, against sh.
func (sc *scanner) object(sh *presenceShape, arg uint64, depth int) (*Violation, error) {
	n, err := sc.contents(arg)
	if err != nil {
		return nil, err
	}
	// Which required fields were seen: on the stack for up to 256 of them.
	var small [4]uint64
	seen := small[:]
	if len(sh.required) > 64*len(small) {
		seen = make([]uint64, (len(sh.required)+63)/64)
	}
	next := 0 // the field to try first for the next key
	for range n {
		major, arg, err := sc.head()
		if err != nil {
			return nil, err
		}
		if major != majorText {
			// No field has such a name; the decoder decides about it.
			if err := sc.rest(major, arg); err != nil {
				return nil, err
			}
			if err := sc.skip(); err != nil {
				return nil, err
			}
			continue
		}
		k, err := sc.contents(arg)
		if err != nil {
			return nil, err
		}
		key := sc.data[sc.pos : sc.pos+k]
		sc.pos += k
		var f presenceField
		i := sh.field(key, next)
		known := i >= 0
		check := sh.values
		if known {
			f, check, next = sh.fields[i], sh.fields[i].check, i+1
		}
		if check == nil {
			if err := sc.skip(); err != nil { // an unknown field: the decoder decides about it
				return nil, err
			}
			continue
		}
		if known && f.required >= 0 {
			seen[f.required/64] |= 1 << (f.required % 64)
		}
		viol, err := sc.value(check, depth+1)
		if err != nil {
			return nil, err
		}
		if viol != nil {
			if known {
				return viol.under(string(key)), nil
			}
			return viol.under("[" + strconv.Quote(string(key)) + "]"), nil
		}
	}
	for i, name := range sh.required {
		if seen[i/64]&(1<<(i%64)) == 0 {
			return (&Violation{Rule: "required", Detail: "missing"}).under(name), nil
		}
	}
	return nil, nil
}
