package spec

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// specJSON reads a spec written as JSON, as a test writes one by hand.
func specJSON(t testing.TB, text string) *Spec {
	t.Helper()
	var s Spec
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		t.Fatalf("%v in %s", err, text)
	}
	return &s
}

// oneMethod is a spec of one method M whose schema in direction dir is
// schema, the other direction a boolean, with defs.
func oneMethod(t testing.TB, dir Direction, schema, defs string) *Spec {
	t.Helper()
	req, resp := schema, `{"type":"boolean"}`
	if dir == Response {
		req, resp = resp, schema
	}
	if defs == "" {
		defs = "{}"
	}
	return specJSON(t, fmt.Sprintf(`{"name":"a","version":"1","methods":[{"name":"M","request":%s,"response":%s}],"$defs":%s}`, req, resp, defs))
}

// verdicts writes changes as "breaking kind path" lines, to compare with
// what a case expects.
func verdicts(changes []Change) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		v := "compatible"
		if c.Breaking {
			v = "breaking"
		}
		out[i] = strings.TrimSpace(fmt.Sprintf("%s %s %s", v, c.Kind, c.Path))
	}
	return out
}

const (
	point    = `{"type":"object","properties":{"lat":{"type":"number","format":"double","minimum":-90},"n":{"type":"integer","format":"int32"}},"required":["lat","n"]}`
	stopDefs = `{"Station":{"type":"object","properties":{"name":{"type":"string","maxLength":20},"next":{"$ref":"#/$defs/Station","nullable":true}},"required":["name"]}}`
	stopsRef = `{"type":"object","properties":{"stations":{"type":"array","items":{"$ref":"#/$defs/Station"}}},"required":["stations"]}`
)

