package papi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sync"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/datactx"
	"lukechampine.com/blake3"
)

// Dataset is named data that backs an API: CBOR bytes identified by their
// BLAKE3 hash. A dataset lives in memory (Data) or in a file (DataFile,
// DataReader); a file is never read whole into memory to be hashed, served
// or verified.
type Dataset struct {
	name string
	err  error // a constructor's error, reported by API.Bundle and Bundle.WithData

	data []byte // in memory, or
	path string // in a file
	temp bool   // path is a spool file papi made

	size   int64
	digest [32]byte

	decoded sync.Map // reflect.Type -> *decodedValue, for Load

	outboardOnce sync.Once
	outboard     []byte
	outboardErr  error

	ipfs datasetUnixFS // the UnixFS view, built when first needed
}

type decodedValue struct {
	once sync.Once
	v    reflect.Value
	err  error
}

var datasetName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func checkDatasetName(name string) error {
	if !datasetName.MatchString(name) {
		return fmt.Errorf("dataset name %q: want 1 to 64 of [A-Za-z0-9._-], starting with a letter or digit", name)
	}
	return nil
}

// Data returns a dataset holding v encoded as deterministic CBOR. v is any
// value CBOR can encode, typically a slice of structs. An error in encoding
// is reported when the dataset is put in a bundle.
func Data(name string, v any) *Dataset {
	d := &Dataset{name: name}
	if d.err = checkDatasetName(name); d.err != nil {
		return d
	}
	b, err := canon.Marshal(v)
	if err != nil {
		d.err = fmt.Errorf("dataset %s: %w", name, err)
		return d
	}
	d.setBytes(b)
	return d
}

// DataBytes returns a dataset holding b, which must be one well-formed CBOR
// data item; papi does not copy it, so b must not change afterwards.
func DataBytes(name string, b []byte) *Dataset {
	d := &Dataset{name: name}
	if d.err = checkDatasetName(name); d.err != nil {
		return d
	}
	if err := cborWellFormed(b); err != nil {
		d.err = fmt.Errorf("dataset %s: %w", name, err)
		return d
	}
	d.setBytes(b)
	return d
}

func (d *Dataset) setBytes(b []byte) {
	d.data = b
	d.size = int64(len(b))
	d.digest = blake3.Sum256(b)
}

// DataFile returns a dataset whose bytes are the file at path, for data too
// large for memory. The file is hashed when the dataset is made and must not
// change while the dataset is used: reads are verified against the hash.
func DataFile(name, path string) *Dataset {
	d := &Dataset{name: name, path: path}
	if d.err = checkDatasetName(name); d.err != nil {
		return d
	}
	f, err := os.Open(path)
	if err != nil {
		d.err = fmt.Errorf("dataset %s: %w", name, err)
		return d
	}
	defer f.Close()
	var mapped bool
	if d.digest, d.size, mapped = hashFile(f); mapped {
		return d
	}
	if d.digest, d.size, err = hashStream(f, nil); err != nil {
		d.err = fmt.Errorf("dataset %s: %w", name, err)
	}
	return d
}

// hashBlock is how much of a stream is hashed at once: BLAKE3 spreads one
// large write over every core, where small writes run on one.
const hashBlock = 8 << 20

// hashStream hashes r to its end, copying what it reads to copyTo if not
// nil; the next block is read while the last one is hashed.
func hashStream(r io.Reader, copyTo io.Writer) (digest [32]byte, n int64, err error) {
	h := blake3.New(32, nil)
	type block struct {
		b   []byte
		err error
	}
	full := make(chan block, 1)
	free := make(chan []byte, 2)
	free <- make([]byte, hashBlock)
	free <- make([]byte, hashBlock)
	go func() {
		defer close(full)
		for buf := range free {
			k, err := io.ReadFull(r, buf)
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				err = io.EOF
			}
			full <- block{buf[:k], err}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(free)
		for range full { // let the reader finish
		}
	}()
	for blk := range full {
		if copyTo != nil && len(blk.b) > 0 {
			if _, err := copyTo.Write(blk.b); err != nil {
				return digest, n, err
			}
		}
		h.Write(blk.b)
		n += int64(len(blk.b))
		if blk.err == io.EOF {
			break
		}
		if blk.err != nil {
			return digest, n, blk.err
		}
		free <- blk.b[:cap(blk.b)]
	}
	h.Sum(digest[:0])
	return digest, n, nil
}

// DataReader returns a dataset read from r to its end. Its bytes are copied to
// a temporary file while they are hashed, so r may be larger than memory.
func DataReader(name string, r io.Reader) *Dataset {
	d := &Dataset{name: name}
	if d.err = checkDatasetName(name); d.err != nil {
		return d
	}
	f, err := os.CreateTemp("", "papi-dataset-*")
	if err != nil {
		d.err = fmt.Errorf("dataset %s: %w", name, err)
		return d
	}
	digest, n, err := hashStream(r, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		d.err = fmt.Errorf("dataset %s: %w", name, err)
		return d
	}
	d.path, d.temp, d.size, d.digest = f.Name(), true, n, digest
	return d
}

