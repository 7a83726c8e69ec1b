package spec

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/papi-dev/papi/internal/canon"
)

func decodeJSON(t testing.TB, in string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(in))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

const goodOrderJSON = `{"id":"ab-1","kind":"pickup","items":[{"name":"tea","price":2}],"note":null,"tip":5,
	"meta":{"k":"v"},"blob":"AQI=","when":"2026-01-02T03:04:05.5Z","wait":-1e3,"digest":"AAECAw==","small":2.0,
	"party":"host","addr":"wAACAQ==","GoName":true}`

// TestConformRoundTrip conforms JSON, encodes it as papi would send it, and
// decodes that into the Go type: the result is the value the JSON wrote.
func TestConformRoundTrip(t *testing.T) {
	s, defs := derive(t, Order{})
	out, err := Conform(decodeJSON(t, goodOrderJSON), s, defs)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := canon.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var got Order
	if err := canon.NewDecoder(canon.Limits{}).Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := Order{
		ID: "ab-1", Kind: "pickup", Items: []Item{{Name: "tea", Price: 2}}, Tip: ptr(5), Meta: map[string]string{"k": "v"},
		Blob: []byte{1, 2}, When: time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC), Wait: -1000, Digest: [4]byte{0, 1, 2, 3},
		Small: 2, Party: "host", Addr: netip.MustParseAddr("192.0.2.1"), GoName: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if err := check(t, got); err != nil {
		t.Errorf("conformed value breaks a condition: %v", err)
	}
	m := out.(map[string]any)
	if _, ok := m["tip"].(uint64); !ok {
		t.Errorf("tip is a %T", m["tip"])
	}
	if _, ok := m["wait"].(int64); !ok {
		t.Errorf("wait is a %T", m["wait"])
	}
}

// TestConformWhatCanonSends takes values as canon.Marshal encodes them,
// decodes them generically, as a tool would, and conforms them: the
// schema describes the encoding if the bytes come back the same.
func TestConformWhatCanonSends(t *testing.T) {
	type Numbers struct {
		I8  int8    `cbor:"i8"`
		I64 int64   `cbor:"i64"`
		U64 uint64  `cbor:"u64"`
		F32 float32 `cbor:"f32"`
		F64 float64 `cbor:"f64"`
	}
	for _, v := range []any{
		fullOrder(), validOrder(), Node{Label: "a", Children: []Node{{Label: "b"}}},
		Ping{N: 1, Next: &Pong{}}, Page[Item]{Entries: []Item{{Name: "x", Price: 1.5}}},
		Numbers{math.MinInt8, math.MinInt64, math.MaxUint64, 0.1, -1e300},
		map[string][]*Item{"a": {nil, {Name: "b"}}},
	} {
		t.Run(reflect.TypeOf(v).String(), func(t *testing.T) {
			raw, err := canon.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var generic any
			if err := canon.Unmarshal(raw, &generic); err != nil {
				t.Fatal(err)
			}
			s, defs := derive(t, v)
			out, err := Conform(generic, s, defs)
			if err != nil {
				t.Fatal(err)
			}
			again, err := canon.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, again) {
				t.Errorf("conformed value encodes differently:\n%x\n%x", raw, again)
			}
		})
	}
}

func TestConformRejects(t *testing.T) {
	s, defs := derive(t, Order{})
	swap := func(old, new string) string {
		if !strings.Contains(goodOrderJSON, old) {
			t.Fatalf("%q is not in the good order", old)
		}
		return strings.Replace(goodOrderJSON, old, new, 1)
	}
	tests := []struct{ name, in, path, rule string }{
		{"not an object", `[1]`, "", "type"},
		{"unknown field", swap(`"GoName":true`, `"GoName":true,"bogus":1`), "bogus", "additionalProperties"},
		{"missing required", swap(`"id":"ab-1",`, ``), "id", "required"},
		{"missing required pointer", swap(`"tip":5,`, ``), "tip", "required"},
		{"null where not nullable", swap(`"tip":5`, `"tip":null`), "tip", "type"},
		{"not integral", swap(`"tip":5`, `"tip":5.5`), "tip", "type"},
		{"integer as text", swap(`"tip":5`, `"tip":"5"`), "tip", "type"},
		{"out of format range", swap(`"small":2.0`, `"small":300`), "small", "format"},
		{"out of every range", swap(`"wait":-1e3`, `"wait":1e30`), "wait", "format"},
		{"integer minimum", swap(`"tip":5`, `"tip":-1`), "tip", "minimum"},
		{"integer maximum", swap(`"tip":5`, `"tip":1e3`), "tip", "maximum"},
		{"integer enum", swap(`"small":2.0`, `"small":4`), "small", "enum"},
		{"number minimum", swap(`"price":2`, `"price":-0.5`), "items[0].price", "minimum"},
		{"number as text", swap(`"price":2`, `"price":"2"`), "items[0].price", "type"},
		{"not base64", swap(`"AQI="`, `"*"`), "blob", "contentEncoding"},
		{"bytes maxLength", swap(`"AQI="`, `"AQIDBAU="`), "blob", "maxLength"},
		{"fixed bytes", swap(`"AAECAw=="`, `"AAEC"`), "digest", "minLength"},
		{"string minLength", swap(`"tea"`, `""`), "items[0].name", "minLength"},
		{"string maxLength", swap(`"note":null`, `"note":"ñññññ!"`), "note", "maxLength"},
		{"pattern", swap(`"ab-1"`, `"AB-1"`), "id", "pattern"},
		{"string enum", swap(`"pickup"`, `"drone"`), "kind", "enum"},
		{"bad date-time", swap(`2026-01-02T03:04:05.5Z`, `yesterday`), "when", "format"},
		{"minItems", swap(`[{"name":"tea","price":2}]`, `[]`), "items", "minItems"},
		{"maxItems", swap(`[{"name":"tea","price":2}]`, `[{"name":"a","price":1},{"name":"a","price":1},{"name":"a","price":1},{"name":"a","price":1}]`), "items", "maxItems"},
		{"map value", swap(`{"k":"v"}`, `{"k":"v","j":1}`), `meta["j"]`, "type"},
		{"boolean", swap(`"GoName":true`, `"GoName":1`), "GoName", "type"},
		{"array", swap(`[{"name":"tea","price":2}]`, `{}`), "items", "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Conform(decodeJSON(t, tt.in), s, defs)
			wantViolation(t, err, tt.path, tt.rule)
		})
	}
	if _, err := Conform(map[string]any{}, &Schema{Ref: "#/$defs/Nowhere"}, nil); err == nil {
		t.Error("a dangling $ref conformed")
	}
}