func TestDiffVerdicts(t *testing.T) {
	tests := []struct {
		name           string
		dir            Direction
		old, new       string // schemas of M in dir
		oldDefs, defs  string
		want           []string // "breaking|compatible kind path", in order
		wantBreaking   bool
		oldSpec, nSpec string // whole specs, in place of the above
	}{
		{name: "identical", dir: Request, old: point, new: point},
		{name: "method added", oldSpec: `{"methods":[{"name":"A","request":{"type":"string"},"response":{"type":"string"}}]}`,
			nSpec: `{"methods":[{"name":"A","request":{"type":"string"},"response":{"type":"string"}},{"name":"B","request":{"type":"string"},"response":{"type":"integer"}}]}`,
			want:  []string{"compatible method-added"}},
		{name: "method removed", oldSpec: `{"methods":[{"name":"A","request":{"type":"string"},"response":{"type":"string"}},{"name":"B","request":{"type":"string"},"response":{"type":"integer"}}]}`,
			nSpec: `{"methods":[{"name":"A","request":{"type":"string"},"response":{"type":"string"}}]}`,
			want:  []string{"breaking method-removed"}, wantBreaking: true},
		{name: "method renamed", oldSpec: `{"methods":[{"name":"A","request":{"type":"string"},"response":{"type":"string"}}]}`,
			nSpec: `{"methods":[{"name":"B","request":{"type":"string"},"response":{"type":"string"}}]}`,
			want:  []string{"breaking method-renamed"}, wantBreaking: true},
		{name: "method removed, another of other types added", oldSpec: `{"methods":[{"name":"A","request":{"type":"string"},"response":{"type":"string"}}]}`,
			nSpec: `{"methods":[{"name":"B","request":{"type":"integer"},"response":{"type":"string"}}]}`,
			want:  []string{"breaking method-removed", "compatible method-added"}, wantBreaking: true},
		{name: "name, version and description", oldSpec: `{"name":"a","version":"1","methods":[]}`, nSpec: `{"name":"b","version":"2","description":"now with words","methods":[]}`,
			want: []string{"compatible name-changed", "compatible version-changed", "compatible description-changed"}},
		{name: "request: optional field added", dir: Request, old: point,
			new:  `{"type":"object","properties":{"lat":{"type":"number","format":"double","minimum":-90},"n":{"type":"integer","format":"int32"},"x":{"type":"string"}},"required":["lat","n"]}`,
			want: []string{"compatible field-added x"}},
		{name: "request: required field added", dir: Request, old: point,
			new:  `{"type":"object","properties":{"lat":{"type":"number","format":"double","minimum":-90},"n":{"type":"integer","format":"int32"},"x":{"type":"string"}},"required":["lat","n","x"]}`,
			want: []string{"breaking field-added x"}, wantBreaking: true},
		{name: "response: required field added", dir: Response, old: point,
			new:  `{"type":"object","properties":{"lat":{"type":"number","format":"double","minimum":-90},"n":{"type":"integer","format":"int32"},"x":{"type":"string"}},"required":["lat","n","x"]}`,
			want: []string{"compatible field-added x"}},
		{name: "request: field removed", dir: Request, old: point,
			new:  `{"type":"object","properties":{"lat":{"type":"number","format":"double","minimum":-90}},"required":["lat"]}`,
			want: []string{"breaking field-removed n"}, wantBreaking: true},
		{name: "response: required field removed", dir: Response, old: point,
			new:  `{"type":"object","properties":{"lat":{"type":"number","format":"double","minimum":-90}},"required":["lat"]}`,
			want: []string{"breaking field-removed n"}, wantBreaking: true},
		{name: "response: optional field removed", dir: Response,
			old:  `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["a"]}`,
			new:  `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`,
			want: []string{"compatible field-removed b"}},
		{name: "request: field renamed", dir: Request, old: point,
			new:  `{"type":"object","properties":{"latitude":{"type":"number","format":"double","minimum":-90},"n":{"type":"integer","format":"int32"}},"required":["latitude","n"]}`,
			want: []string{"breaking field-renamed latitude"}, wantBreaking: true},
		{name: "response: field renamed", dir: Response, old: point,
			new:  `{"type":"object","properties":{"lat":{"type":"number","format":"double","minimum":-90},"count":{"type":"integer","format":"int32"}},"required":["lat","count"]}`,
			want: []string{"breaking field-renamed count"}, wantBreaking: true},
		{name: "request: integer widened to number", dir: Request, old: `{"type":"integer","format":"int64"}`, new: `{"type":"number","format":"double"}`,
			want: []string{"compatible type-changed"}},
		{name: "response: integer widened to number", dir: Response, old: `{"type":"integer","format":"int64"}`, new: `{"type":"number","format":"double"}`,
			want: []string{"breaking type-changed"}, wantBreaking: true},
		{name: "request: number narrowed to integer", dir: Request, old: `{"type":"number","format":"double"}`, new: `{"type":"integer","format":"int64"}`,
			want: []string{"breaking type-changed"}, wantBreaking: true},
		{name: "response: number narrowed to integer", dir: Response, old: `{"type":"number","format":"double"}`, new: `{"type":"integer","format":"int64"}`,
			want: []string{"compatible type-changed"}},
		{name: "request: int32 widened to int64", dir: Request, old: point,
			new:  `{"type":"object","properties":{"lat":{"type":"number","format":"double","minimum":-90},"n":{"type":"integer","format":"int64"}},"required":["lat","n"]}`,
			want: []string{"compatible type-changed n"}},
		{name: "response: int32 widened to int64", dir: Response, old: point,
			new:  `{"type":"object","properties":{"lat":{"type":"number","format":"double","minimum":-90},"n":{"type":"integer","format":"int64"}},"required":["lat","n"]}`,
			want: []string{"breaking type-changed n"}, wantBreaking: true},
		{name: "request: int64 narrowed to uint8", dir: Request, old: `{"type":"integer","format":"int64"}`, new: `{"type":"integer","format":"uint8"}`,
			want: []string{"breaking type-changed"}, wantBreaking: true},
		{name: "response: double narrowed to float", dir: Response, old: `{"type":"number","format":"double"}`, new: `{"type":"number","format":"float"}`,
			want: []string{"compatible type-changed"}},
		{name: "string to integer", dir: Response, old: `{"type":"string"}`, new: `{"type":"integer","format":"int64"}`,
			want: []string{"breaking type-changed"}, wantBreaking: true},
		{name: "text to bytes", dir: Request, old: `{"type":"string"}`, new: `{"type":"string","contentEncoding":"base64"}`,
			want: []string{"breaking type-changed"}, wantBreaking: true},
		{name: "response: date-time to any text", dir: Response, old: `{"type":"string","format":"date-time"}`, new: `{"type":"string"}`,
			want: []string{"breaking type-changed"}, wantBreaking: true},
		{name: "object to map", dir: Request, old: point, new: `{"type":"object","additionalProperties":{"type":"number"}}`,
			want: []string{"breaking type-changed"}, wantBreaking: true},
		{name: "request: value to pointer", dir: Request,
			old:  `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`,
			new:  `{"type":"object","properties":{"a":{"type":"string","nullable":true}}}`,
			want: []string{"compatible required-changed a", "compatible nullable-changed a"}},
		{name: "request: pointer to value", dir: Request,
			old:  `{"type":"object","properties":{"a":{"type":"string","nullable":true}}}`,
			new:  `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`,
			want: []string{"breaking required-changed a", "breaking nullable-changed a"}, wantBreaking: true},
		{name: "response: value to pointer", dir: Response,
			old:  `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`,
			new:  `{"type":"object","properties":{"a":{"type":"string","nullable":true}}}`,
			want: []string{"breaking required-changed a", "breaking nullable-changed a"}, wantBreaking: true},
		{name: "response: pointer to value", dir: Response,
			old:  `{"type":"object","properties":{"a":{"type":"string","nullable":true}}}`,
			new:  `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`,
			want: []string{"compatible required-changed a", "compatible nullable-changed a"}},
		{name: "request: minimum loosened", dir: Request, old: `{"type":"number","minimum":-90}`, new: `{"type":"number","minimum":-180}`,
			want: []string{"compatible condition-changed"}},
		{name: "request: minimum tightened", dir: Request, old: `{"type":"number","minimum":-90}`, new: `{"type":"number","minimum":-80}`,
			want: []string{"breaking condition-changed"}, wantBreaking: true},
		{name: "response: maximum tightened", dir: Response, old: `{"type":"number","maximum":90}`, new: `{"type":"number","maximum":80}`,
			want: []string{"compatible condition-changed"}},
		{name: "response: maximum removed", dir: Response, old: `{"type":"number","maximum":90}`, new: `{"type":"number"}`,
			want: []string{"breaking condition-changed"}, wantBreaking: true},
		{name: "request: maxLength added", dir: Request, old: `{"type":"string"}`, new: `{"type":"string","maxLength":8}`,
			want: []string{"breaking condition-changed"}, wantBreaking: true},
		{name: "request: minLength removed", dir: Request, old: `{"type":"string","minLength":1}`, new: `{"type":"string"}`,
			want: []string{"compatible condition-changed"}},
		{name: "response: maxItems loosened", dir: Response, old: `{"type":"array","items":{"type":"string"},"maxItems":20}`, new: `{"type":"array","items":{"type":"string"},"maxItems":50}`,
			want: []string{"breaking condition-changed"}, wantBreaking: true},
		{name: "request: minItems loosened", dir: Request, old: `{"type":"array","items":{"type":"string"},"minItems":2}`, new: `{"type":"array","items":{"type":"string"},"minItems":1}`,
			want: []string{"compatible condition-changed"}},
		{name: "request: pattern changed", dir: Request, old: `{"type":"string","pattern":"^[a-z]+$"}`, new: `{"type":"string","pattern":"^[a-z0-9]+$"}`,
			want: []string{"breaking condition-changed"}, wantBreaking: true},
		{name: "response: pattern changed", dir: Response, old: `{"type":"string","pattern":"^[a-z]+$"}`, new: `{"type":"string","pattern":"^[a-z0-9]+$"}`,
			want: []string{"breaking condition-changed"}, wantBreaking: true},
		{name: "request: pattern removed", dir: Request, old: `{"type":"string","pattern":"^[a-z]+$"}`, new: `{"type":"string"}`,
			want: []string{"compatible condition-changed"}},
		{name: "response: pattern added", dir: Response, old: `{"type":"string"}`, new: `{"type":"string","pattern":"^[a-z]+$"}`,
			want: []string{"compatible condition-changed"}},
		{name: "request: enum value added", dir: Request, old: `{"type":"string","enum":["a","b"]}`, new: `{"type":"string","enum":["a","b","c"]}`,
			want: []string{"compatible condition-changed"}},
		{name: "response: enum value added", dir: Response, old: `{"type":"string","enum":["a","b"]}`, new: `{"type":"string","enum":["a","b","c"]}`,
			want: []string{"breaking condition-changed"}, wantBreaking: true},
		{name: "request: enum value removed", dir: Request, old: `{"type":"string","enum":["a","b"]}`, new: `{"type":"string","enum":["a"]}`,
			want: []string{"breaking condition-changed"}, wantBreaking: true},
		{name: "response: enum value removed", dir: Response, old: `{"type":"string","enum":["a","b"]}`, new: `{"type":"string","enum":["a"]}`,
			want: []string{"compatible condition-changed"}},
		{name: "enum reordered", dir: Response, old: `{"type":"string","enum":["a","b"]}`, new: `{"type":"string","enum":["b","a"]}`},
		{name: "request: nested $defs tightened", dir: Request, old: stopsRef, new: stopsRef, oldDefs: stopDefs,
			defs: strings.Replace(stopDefs, `"maxLength":20`, `"maxLength":10`, 1),
			want: []string{"breaking condition-changed stations[].name"}, wantBreaking: true},
		{name: "response: nested $defs tightened", dir: Response, old: stopsRef, new: stopsRef, oldDefs: stopDefs,
			defs: strings.Replace(stopDefs, `"maxLength":20`, `"maxLength":10`, 1),
			want: []string{"compatible condition-changed stations[].name"}},
		{name: "recursive definition gains an optional field", dir: Request, old: stopsRef, new: stopsRef, oldDefs: stopDefs,
			defs: strings.Replace(stopDefs, `"properties":{`, `"properties":{"code":{"type":"string"},`, 1),
			want: []string{"compatible field-added stations[].code"}},
		{name: "definition renamed only", dir: Request, old: stopsRef, oldDefs: stopDefs,
			new:  strings.ReplaceAll(stopsRef, "Station", "Stop"),
			defs: strings.ReplaceAll(stopDefs, "Station", "Stop")},
		{name: "description changed", dir: Request, old: `{"type":"string","description":"a name"}`, new: `{"type":"string","description":"the name"}`,
			want: []string{"compatible description-changed"}},
		{name: "request: map values widened", dir: Request, old: `{"type":"object","additionalProperties":{"type":"integer","format":"int32"}}`,
			new:  `{"type":"object","additionalProperties":{"type":"integer","format":"int64"}}`,
			want: []string{"compatible type-changed {}"}},
		{name: "request: items narrowed", dir: Request, old: `{"type":"array","items":{"type":"integer","format":"int64"}}`,
			new:  `{"type":"array","items":{"type":"integer","format":"int16"}}`,
			want: []string{"breaking type-changed []"}, wantBreaking: true},
		{name: "unresolved reference", dir: Request, old: `{"$ref":"#/$defs/Gone"}`, new: `{"type":"string"}`,
			want: []string{"breaking unresolved"}, wantBreaking: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old, new *Spec
			if tt.oldSpec != "" {
				old, new = specJSON(t, tt.oldSpec), specJSON(t, tt.nSpec)
			} else {
				old = oneMethod(t, tt.dir, tt.old, tt.oldDefs)
				defs := tt.defs
				if defs == "" {
					defs = tt.oldDefs
				}
				new = oneMethod(t, tt.dir, tt.new, defs)
			}
			changes := Diff(old, new)
			if got := verdicts(changes); !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("changes:\n got %q\nwant %q", got, tt.want)
			}
			if got := Breaking(changes); got != tt.wantBreaking {
				t.Errorf("Breaking = %v, want %v", got, tt.wantBreaking)
			}
			for _, c := range changes {
				if c.Why == "" || c.String() == "" {
					t.Errorf("change without a reason: %+v", c)
				}
			}
		})
	}
}