// Name returns the dataset's name within its bundle.
func (d *Dataset) Name() string { return d.name }

// Size returns the dataset's length in bytes.
func (d *Dataset) Size() int64 { return d.size }

// Hash returns the dataset's content address (BLAKE3 of its bytes, raw codec).
func (d *Dataset) Hash() Hash { return newHash(codecRaw, d.digest) }

// Err returns the error of the constructor that made d, if any.
func (d *Dataset) Err() error { return d.err }

// Open returns a reader of the dataset's bytes.
func (d *Dataset) Open() (io.ReadCloser, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.path == "" {
		return io.NopCloser(bytes.NewReader(d.data)), nil
	}
	return os.Open(d.path)
}

// readerAt gives random access for serving pieces of the dataset.
func (d *Dataset) readerAt() (io.ReaderAt, io.Closer, error) {
	if d.path == "" {
		return bytes.NewReader(d.data), io.NopCloser(nil), nil
	}
	f, err := os.Open(d.path)
	if err != nil {
		return nil, nil, err
	}
	return f, f, nil
}

// Bytes returns the dataset's bytes, reading them from its file if it has one.
// The bytes read are verified against the dataset's hash.
func (d *Dataset) Bytes() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.path == "" {
		return d.data, nil
	}
	b, err := os.ReadFile(d.path)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", d.name, err)
	}
	if blake3.Sum256(b) != d.digest {
		return nil, errorf(ErrHashMismatch, "dataset %s: file %s changed since it was hashed", d.name, d.path)
	}
	return b, nil
}

// datasetDecoder bounds decoding of a dataset by its own size: its bytes were
// verified against a hash the user chose, but may still be hostile.
func datasetDecoder(size int64) *canon.Decoder {
	return canon.NewDecoder(canon.Limits{MaxBytes: int(max(size, 1)), MaxDepth: 64, MaxElements: 1 << 30})
}

// Decode decodes the dataset's CBOR into v, a pointer.
func (d *Dataset) Decode(v any) error {
	b, err := d.Bytes()
	if err != nil {
		return err
	}
	if err := datasetDecoder(d.size).Unmarshal(b, v); err != nil {
		return fmt.Errorf("dataset %s: %w", d.name, err)
	}
	return nil
}

// Load returns the dataset named name of the bundle whose call ctx belongs
// to, decoded as T. It decodes once per dataset and type and shares the
// result between calls, so handlers must treat it as read-only.
//
// Load is how a handler reaches its data: the same handler serves whatever
// data the bundle being served carries.
func Load[T any](ctx context.Context, name string) (T, error) {
	var zero T
	b := BundleFromContext(ctx)
	if b == nil {
		return zero, Errorf(CodeInternal, "load %s: no bundle in context (call it from a handler)", name)
	}
	v, err := bundleData{b}.Load(name, reflect.TypeFor[T]())
	if err != nil {
		return zero, err
	}
	return v.Interface().(T), nil
}

// bundleData gives handlers written against package guest the datasets of
// the bundle they serve, natively as in a module.
type bundleData struct{ b *Bundle }

func (d bundleData) dataset(name string) (*Dataset, error) {
	ds, ok := d.b.Dataset(name)
	if !ok {
		return nil, Errorf(CodeNotFound, "bundle %s has no dataset %q", d.b.Hash(), name)
	}
	return ds, nil
}

func (d bundleData) Load(name string, t reflect.Type) (reflect.Value, error) {
	ds, err := d.dataset(name)
	if err != nil {
		return reflect.Value{}, err
	}
	dv, _ := ds.decoded.LoadOrStore(t, &decodedValue{})
	dec := dv.(*decodedValue)
	dec.once.Do(func() {
		p := reflect.New(t)
		dec.err = ds.Decode(p.Interface())
		dec.v = p.Elem()
	})
	if dec.err != nil {
		return reflect.Value{}, Errorf(CodeDataLoss, "%w", dec.err)
	}
	return dec.v, nil
}

func (d bundleData) Size(name string) (int64, bool) {
	ds, ok := d.b.Dataset(name)
	if !ok {
		return 0, false
	}
	return ds.size, true
}

func (d bundleData) ReadAt(name string, p []byte, off int64) (int, error) {
	ds, err := d.dataset(name)
	if err != nil {
		return 0, err
	}
	ra, closer, err := ds.readerAt()
	if err != nil {
		return 0, Errorf(CodeDataLoss, "dataset %s: %w", name, err)
	}
	defer closer.Close()
	return ra.ReadAt(p, off)
}

// BundleFromContext returns the bundle a handler is serving, or nil outside a handler.
func BundleFromContext(ctx context.Context) *Bundle {
	d, _ := datactx.From(ctx).(bundleData)
	return d.b
}

func withBundle(ctx context.Context, b *Bundle) context.Context {
	return datactx.With(ctx, bundleData{b})
}

func cborWellFormed(b []byte) error {
	var v any
	if err := datasetDecoder(int64(len(b))).Unmarshal(b, &v); err != nil {
		return errors.Join(ErrMalformed, err)
	}
	return nil
}
