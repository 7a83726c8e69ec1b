package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/internal/gomodtest"
	"github.com/papi-dev/papi/internal/spec"
)

// TestRoundTrip is the property papi gen is for: the types it writes
// derive the spec they were written from. For every tricky API and every
// API an example program declares, it generates the Go, compiles it into
// a program that declares the API anew from the generated types (papi.New
// and papi.Handle, as an author would), and compares the API hash of what
// that program derives with the original's: one hash is one spec, byte
// for byte, names of definitions and order of required fields included.
func TestRoundTrip(t *testing.T) {
	type original struct {
		spec  *spec.Spec
		hash  string
		shape bool // made by hand, with names Go cannot keep: only the shapes must match
	}
	originals := map[string]original{}
	for name, api := range trickyAPIs(t) {
		s, err := api.Spec()
		if err != nil {
			t.Fatal(err)
		}
		h, err := api.Hash()
		if err != nil {
			t.Fatal(err)
		}
		originals[name] = original{spec: s, hash: h.String()}
	}
	originals["clashes"] = original{spec: clashes(), shape: true}
	for name, b := range exampleBundles(t) {
		originals[name] = original{spec: b.Spec(), hash: b.APIHash().String()}
	}

	files := map[string]string{}
	var imports, entries []string
	for _, name := range slices.Sorted(maps.Keys(originals)) {
		o := originals[name]
		model, err := Walk(o.spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		src, err := Go(model, GoOptions{Package: name, APIHash: o.hash})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		file, err := newGoFile(model, name, o.hash)
		if err != nil {
			t.Fatal(err)
		}
		files[name+"/"+name+".go"] = string(src)
		files[name+"/roundtrip.go"] = redeclaration(name, o.spec, file)
		imports = append(imports, fmt.Sprintf("%q", "example.com/papigen/"+name))
		entries = append(entries, fmt.Sprintf("%q: %s.RoundTripAPI,", name, name))
	}
	out := bundleAPIs(t, files, imports, entries)
	for _, name := range slices.Sorted(maps.Keys(originals)) {
		t.Run(name, func(t *testing.T) {
			b, err := papi.OpenBundle(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			want := originals[name]
			if want.shape {
				// What papi.Call checks: the same values under the same
				// conditions, whatever the definitions are named.
				for i, m := range want.spec.Methods {
					got := b.Spec().Methods[i]
					if err := spec.Compare(got.Request, b.Spec().Defs, m.Request, want.spec.Defs); err != nil {
						t.Errorf("%s request: %v", m.Name, err)
					}
					if err := spec.Compare(got.Response, b.Spec().Defs, m.Response, want.spec.Defs); err != nil {
						t.Errorf("%s response: %v", m.Name, err)
					}
				}
				return
			}
			if got := b.APIHash().String(); got != want.hash {
				gotJSON, _ := json.MarshalIndent(b.Spec(), "", "  ")
				wantJSON, _ := json.MarshalIndent(want.spec, "", "  ")
				t.Fatalf("the generated types derive API %s, not %s:\n%s\nwant\n%s", got, want.hash, gotJSON, wantJSON)
			}
		})
	}
}

// clashes is a spec made by hand whose definitions are named as Go's
// predeclared identifiers, the generated file's imports and declarations,
// or not as Go identifiers at all, with two methods that export to one
// name. A peer may send such a spec; the generated Go must still compile
// and describe the same values.
func clashes() *spec.Spec {
	obj := func(props map[string]*spec.Schema, required ...string) *spec.Schema {
		if props == nil {
			return &spec.Schema{Type: spec.TypeObject}
		}
		return &spec.Schema{Type: spec.TypeObject, Properties: props, Required: required}
	}
	ref := func(name string) *spec.Schema { return &spec.Schema{Ref: "#/$defs/" + name} }
	return &spec.Spec{
		Name:    "clashes",
		Version: "1",
		Defs: map[string]*spec.Schema{
			"time":          obj(map[string]*spec.Schema{"at": {Type: spec.TypeString, Format: "date-time", Nullable: true}}, "at"),
			"string":        obj(map[string]*spec.Schema{"s": {Type: spec.TypeString}, "next": {Ref: "#/$defs/string", Nullable: true}}, "s"),
			"papi":          obj(nil),
			"context":       obj(nil),
			"1abc":          obj(map[string]*spec.Schema{"t": ref("time")}, "t"),
			"_":             obj(nil),
			"APIHash":       obj(nil),
			"ClashesClient": obj(nil),
		},
		Methods: []spec.Method{
			{Name: "M", Request: ref("time"), Response: ref("1abc")},
			{Name: "N", Request: ref("papi"), Response: ref("APIHash")},
			{Name: "O", Request: ref("ClashesClient"), Response: ref("context")},
			{Name: "m", Request: ref("string"), Response: ref("_")},
		},
	}
}

// redeclaration is a file of the generated package that declares the API
// again from the generated types, with stub handlers: the API's and its
// methods' descriptions come from its declaration, not from its types.
func redeclaration(pkg string, s *spec.Spec, g *goFile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\nimport (\n\t\"context\"\n\t\"time\"\n\n\t\"github.com/papi-dev/papi\"\n)\n\n", pkg)
	b.WriteString("var _ time.Time // for the methods that take or give one\n\n")
	b.WriteString("// RoundTripAPI declares the API anew from the generated types.\nfunc RoundTripAPI() *papi.API {\n")
	fmt.Fprintf(&b, "\tapi := papi.New(%q, %q, papi.Description(%q))\n", s.Name, s.Version, s.Description)
	for _, m := range g.methods {
		fmt.Fprintf(&b, "\tpapi.Handle(api, %q, func(context.Context, %s) (%s, error) { panic(\"not called\") }, papi.Description(%q))\n",
			m.m.Name, m.req, m.resp, m.m.Description)
	}
	b.WriteString("\treturn api\n}\n")
	return b.String()
}

// exampleBundles returns a bundle of each API an example program under
// examples/ declares, keyed "example_<dir>". A program's API is declared
// in its main function, which no test can call: each program's main.go is
// compiled as a package of its own, main renamed, with a function that
// makes the same papi.New and papi.Handle calls, written out by a program
// that calls them all. A program that declares no API of its own must
// serve the booths API (package boothsapi natively, package booths in a
// module), which trickyAPIs has already.
func exampleBundles(t *testing.T) map[string]*papi.Bundle {
	t.Helper()
	mains, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "main.go"))
	if err != nil || len(mains) == 0 {
		t.Fatalf("no example programs found: %v", err)
	}
	files := map[string]string{}
	var imports, entries []string
	for _, path := range mains {
		dir := filepath.Base(filepath.Dir(path))
		pkg := "example_" + packageName(dir)
		src, declares, err := exampleDeclaration(path, pkg)
		if err != nil {
			t.Fatal(err)
		}
		if !declares {
			raw, _ := os.ReadFile(path)
			if !bytes.Contains(raw, []byte(`"github.com/papi-dev/papi/examples/internal/boothsapi"`)) && !bytes.Contains(raw, []byte(`"github.com/papi-dev/papi/internal/booths"`)) {
				t.Fatalf("%s declares no API with papi.New and does not serve the booths API: teach exampleBundles where its API is", path)
			}
			continue
		}
		files[pkg+"/main.go"] = src
		imports = append(imports, fmt.Sprintf("%q", "example.com/papigen/"+pkg))
		entries = append(entries, fmt.Sprintf("%q: %s.ExampleAPI,", pkg, pkg))
	}
	if len(entries) == 0 {
		t.Fatal("no example declares an API of its own: has the test stopped finding them?")
	}
	out := bundleAPIs(t, files, imports, entries)
	bundles := map[string]*papi.Bundle{}
	for _, e := range entries {
		name, _, _ := strings.Cut(strings.Trim(e, `"`), `"`)
		b, err := papi.OpenBundle(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		bundles[name] = b
	}
	return bundles
}

// exampleDeclaration rewrites an example's main.go as package pkg with its
// main renamed, and adds ExampleAPI, which makes the file's papi.New call
// and its papi.Handle calls on the API that call makes. It reports false
// when the file calls no papi.New.
func exampleDeclaration(path, pkg string) (string, bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", false, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, raw, parser.ParseComments)
	if err != nil {
		return "", false, err
	}
	text := func(n ast.Node) string {
		return string(raw[fset.Position(n.Pos()).Offset:fset.Position(n.End()).Offset])
	}
	isPapi := func(call *ast.CallExpr, name string) bool {
		fun := call.Fun
		if ix, ok := fun.(*ast.IndexListExpr); ok {
			fun = ix.X
		} else if ix, ok := fun.(*ast.IndexExpr); ok {
			fun = ix.X
		}
		sel, ok := fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != name {
			return false
		}
		id, ok := sel.X.(*ast.Ident)
		return ok && id.Name == "papi"
	}
	var newCall string
	var handles []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		switch {
		case isPapi(call, "New") && newCall == "":
			newCall = text(call)
		case isPapi(call, "Handle") && len(call.Args) >= 3:
			args := []string{"api"}
			for _, a := range call.Args[1:] {
				args = append(args, text(a))
			}
			handles = append(handles, text(call.Fun)+"("+strings.Join(args, ", ")+")")
		}
		return true
	})
	if newCall == "" {
		return "", false, nil
	}
	f.Name.Name = pkg
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "main" {
			fd.Name.Name = "exampleMain"
		}
	}
	var b bytes.Buffer
	if err := printer.Fprint(&b, fset, f); err != nil {
		return "", false, err
	}
	fmt.Fprintf(&b, "\n// ExampleAPI declares the API of %s.\nfunc ExampleAPI() *papi.API {\n\tapi := %s\n", path, newCall)
	for _, h := range handles {
		fmt.Fprintf(&b, "\tif err := %s; err != nil {\n\t\tpanic(err)\n\t}\n", h)
	}
	b.WriteString("\treturn api\n}\n")
	return b.String(), true, nil
}

// bundleAPIs compiles the module of files with a program that bundles each
// API that entries name ("name": pkg.Func,) from the packages imports
// names, runs it, and returns the directory the bundles were written to,
// one per name.
func bundleAPIs(t *testing.T, files map[string]string, imports, entries []string) string {
	t.Helper()
	files["main.go"] = `package main

import (
	"os"
	"path/filepath"

	"github.com/papi-dev/papi"
	` + strings.Join(imports, "\n\t") + `
)

// main writes a bundle of each API under the directory its argument names.
func main() {
	for name, api := range map[string]func() *papi.API{
		` + strings.Join(entries, "\n\t\t") + `
	} {
		b, err := api().Bundle()
		if err != nil {
			panic(name + ": " + err.Error())
		}
		if err := b.WriteDir(filepath.Join(os.Args[1], name)); err != nil {
			panic(err)
		}
	}
}
`
	out := t.TempDir()
	gomodtest.Run(t, gomodtest.Module(t, filepath.Join("..", ".."), "example.com/papigen", files), ".", out)
	return out
}
