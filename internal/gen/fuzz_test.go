package gen

import (
	"bytes"
	"go/parser"
	"go/token"
	"maps"
	"slices"
	"testing"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/spec"
)

// specDecoder decodes as papi does a spec that arrives from a peer, with
// the same limits.
var specDecoder = canon.NewDecoder(canon.Limits{MaxBytes: 8 << 20, MaxDepth: 200, MaxElements: 1 << 16})

// FuzzGo feeds papi gen go specs as a peer may send them: any bytes that
// decode to a valid spec. Generation never panics, and what it writes is
// Go that parses, the same every time.
func FuzzGo(f *testing.F) {
	apis := trickyAPIs(f)
	for _, name := range slices.Sorted(maps.Keys(apis)) {
		s, err := apis[name].Spec()
		if err != nil {
			f.Fatal(err)
		}
		b, err := canon.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var s spec.Spec
		if err := specDecoder.UnmarshalExact(in, &s); err != nil {
			return
		}
		model, err := Walk(&s)
		if err != nil {
			return
		}
		src, err := Go(model, GoOptions{})
		if err != nil {
			return
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "generated.go", src, parser.ParseComments); err != nil {
			t.Fatalf("generated Go does not parse: %v\n%s", err, src)
		}
		if again, _ := Go(model, GoOptions{}); !bytes.Equal(again, src) {
			t.Fatal("two generations of one spec differ")
		}
	})
}
