package canon

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

type doc struct {
	A uint64   `cbor:"a"`
	B string   `cbor:"b,omitempty"`
	C []uint64 `cbor:"c,omitempty"`
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestMarshalIsDeterministic(t *testing.T) {
	m := map[string]int{}
	for i := range 100 {
		m[string(rune('a'+i%26))+string(rune('A'+i/26))] = i
	}
	first, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, _ := Marshal(m)
		if !bytes.Equal(first, again) {
			t.Fatal("map encoded differently on two runs")
		}
	}
	// Times are RFC 3339 text, with no tag; nil slices are empty arrays.
	b, _ := Marshal(struct {
		T time.Time `cbor:"t"`
		S []int     `cbor:"s"`
	}{T: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if want := "a2617380617474323032362d30312d30325430333a30343a30355a"; hex.EncodeToString(b) != want {
		t.Errorf("got %x, want %s", b, want)
	}
}

func TestStrictDecoding(t *testing.T) {
	good, _ := Marshal(doc{A: 1, B: "x"})
	d := NewDecoder(Limits{MaxBytes: 64, MaxDepth: 4, MaxElements: 16}) // 16 is the library's floor
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated", good[:len(good)-1], ErrMalformed},
		{"trailing bytes", append(bytes.Clone(good), 0x00), ErrMalformed},
		{"keys out of order", mustHex("a261626178616101"), ErrNonCanonical}, // {"b":"x","a":1}
		{"integer not in shortest form", mustHex("a161611801"), ErrNonCanonical},
		{"duplicate keys", mustHex("a2616101616102"), ErrMalformed}, // {"a":1,"a":2}
		{"tag", mustHex("a16161c101"), ErrMalformed},                // {"a": 1(1)}
		{"indefinite length", mustHex("bf616101ff"), ErrMalformed},
		{"too deep", mustHex("a161618181818181818100"), ErrMalformed},
		{"too many elements", mustHex("a16163910102030405060708090a0b0c0d0e0f1011"), ErrMalformed},
		{"too large", bytes.Repeat([]byte{0}, 65), ErrTooLarge},
		{"NaN", mustHex("a16161f97e00"), ErrMalformed},
		{"unknown field", mustHex("a2616101617801"), ErrNonCanonical},
		{"invalid utf-8", mustHex("a1616162fffe"), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v doc
			if err := d.UnmarshalExact(tt.in, &v); !errors.Is(err, tt.want) {
				t.Errorf("UnmarshalExact(%x) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
	var v doc
	if err := d.UnmarshalExact(good, &v); err != nil || v.A != 1 || v.B != "x" {
		t.Fatalf("canonical input: %+v, %v", v, err)
	}
}
