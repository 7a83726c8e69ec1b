package spec

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/papi-dev/papi/internal/canon"
)

type (
	presenceReq struct {
		Lat   float64         `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Limit int             `cbor:"limit" papi:"minimum=1"`
		Note  string          `cbor:"note,omitempty"`
		Tip   *int            `cbor:"tip"`
		Must  *int            `cbor:"must" papi:"required"`
		Items []Item          `cbor:"items"`
		Bykey map[string]Item `cbor:"bykey"`
	}
)

// presenceOf compiles the presence check of v's type.
func presenceOf(t testing.TB, v any) *Presence {
	t.Helper()
	s, defs := derive(t, v)
	p, err := NewPresence(s, defs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := canon.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fullReq is every field of presenceReq, as a map that a test can take
// fields out of.
func fullReq() map[string]any {
	return map[string]any{
		"lat": 41.4, "limit": 3, "note": "n", "tip": 1, "must": 2,
		"items": []any{map[string]any{"name": "a", "price": 1.0}},
		"bykey": map[string]any{"k": map[string]any{"name": "b", "price": 2.0}},
	}
}

func without(m map[string]any, keys ...string) map[string]any {
	m = maps.Clone(m)
	for _, k := range keys {
		delete(m, k)
	}
	return m
}

func with(m map[string]any, k string, v any) map[string]any {
	m = maps.Clone(m)
	m[k] = v
	return m
}

// inOrder encodes the fields keys of m as a map in that order, which
// need not be the canonical one.
func inOrder(t testing.TB, m map[string]any, keys ...string) []byte {
	t.Helper()
	out := []byte{0xa0 | byte(len(keys))}
	for _, k := range keys {
		out = append(out, enc(t, k)...)
		out = append(out, enc(t, m[k])...)
	}
	return out
}

func TestPresence(t *testing.T) {
	p := presenceOf(t, presenceReq{})
	tests := []struct {
		name string
		in   any    // encoded with canon.Marshal, unless a []byte
		want string // the violation; "" for none; "malformed" for ErrMalformedCBOR
	}{
		{"every field", fullReq(), ""},
		{"what Go sends", presenceReq{Must: new(int)}, ""},
		{"optional fields left out", without(fullReq(), "note", "tip"), ""},
		{"optional pointer null", with(fullReq(), "tip", nil), ""},
		{"required number left out", without(fullReq(), "lat"), "lat: required: missing"},
		{"required with a minimum left out", without(fullReq(), "limit"), "limit: required: missing"},
		{"required pointer left out", without(fullReq(), "must"), "must: required: missing"},
		{"the first missing in declaration order", without(fullReq(), "items", "lat"), "lat: required: missing"},
		{"everything left out", map[string]any{}, "lat: required: missing"},
		{"null number", with(fullReq(), "lat", nil), "lat: type: null where number is required"},
		{"null required pointer", with(fullReq(), "must", nil), "must: type: null where integer is required"},
		{"null array", with(fullReq(), "items", nil), "items: type: null where array is required"},
		{"field missing in an item", with(fullReq(), "items", []any{
			map[string]any{"name": "a", "price": 1.0}, map[string]any{"name": "b"},
		}), "items[1].price: required: missing"},
		{"null item", with(fullReq(), "items", []any{nil}), "items[0]: type: null where Item is required"},
		{"field missing in a map value", with(fullReq(), "bykey", map[string]any{"k": map[string]any{"price": 1.0}}), `bykey["k"].name: required: missing`},
		{"unknown field", with(fullReq(), "extra", []any{1, "x", nil}), ""},
		{"keys in any order", inOrder(t, fullReq(), "must", "lat", "items", "limit", "bykey"), ""},
		{"keys in any order, one missing", inOrder(t, fullReq(), "must", "lat", "items", "bykey"), "limit: required: missing"},
		{"non-text key", []byte{0xa1, 0x01, 0x02}, "lat: required: missing"},
		{"wrong type is the decoder's to refuse", with(fullReq(), "items", "not a list"), ""},
		{"top-level null", nil, "type: null where presenceReq is required"},
		{"not an object", 5, ""},
		{"truncated", []byte{0xa2, 0x63, 'l', 'a'}, "malformed"},
		{"indefinite map", []byte{0xbf, 0xff}, "malformed"},
		{"tag", []byte{0xc1, 0x00}, "malformed"},
		{"trailing bytes", append(enc(t, fullReq()), 0x00), "malformed"},
		{"count beyond the end", []byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "malformed"},
		{"empty", []byte{}, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, ok := tt.in.([]byte)
			if !ok {
				in = enc(t, tt.in)
			}
			err := p.Check(in)
			var viol *Violation
			switch {
			case tt.want == "":
				if err != nil {
					t.Errorf("%x: %v", in, err)
				}
			case tt.want == "malformed":
				if !errors.Is(err, ErrMalformedCBOR) {
					t.Errorf("%x: %v, want ErrMalformedCBOR", in, err)
				}
			case !errors.As(err, &viol) || err.Error() != tt.want:
				t.Errorf("%x: got %v, want %s", in, err, tt.want)
			}
		})
	}
}

func TestPresenceRecursive(t *testing.T) {
	p := presenceOf(t, Node{})
	deep := map[string]any{"label": "a", "children": []any{}}
	for range 10 {
		deep = map[string]any{"label": "a", "children": []any{deep}}
	}
	if err := p.Check(enc(t, deep)); err != nil {
		t.Errorf("10 levels: %v", err)
	}
	lost := map[string]any{"label": "a"}
	for range 3 {
		lost = map[string]any{"label": "a", "children": []any{lost}}
	}
	if err := p.Check(enc(t, lost)); err == nil || err.Error() != "children[0].children[0].children[0].children: required: missing" {
		t.Errorf("a child without children: %v", err)
	}
	// Nested past any decoder's limit: refused without recursing further.
	var b []byte
	for range 10000 {
		b = append(b, 0xa1, 0x68)
		b = append(b, "children"...)
		b = append(b, 0x81)
	}
	if err := p.Check(b); !errors.Is(err, ErrMalformedCBOR) {
		t.Errorf("10000 levels: %v, want ErrMalformedCBOR", err)
	}
}

func TestPresenceManyRequired(t *testing.T) {
	// An object of 300 required fields, more than the scanner keeps on
	// the stack.
	s := &Schema{Type: TypeObject, Properties: map[string]*Schema{}}
	full := map[string]any{}
	for i := range 300 {
		name := "f" + strconv.Itoa(i)
		s.Properties[name] = &Schema{Type: TypeInteger}
		s.Required = append(s.Required, name)
		full[name] = i
	}
	p, err := NewPresence(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check(enc(t, full)); err != nil {
		t.Errorf("all 300: %v", err)
	}
	if err := p.Check(enc(t, without(full, "f299"))); err == nil || err.Error() != "f299: required: missing" {
		t.Errorf("without the last: %v", err)
	}
}

func TestPresenceDoesNotAllocate(t *testing.T) {
	p := presenceOf(t, presenceReq{})
	in := enc(t, fullReq())
	if n := testing.AllocsPerRun(100, func() {
		if err := p.Check(in); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations a check", n)
	}
}

// FuzzPresence checks arbitrary bytes against the presence check of a
// schema with required, optional, nullable, nested and recursive fields,
// and compares with the same rules applied to what the strict decoder
// makes of the bytes: what decodes is never malformed to Check, and Check
// finds a violation exactly when the decoded value has one.
func FuzzPresence(f *testing.F) {
	type fuzzReq struct {
		Lat   float64         `cbor:"lat"`
		Limit int             `cbor:"limit" papi:"minimum=1"`
		Note  string          `cbor:"note,omitempty"`
		Tip   *int            `cbor:"tip"`
		Items []Item          `cbor:"items"`
		Bykey map[string]Item `cbor:"bykey"`
		Tree  *Node           `cbor:"tree"`
	}
	s, defs := derive(f, fuzzReq{})
	p, err := NewPresence(s, defs)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc(f, fuzzReq{}))
	f.Add(enc(f, without(fullReq(), "lat")))
	f.Add(enc(f, map[string]any{"lat": 1, "limit": nil, "items": []any{map[string]any{"name": "x"}}}))
	f.Add(enc(f, map[string]any{"lat": 1, "limit": 1, "items": []any{}, "bykey": map[string]any{}, "tree": map[string]any{"label": "a", "children": []any{map[string]any{}}}}))
	f.Add([]byte{0xa1, 0x01, 0x02})
	f.Add([]byte{0xbf, 0xff})
	dec := canon.NewDecoder(canon.Limits{MaxBytes: 1 << 30, MaxDepth: 64, MaxElements: 1 << 24})
	f.Fuzz(func(t *testing.T, in []byte) {
		err := p.Check(in)
		var v any
		if dec.Unmarshal(in, &v) != nil {
			return // what Check says of bytes no decoder accepts does not matter
		}
		if errors.Is(err, ErrMalformedCBOR) {
			t.Fatalf("%x decodes, but Check: %v", in, err)
		}
		want := presenceViolations(v, s, defs, "")
		var viol *Violation
		switch {
		case err == nil && len(want) > 0:
			t.Fatalf("%x: no violation found, want one of %q", in, want)
		case err != nil && !errors.As(err, &viol):
			t.Fatalf("%x: %v", in, err)
		case err != nil && !slices.Contains(want, err.Error()):
			t.Fatalf("%x: %v, want one of %q", in, err, want)
		}
	})
}

// presenceViolations is what Presence checks, written plainly over a
// decoded value: every violation in it, as Violation.Error writes them.
func presenceViolations(v any, s *Schema, defs map[string]*Schema, path string) []string {
	at := func(rule, detail string) []string {
		return []string{(&Violation{Path: path, Rule: rule, Detail: detail}).Error()}
	}
	if v == nil {
		if s.Nullable {
			return nil
		}
		return at("type", "null where "+typeName(s)+" is required")
	}
	r, _, _ := resolve(s, defs)
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if r.Type != TypeObject {
			return nil
		}
		for _, name := range r.Required {
			if _, ok := x[name]; !ok {
				out = append(out, (&Violation{Path: join(path, name), Rule: "required", Detail: "missing"}).Error())
			}
		}
		for k, e := range x {
			if sub := r.Properties[k]; sub != nil {
				out = append(out, presenceViolations(e, sub, defs, join(path, k))...)
			} else if r.AdditionalProperties != nil {
				out = append(out, presenceViolations(e, r.AdditionalProperties, defs, path+"["+strconv.Quote(k)+"]")...)
			}
		}
	case []any:
		if r.Type != TypeArray {
			return nil
		}
		for i, e := range x {
			out = append(out, presenceViolations(e, r.Items, defs, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}
