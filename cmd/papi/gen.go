package main

import (
	"context"
	"fmt"
	"os"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/internal/gen"
)

// generators are the languages papi gen writes, by the name its first
// argument gives.
var generators = map[string]func(model *gen.API, e *env, apiHash papi.Hash) ([]byte, error){
	"go": func(model *gen.API, e *env, apiHash papi.Hash) ([]byte, error) {
		return gen.Go(model, gen.GoOptions{Package: e.pkg, APIHash: apiHash.String()})
	},
}

// runGen writes code for the spec of a bundle, found as inspect finds it:
// types with the tags that derive the same spec, and a typed client.
func runGen(ctx context.Context, e *env, args []string) error {
	lang, arg := args[0], args[1]
	generate, ok := generators[lang]
	if !ok {
		return fmt.Errorf("no generator for %q: papi gen writes go", lang)
	}
	s, apiHash, err := e.spec(ctx, arg)
	if err != nil {
		return err
	}
	model, err := gen.Walk(s)
	if err != nil {
		return err
	}
	src, err := generate(model, e, apiHash)
	if err != nil {
		return err
	}
	if e.out == "" {
		_, err = e.stdout.Write(src)
		return err
	}
	return os.WriteFile(e.out, src, 0o644)
}

// spec returns the spec and API hash of the bundle arg names: from this
// machine if it is here, else dialed (a spec needs no data: no clone).
func (e *env) spec(ctx context.Context, arg string) (*papi.Spec, papi.Hash, error) {
	b, err := e.local(arg)
	if err != nil {
		return nil, papi.Hash{}, err
	}
	if b != nil {
		return b.Spec(), b.APIHash(), nil
	}
	c, closePeer, err := e.dial(ctx, arg)
	if err != nil {
		return nil, papi.Hash{}, err
	}
	defer closePeer()
	return c.Spec(), c.APIHash(), nil
}
