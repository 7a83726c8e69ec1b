package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/papi-dev/papi"
)

// runBuild compiles a package of handlers to WebAssembly and writes a
// bundle of its code, its spec and the datasets given with -data.
func runBuild(ctx context.Context, e *env, args []string) error {
	if e.out == "" {
		return errors.New("-o DIR is required: where to write the bundle")
	}
	// The go command's "directory not found" comes wrapped in a build
	// failure; a package given as a path that is not there is said plainly.
	if _, err := os.Stat(args[0]); errors.Is(err, fs.ErrNotExist) && looksLikePath(args[0]) {
		return fmt.Errorf("directory %s does not exist", args[0])
	}
	datasets, err := e.datasets()
	if err != nil {
		return err
	}
	b, err := papi.Build(ctx, args[0], datasets...)
	if err != nil {
		return err
	}
	if err := b.WriteDir(e.out); err != nil {
		return err
	}
	code, _ := b.CodeHash()
	fmt.Fprintf(e.stdout, "bundle %s\napi    %s\ncode   %s\nwritten to %s\n", b.Hash(), b.APIHash(), code, e.out)
	return nil
}

// openLocal opens a bundle directory, or a bundle of the store by hash:
// what serve can serve without asking the network.
func (e *env) openLocal(arg string) (*papi.Bundle, error) {
	b, err := e.local(arg)
	if err != nil || b != nil {
		return b, err
	}
	if strings.Contains(arg, "/") {
		return nil, fmt.Errorf("%s is a NAME: serve a bundle directory, or the hash of a bundle in the store", arg)
	}
	dir, err := e.storeDir()
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("bundle %s is not in the store %s: papi clone it first", arg, dir)
}

// datasets reads the -data NAME=FILE flags.
func (e *env) datasets() ([]*papi.Dataset, error) {
	var out []*papi.Dataset
	for _, kv := range e.data {
		name, file, ok := strings.Cut(kv, "=")
		if !ok || name == "" || file == "" {
			return nil, fmt.Errorf("-data %q: want NAME=FILE", kv)
		}
		d := papi.DataFile(name, file)
		if err := d.Err(); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// withData replaces or adds the -data datasets: the same API and code over
// other data, a new bundle whose parent is b.
func (e *env) withData(b *papi.Bundle) (*papi.Bundle, error) {
	if len(e.data) == 0 {
		return b, nil
	}
	ds, err := e.datasets()
	if err != nil {
		return nil, err
	}
	return b.WithData(ds...)
}
