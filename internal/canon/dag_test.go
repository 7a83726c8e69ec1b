package canon

import (
	"errors"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

type linked struct {
	L Link    `cbor:"l"`
	F float64 `cbor:"f"`
	E []any   `cbor:"e,omitempty"`
}

func testCid(t testing.TB) cid.Cid {
	t.Helper()
	m, err := mh.Sum([]byte("x"), mh.BLAKE3, 32)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.DagCBOR, m)
}

func TestDAGLinksAndFloats(t *testing.T) {
	c := testCid(t)
	b, err := MarshalDAG(linked{L: Link{c}, F: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	// {"f": 1.5 as float64, "l": 42(h'00' + cid)}
	want := "a26166fb3ff8000000000000616c" + "d82a5825" + "00" + hexOf(c.Bytes())
	if hexOf(b) != want {
		t.Fatalf("got %x\nwant %s", b, want)
	}
	var back linked
	if err := NewDAGDecoder(Limits{}).UnmarshalExact(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.L.Cid != c || back.F != 1.5 {
		t.Fatalf("decoded %+v", back)
	}
	if _, err := MarshalDAG(linked{}); err == nil {
		t.Error("a link to nothing encoded")
	}
}

func TestDAGStrictDecoding(t *testing.T) {
	c := hexOf(testCid(t).Bytes())
	good := "a26166fb3ff8000000000000616cd82a582500" + c
	d := NewDAGDecoder(Limits{MaxBytes: 1 << 10})
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"good", good, nil},
		{"float in 16 bits", "a26166f93e00616cd82a582500" + c, ErrNonCanonical},
		{"link without its zero byte", "a26166fb3ff8000000000000616cd82a5824" + c, ErrTag},
		{"link with a byte after its cid", "a26166fb3ff8000000000000616cd82a582600" + c + "00", ErrTag},
		{"link that is text", "a26166fb3ff8000000000000616cd82a6441424344", ErrTag},
		{"another tag where the link is", "a26166fb3ff8000000000000616cd82b582500" + c, ErrTag},
		{"a tag inside a field of any", "a36165" + "81c24101" + good[2:], ErrTag},
		{"a link inside a field of any", "a36165" + "81d82a582500" + c + good[2:], nil},
		{"a time inside a field of any", "a36165" + "81c11a5f5e1000" + good[2:], ErrTag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v linked
			err := d.UnmarshalExact(mustHex(tt.in), &v)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("UnmarshalExact(%s) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
	// The decoder that is not DAG-CBOR still refuses every tag.
	var v linked
	if err := NewDecoder(Limits{}).Unmarshal(mustHex(good), &v); !errors.Is(err, ErrMalformed) {
		t.Errorf("plain decoder took a link: %v", err)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}
