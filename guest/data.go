package guest

import (
	"context"
	"reflect"
)

// Load returns the dataset named name of the bundle being served, decoded
// as T. It decodes once per dataset and type and shares the value between
// calls (natively between all calls, in a module between the calls of one
// instance), so handlers must treat it as read-only.
func Load[T any](ctx context.Context, name string) (T, error) {
	var zero T
	src := source(ctx)
	if src == nil {
		return zero, Errorf(CodeInternal, "guest.Load %s: no bundle in context (call it from a handler)", name)
	}
	v, err := src.Load(name, reflect.TypeFor[T]())
	if err != nil {
		return zero, err
	}
	return v.Interface().(T), nil
}

// Size returns the length in bytes of the dataset named name, for a handler
// that reads it in ranges with ReadAt rather than decoding it whole.
func Size(ctx context.Context, name string) (int64, error) {
	src := source(ctx)
	if src == nil {
		return 0, Errorf(CodeInternal, "guest.Size %s: no bundle in context (call it from a handler)", name)
	}
	n, ok := src.Size(name)
	if !ok {
		return 0, Errorf(CodeNotFound, "no dataset %q", name)
	}
	return n, nil
}

// ReadAt reads len(p) bytes of the dataset named name from offset off, as
// io.ReaderAt does: for data too big to decode whole.
func ReadAt(ctx context.Context, name string, p []byte, off int64) (int, error) {
	src := source(ctx)
	if src == nil {
		return 0, Errorf(CodeInternal, "guest.ReadAt %s: no bundle in context (call it from a handler)", name)
	}
	return src.ReadAt(name, p, off)
}