func TestConformIntegers(t *testing.T) {
	tests := []struct {
		in     any
		format string
		want   any // nil: refused
	}{
		{json.Number("5"), "int8", uint64(5)},
		{json.Number("-0"), "uint8", uint64(0)},
		{json.Number("5.000"), "int8", uint64(5)},
		{json.Number("1e2"), "int8", uint64(100)},
		{json.Number("1E+2"), "int8", uint64(100)},
		{json.Number("12.5e1"), "int16", uint64(125)},
		{json.Number("1250e-1"), "int16", uint64(125)},
		{json.Number("0.5e1"), "int16", uint64(5)},
		{json.Number("-128"), "int8", int64(-128)},
		{json.Number("-129"), "int8", nil},
		{json.Number("127"), "int8", uint64(127)},
		{json.Number("128"), "int8", nil},
		{json.Number("255"), "uint8", uint64(255)},
		{json.Number("256"), "uint8", nil},
		{json.Number("-1"), "uint64", nil},
		{json.Number("9007199254740993"), "int64", uint64(9007199254740993)}, // not a float64
		{json.Number("9223372036854775807"), "int64", uint64(math.MaxInt64)},
		{json.Number("9223372036854775808"), "int64", nil},
		{json.Number("-9223372036854775808"), "int64", int64(math.MinInt64)},
		{json.Number("-9223372036854775809"), "int64", nil},
		{json.Number("18446744073709551615"), "uint64", uint64(math.MaxUint64)},
		{json.Number("18446744073709551616"), "uint64", nil},
		{json.Number("1e19"), "uint64", uint64(1e19)},
		{json.Number("1e20"), "uint64", nil},
		{json.Number("0e999999999"), "int8", uint64(0)},
		{json.Number("1e-999999999"), "int8", nil},
		{json.Number("0.1"), "int8", nil},
		{json.Number("1.5e0"), "int8", nil},
		{json.Number("x"), "int8", nil},
		{json.Number("1e"), "int8", nil},
		{json.Number(".5"), "int8", nil},
		{float64(3), "int32", uint64(3)},
		{float64(-3), "int32", int64(-3)},
		{float64(3.5), "int32", nil},
		{math.Inf(1), "int64", nil},
		{float64(1 << 63), "uint64", uint64(1 << 63)},
		{float64(1 << 63), "int64", nil},
		{int64(-7), "int8", int64(-7)},
		{uint64(math.MaxUint64), "uint64", uint64(math.MaxUint64)},
		{big.NewInt(-5), "int8", int64(-5)},
		{new(big.Int).Lsh(big.NewInt(1), 70), "uint64", nil},
		{"5", "int8", nil},
		{true, "int8", nil},
	}
	for _, tt := range tests {
		got, err := Conform(tt.in, &Schema{Type: TypeInteger, Format: tt.format}, nil)
		switch {
		case tt.want == nil && err == nil:
			t.Errorf("%v as %s: accepted as %v", tt.in, tt.format, got)
		case tt.want != nil && (err != nil || got != tt.want):
			t.Errorf("%v as %s: %#v, %v; want %#v", tt.in, tt.format, got, err, tt.want)
		}
	}
}

