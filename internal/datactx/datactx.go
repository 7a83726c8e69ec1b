// Package datactx carries a bundle's datasets in a call's context, so that a
// handler written against package guest finds its data the same way whether
// papi runs it natively or it runs as WebAssembly.
package datactx

import (
	"context"
	"reflect"
)

// Source is the datasets of the bundle a call is served from.
type Source interface {
	// Load decodes the dataset name as a value of type t, at most once per
	// dataset and type, and returns the shared value.
	Load(name string, t reflect.Type) (reflect.Value, error)
	// Size returns the dataset's length in bytes; false if there is none.
	Size(name string) (int64, bool)
	// ReadAt reads the dataset's bytes at off, as io.ReaderAt does.
	ReadAt(name string, p []byte, off int64) (int, error)
}

type key struct{}

// With returns ctx carrying s.
func With(ctx context.Context, s Source) context.Context { return context.WithValue(ctx, key{}, s) }

// From returns the Source ctx carries, or nil.
func From(ctx context.Context) Source {
	s, _ := ctx.Value(key{}).(Source)
	return s
}
