package spec

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// field is a struct field as papi's CBOR encoding sees it.
type field struct {
	name   string // the key on the wire
	goPath string // the Go selector from the struct, for messages: "Base.Limit"
	index  []int  // for walking a value, through embedded structs
	typ    reflect.Type
	tag    reflect.StructTag
	omit   bool // omitempty or omitzero: left out when empty
	viaPtr bool // reached through an embedded pointer: left out when it is nil
	tagged bool // named by a cbor or json tag, which wins a tie
	// ptrs is whether the walk to the field follows a pointer, so that a
	// walk that does not can skip the nil checks.
	ptrs bool
}

// optional reports whether the field can be absent from an encoding.
func (f *field) optional() bool {
	return f.omit || f.viaPtr || f.typ.Kind() == reflect.Pointer
}

// structFields lists the fields the CBOR library encodes for struct type t,
// by its own rules (collectFields in fxamacker/cbor/v2's structfields.go):
// the cbor tag, else the json tag, else the Go name; embedded structs
// flattened as encoding/json does, the shallowest field of a name winning,
// then a tagged one, and any other tie hiding them all. The order is that of
// declaration.
func structFields(t reflect.Type) ([]field, error) {
	if f, ok := t.FieldByName("_"); ok {
		_, opts, _ := strings.Cut(f.Tag.Get("cbor"), ",")
		if hasOption(opts, "toarray") || hasOption(opts, "toindefarray") {
			return nil, fmt.Errorf("struct %s is encoded as an array (toarray), which papi does not describe", t)
		}
	}
	type embedded struct {
		index  []int
		goPath string
		viaPtr bool
	}
	var all []field
	// Embedded structs of the next level, by type: two of one type at one
	// level hide each other, and a type already seen higher up adds nothing.
	next := map[reflect.Type][]embedded{t: {{}}}
	seen := map[reflect.Type]bool{}
	for len(next) > 0 {
		level := next
		next = map[reflect.Type][]embedded{}
		// In a fixed order, so that nothing depends on the order of a map.
		types := slices.SortedFunc(maps.Keys(level), func(a, b reflect.Type) int {
			return slices.Compare(level[a][0].index, level[b][0].index)
		})
		for _, et := range types {
			at := level[et]
			if len(at) > 1 || seen[et] {
				continue
			}
			seen[et] = true
			parent := at[0]
			for i := range et.NumField() {
				sf := et.Field(i)
				ft := sf.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
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
				if hasOption(opts, "keyasint") {
					return nil, fmt.Errorf("field %s%s uses keyasint, which papi does not describe", parent.goPath, sf.Name)
				}
				index := append(slices.Clone(parent.index), i)
				goPath := parent.goPath + sf.Name
				if sf.Anonymous && ft.Kind() == reflect.Struct && name == "" {
					next[ft] = append(next[ft], embedded{
						index:  index,
						goPath: goPath + ".",
						viaPtr: parent.viaPtr || sf.Type.Kind() == reflect.Pointer,
					})
					continue
				}
				if name == "" {
					name = sf.Name
				}
				all = append(all, field{
					name:   name,
					goPath: goPath,
					index:  index,
					typ:    sf.Type,
					tag:    sf.Tag,
					omit:   hasOption(opts, "omitempty") || hasOption(opts, "omitzero"),
					viaPtr: parent.viaPtr,
					tagged: tag != "",
				})
			}
		}
	}

	// Of fields sharing a name, the shallowest wins, then a tagged one; any
	// other tie hides them all.
	slices.SortFunc(all, func(a, b field) int {
		return cmp.Or(
			strings.Compare(a.name, b.name),
			cmp.Compare(len(a.index), len(b.index)),
			cmp.Compare(btoi(b.tagged), btoi(a.tagged)),
			slices.Compare(a.index, b.index),
		)
	})
	var out []field
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].name == all[i].name {
			j++
		}
		if j == i+1 || len(all[i].index) < len(all[i+1].index) || all[i].tagged && !all[i+1].tagged {
			out = append(out, all[i])
		}
		i = j
	}
	slices.SortFunc(out, func(a, b field) int { return slices.Compare(a.index, b.index) })
	for k := range out {
		out[k].ptrs = throughPointer(t, out[k].index)
	}
	return out, nil
}

// hasOption reports whether opts, the text of a tag after its first comma,
// holds the option opt.
func hasOption(opts, opt string) bool {
	return slices.Contains(strings.Split(opts, ","), opt)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// throughPointer reports whether reaching the field at index from a value
// of t goes through a pointer to an embedded struct.
func throughPointer(t reflect.Type, index []int) bool {
	for _, i := range index[:len(index)-1] {
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Pointer {
			return true
		}
		t = ft
	}
	return false
}

// value returns the field of struct value v, or false when it sits behind
// a nil embedded pointer and so is not encoded.
func (f *field) value(v reflect.Value) (reflect.Value, bool) {
	if !f.ptrs {
		if len(f.index) == 1 {
			return v.Field(f.index[0]), true
		}
		for _, i := range f.index {
			v = v.Field(i)
		}
		return v, true
	}
	for k, i := range f.index {
		if k > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, true
}