func TestConformNumbers(t *testing.T) {
	tests := []struct {
		in     any
		format string
		want   any
	}{
		{json.Number("0.1"), "double", 0.1},
		{json.Number("0.1"), "float", float32(0.1)},
		{json.Number("1e300"), "double", 1e300},
		{json.Number("1e300"), "float", nil},
		{json.Number("1e400"), "double", nil},
		{json.Number("nope"), "double", nil},
		{uint64(3), "double", 3.0},
		{int64(-3), "double", -3.0},
		{math.NaN(), "double", nil},
	}
	for _, tt := range tests {
		got, err := Conform(tt.in, &Schema{Type: TypeNumber, Format: tt.format}, nil)
		switch {
		case tt.want == nil && err == nil:
			t.Errorf("%v as %s: accepted as %v", tt.in, tt.format, got)
		case tt.want != nil && (err != nil || got != tt.want):
			t.Errorf("%v as %s: %#v, %v; want %#v", tt.in, tt.format, got, err, tt.want)
		}
	}
	// A float32 field's bounds hold at float32 precision, as Check has them.
	s := &Schema{Type: TypeNumber, Format: "float", Maximum: ptr(0.1)}
	if _, err := Conform(json.Number("0.1"), s, nil); err != nil {
		t.Error(err)
	}
	// Integer enum values in a number schema, as another encoder might write them.
	s = &Schema{Type: TypeNumber, Format: "double", Enum: []any{uint64(2), int64(-1)}}
	if _, err := Conform(json.Number("-1"), s, nil); err != nil {
		t.Error(err)
	}
}

func TestConformDeterministicViolation(t *testing.T) {
	s, defs := derive(t, Order{})
	in := decodeJSON(t, `{"zz":1,"aa":2,"mm":3}`)
	for range 20 {
		_, err := Conform(in, s, defs)
		wantViolation(t, err, "aa", "additionalProperties")
	}
}

func FuzzConform(f *testing.F) {
	f.Add(goodOrderJSON)
	f.Add(`{"tip":1e400}`)
	f.Add(`[[[[[[]]]]]]`)
	f.Add(`{"wait":-9223372036854775808,"small":-1e2}`)
	// Order without its netip.Addr, whose MarshalBinary bytes have a form
	// no schema states: Conform lets any bytes through for it.
	type fuzzOrder struct {
		ID     string            `cbor:"id" papi:"pattern=^[a-z]{2,4}-[0-9]+$"`
		Kind   string            `cbor:"kind" papi:"enum=pickup|delivery"`
		Items  []Item            `cbor:"items" papi:"minItems=1,maxItems=3"`
		Note   *string           `cbor:"note" papi:"maxLength=5"`
		Tip    *int              `cbor:"tip" papi:"required,minimum=0,maximum=100"`
		Meta   map[string]string `json:"meta"`
		Blob   []byte            `cbor:"blob,omitempty" papi:"maxLength=4"`
		When   time.Time         `cbor:"when"`
		Wait   time.Duration     `cbor:"wait"`
		Digest [4]byte           `cbor:"digest"`
		Small  int8              `cbor:"small" papi:"enum=1|2|3"`
		Party  Party             `cbor:"party" doc:"who pays"`
		GoName bool
	}
	b := NewBuilder()
	s, _ := b.Schema(reflect.TypeFor[fuzzOrder]())
	defs := b.Defs()
	f.Fuzz(func(t *testing.T, in string) {
		d := json.NewDecoder(strings.NewReader(in))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return
		}
		out, err := Conform(v, s, defs)
		if err != nil {
			return
		}
		raw, err := canon.Marshal(out)
		if err != nil {
			t.Fatalf("conformed value does not encode: %v", err)
		}
		// What Conform lets through, the typed side accepts.
		var o fuzzOrder
		if err := canon.Unmarshal(raw, &o); err != nil {
			t.Fatalf("conformed value does not decode: %v", err)
		}
		if err := check(t, o); err != nil {
			t.Fatalf("conformed value breaks a condition: %v", err)
		}
	})
}

// TestConformCBORShapes conforms the shapes a CBOR decoder without papi's
// options gives: maps with keys of type any, bytes for base64 fields.
func TestConformCBORShapes(t *testing.T) {
	s, defs := derive(t, Item{})
	out, err := Conform(map[any]any{"name": "tea", "price": uint64(2)}, s, defs)
	if err != nil {
		t.Fatal(err)
	}
	if m := out.(map[string]any); m["price"] != 2.0 || m["name"] != "tea" {
		t.Errorf("conformed %#v", m)
	}
	_, err = Conform(map[any]any{uint64(1): "tea"}, s, defs)
	wantViolation(t, err, "", "type")
	b, err := Conform([]byte{1, 2}, &Schema{Type: TypeString, ContentEncoding: "base64"}, nil)
	if err != nil || !bytes.Equal(b.([]byte), []byte{1, 2}) {
		t.Errorf("bytes: %v, %v", b, err)
	}
	b, err = Conform("AQI", &Schema{Type: TypeString, ContentEncoding: "base64"}, nil)
	if err != nil || !bytes.Equal(b.([]byte), []byte{1, 2}) {
		t.Errorf("unpadded base64: %v, %v", b, err)
	}
}
