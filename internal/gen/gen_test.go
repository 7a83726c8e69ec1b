package gen

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// generated is the Go papi gen writes for api, with its spec and hash.
type generated struct {
	spec *spec.Spec
	hash string
	src  []byte
	file *goFile
}

func generate(t *testing.T, name string, api *papi.API) generated {
	t.Helper()
	s, err := api.Spec()
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.Hash()
	if err != nil {
		t.Fatal(err)
	}
	model, err := Walk(s)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	opts := GoOptions{Package: name, APIHash: h.String()}
	src, err := Go(model, opts)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	file, err := newGoFile(model, opts.Package, opts.APIHash)
	if err != nil {
		t.Fatal(err)
	}
	return generated{spec: s, hash: h.String(), src: src, file: file}
}

// TestGolden compares what papi gen writes for each tricky API with the
// file committed under testdata; go test -run Golden -update rewrites them
// after a change made on purpose.
func TestGolden(t *testing.T) {
	apis := trickyAPIs(t)
	for _, name := range slices.Sorted(maps.Keys(apis)) {
		t.Run(name, func(t *testing.T) {
			g := generate(t, name, apis[name])
			path := filepath.Join("testdata", name+".go.golden")
			if *update {
				if err := os.WriteFile(path, g.src, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -run Golden -update writes it)", err)
			}
			if !bytes.Equal(g.src, want) {
				t.Errorf("papi gen go wrote other Go than %s (go test -run Golden -update, after a change made on purpose):\n%s", path, g.src)
			}
			// The same spec gives the same bytes: nothing depends on the
			// order of a map.
			for range 5 {
				if again := generate(t, name, apis[name]); !bytes.Equal(again.src, g.src) {
					t.Fatal("two generations of one spec differ")
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestNotExpressible feeds specs that no Go type derives (a peer may send
// any valid spec): generation fails naming the place, rather than writing
// types that would describe other values.
func TestNotExpressible(t *testing.T) {
	str := func(mod func(s *spec.Schema)) *spec.Schema {
		s := &spec.Schema{Type: spec.TypeString}
		mod(s)
		return s
	}
	object := func(field *spec.Schema, required bool) *spec.Schema {
		o := &spec.Schema{Type: spec.TypeObject, Properties: map[string]*spec.Schema{"f": field}}
		if required {
			o.Required = []string{"f"}
		}
		return o
	}
	tests := []struct {
		name   string
		schema *spec.Schema
		want   string
	}{
		{"lengths on items", &spec.Schema{Type: spec.TypeArray, Items: str(func(s *spec.Schema) { s.MinLength = ptr[uint64](1) })},
			"request[]: lengths on a string"},
		{"pattern on a request", str(func(s *spec.Schema) { s.Pattern = "a" }), "request: conditions on string"},
		{"item counts on map values", &spec.Schema{Type: spec.TypeObject, AdditionalProperties: &spec.Schema{Type: spec.TypeArray, Items: str(func(*spec.Schema) {}), MaxItems: ptr[uint64](3)}},
			"request{}: item counts"},
		{"nullable and required", object(str(func(s *spec.Schema) { s.Nullable = true }), true), "request.f: nullable and required"},
		{"a time neither nullable nor required", object(&spec.Schema{Type: spec.TypeString, Format: "date-time"}, false), "request.f: a time that is neither"},
		{"a time not nullable among items", &spec.Schema{Type: spec.TypeArray, Items: &spec.Schema{Type: spec.TypeString, Format: "date-time"}}, "request[]: a time that is not nullable"},
		{"an enum value with a bar", object(str(func(s *spec.Schema) { s.Enum = []any{"a|b"} }), true), `request.f: enum value "a|b"`},
		{"an enum value with a comma", object(str(func(s *spec.Schema) { s.Enum = []any{"a,b"} }), true), "it holds | or ,"},
		{"an enum of one empty text", object(str(func(s *spec.Schema) { s.Enum = []any{""} }), true), "cannot be written in a papi tag"},
		{"an enum with blanks at its ends", object(str(func(s *spec.Schema) { s.Enum = []any{" a", "b"} }), true), "lose blanks"},
		{"an enum value past int8", object(&spec.Schema{Type: spec.TypeInteger, Format: "int8", Enum: []any{uint64(128)}}, true), "enum value 128 does not fit int8"},
		{"a negative enum value of a uint", object(&spec.Schema{Type: spec.TypeInteger, Format: "uint16", Enum: []any{int64(-1)}}, true), "enum value -1 does not fit uint16"},
		{"an enum value no float32 holds", object(&spec.Schema{Type: spec.TypeNumber, Format: "float", Enum: []any{0.1}}, true), "is no float32"},
		{"a field name with a comma", &spec.Schema{Type: spec.TypeObject, Properties: map[string]*spec.Schema{"a,b": str(func(*spec.Schema) {})}, Required: []string{"a,b"}},
			"a field name with a comma"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &spec.Spec{Name: "x", Version: "1", Methods: []spec.Method{{Name: "M", Request: tt.schema, Response: &spec.Schema{Type: spec.TypeBoolean}}}}
			model, err := Walk(s)
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			_, err = Go(model, GoOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Go: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestWalkRefusesAnInvalidSpec: the walk checks what it is given.
func TestWalkRefusesAnInvalidSpec(t *testing.T) {
	s := &spec.Spec{Name: "x", Methods: []spec.Method{{Name: "M", Request: &spec.Schema{Ref: "#/$defs/Missing"}, Response: &spec.Schema{Type: spec.TypeBoolean}}}}
	if _, err := Walk(s); err == nil || !strings.Contains(err.Error(), "does not resolve") {
		t.Fatalf("Walk of a spec with a dangling $ref: %v", err)
	}
}

func TestPackageName(t *testing.T) {
	tests := []struct{ api, want string }{
		{"booths", "booths"},
		{"polling-stations", "pollingstations"},
		{"Signup.V2", "signupv2"},
		{"2fa", "fa"},
		{"type", "api"},
		{"string", "api"},
		{"...", "api"},
	}
	for _, tt := range tests {
		if got := packageName(tt.api); got != tt.want {
			t.Errorf("packageName(%q) = %q, want %q", tt.api, got, tt.want)
		}
	}
	model, err := Walk(&spec.Spec{Name: "x", Version: "1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"func", "my-pkg", "_", "1x"} {
		if _, err := Go(model, GoOptions{Package: bad}); err == nil {
			t.Errorf("Go with package %q: no error", bad)
		}
	}
}

func TestExportedName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"lat", "Lat"},
		{"user_id", "UserID"},
		{"kebab-case", "KebabCase"},
		{"createdAt", "CreatedAt"},
		{"UPPER", "UPPER"},
		{"1st", "X1st"},
		{"übung", "Übung"},
		{"名前", "X名前"},
		{"-", "X"},
		{"url", "URL"},
	}
	for _, tt := range tests {
		if got := exportedName(tt.in); got != tt.want {
			t.Errorf("exportedName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