// TestDiffOfDerivedSpecs diffs specs derived from Go types, as papi
// derives them: an API that gained an optional request field, a response
// field and a method, and kept the rest, is compatible, and the reverse
// is not.
func TestDiffOfDerivedSpecs(t *testing.T) {
	type ReqV1 struct {
		Name string `cbor:"name" papi:"minLength=1"`
	}
	type ItemV1 struct {
		Name string `cbor:"name"`
	}
	type ItemV2 struct {
		Name string `cbor:"name"`
		Tags []Item `cbor:"tags,omitempty"`
	}
	v1 := derivedSpec(t, map[string][2]any{"Get": {ReqV1{}, ItemV1{}}})
	v2 := derivedSpec(t, map[string][2]any{"Get": {ItemV2{}, ItemV2{}}, "List": {ItemV2{}, []ItemV2{}}})
	forward := Diff(v1, v2)
	if Breaking(forward) {
		t.Errorf("v1 -> v2 breaks:\n%s", changeLines(forward))
	}
	backward := Diff(v2, v1)
	if !Breaking(backward) {
		t.Errorf("v2 -> v1 does not break:\n%s", changeLines(backward))
	}
	if got := verdicts(backward); !slices.Contains(got, "breaking method-removed") || !slices.Contains(got, "breaking field-removed tags") {
		t.Errorf("v2 -> v1: %q", got)
	}
}

func derivedSpec(t testing.TB, methods map[string][2]any) *Spec {
	t.Helper()
	b := NewBuilder()
	s := &Spec{Name: "items", Version: "1"}
	for _, name := range slices.Sorted(maps.Keys(methods)) {
		req, err := b.Schema(reflect.TypeOf(methods[name][0]))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := b.Schema(reflect.TypeOf(methods[name][1]))
		if err != nil {
			t.Fatal(err)
		}
		s.Methods = append(s.Methods, Method{Name: name, Request: req, Response: resp})
	}
	s.Defs = b.Defs()
	return s
}

func changeLines(changes []Change) string {
	var b strings.Builder
	for _, c := range changes {
		b.WriteString(c.String() + "\n")
	}
	return b.String()
}
