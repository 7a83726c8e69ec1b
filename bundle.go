package papi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/spec"
	"lukechampine.com/blake3"
)

// Bundle is an API's spec together with the datasets behind it and its
// lineage: the unit papi hashes, serves and clones. A Bundle is immutable;
// WithData derives a new one.
//
// A bundle has two content addresses. APIHash names the spec alone ("this
// interface"); Hash names the manifest, which names the spec, every dataset
// and the parent bundle by hash ("this interface with this data").
type Bundle struct {
	spec      *spec.Spec
	specBytes []byte
	apiHash   Hash

	datasets []*Dataset // sorted by name
	parent   Hash
	lineage  []ancestor // the APIs this one derives from, the parent first

	manifestBytes []byte
	hash          Hash

	api  *API     // the handlers, when the bundle was made from an API in this process
	code *Dataset // the handlers as a WebAssembly module, when the bundle carries them

	signatures []signature // by publishers, over hash; not part of what is hashed
}

func newBundle(s *spec.Spec, specBytes []byte, datasets []*Dataset, parent Hash, api *API, code *Dataset, lineage []ancestor) (*Bundle, error) {
	b := &Bundle{spec: s, specBytes: specBytes, apiHash: hashBytes(codecCBOR, specBytes), parent: parent, api: api, code: code, lineage: lineage}
	b.datasets = slices.Clone(datasets)
	slices.SortFunc(b.datasets, func(x, y *Dataset) int { return strings.Compare(x.name, y.name) })
	if len(b.datasets) > maxDatasets {
		return nil, fmt.Errorf("bundle: %d datasets, limit %d", len(b.datasets), maxDatasets)
	}
	for i, d := range b.datasets {
		if d.err != nil {
			return nil, d.err
		}
		if i > 0 && b.datasets[i-1].name == d.name {
			return nil, fmt.Errorf("bundle: two datasets named %q", d.name)
		}
	}
	if code != nil && code.err != nil {
		return nil, code.err
	}
	m, err := newManifest(b)
	if err != nil {
		return nil, err
	}
	mb, err := canon.MarshalDAG(m)
	if err != nil {
		return nil, fmt.Errorf("bundle: encode manifest: %w", err)
	}
	b.manifestBytes = mb
	b.hash = hashBytes(codecCBOR, mb)
	return b, nil
}

func digestSlice(h Hash) []byte {
	d := h.Digest()
	return d[:]
}

// Hash returns the bundle's content address: spec, data and lineage.
func (b *Bundle) Hash() Hash { return b.hash }

// APIHash returns the content address of the bundle's spec alone: every
// bundle of the same interface has it, whatever its data.
func (b *Bundle) APIHash() Hash { return b.apiHash }

// Spec returns the bundle's spec. It is shared: do not modify it.
func (b *Bundle) Spec() *Spec { return b.spec }

// Datasets returns the bundle's datasets, sorted by name.
func (b *Bundle) Datasets() []*Dataset { return slices.Clone(b.datasets) }

// Dataset returns the dataset of that name.
func (b *Bundle) Dataset(name string) (*Dataset, bool) {
	i, ok := slices.BinarySearchFunc(b.datasets, name, func(d *Dataset, n string) int { return strings.Compare(d.name, n) })
	if !ok {
		return nil, false
	}
	return b.datasets[i], true
}

// Parent returns the hash of the bundle this one was derived from, if any.
func (b *Bundle) Parent() (Hash, bool) { return b.parent, !b.parent.IsZero() }

// Manifest returns the manifest's bytes: the DAG-CBOR that Hash is computed over.
func (b *Bundle) Manifest() []byte { return slices.Clone(b.manifestBytes) }

// WithData returns a bundle of the same API with datasets replaced or added by
// name: its APIHash is unchanged, its Hash is new, and its parent is b.
func (b *Bundle) WithData(datasets ...*Dataset) (*Bundle, error) {
	merged := slices.Clone(b.datasets)
	for _, d := range datasets {
		if d.err != nil {
			return nil, d.err
		}
		i := slices.IndexFunc(merged, func(x *Dataset) bool { return x.name == d.name })
		if i >= 0 {
			merged[i] = d
		} else {
			merged = append(merged, d)
		}
	}
	return newBundle(b.spec, b.specBytes, merged, b.hash, b.api, b.code, b.lineage)
}

// File names of a bundle directory.
const (
	manifestFile = "manifest.cbor"
	specFile     = "spec.cbor"
	sigFile      = "signatures.cbor"
	codeFile     = "code.wasm"
	dataDir      = "data"
)

// WriteDir writes the bundle to dir: manifest.cbor, spec.cbor, one file per
// dataset under data/, code.wasm if the bundle carries its handlers and, if
// it is signed, signatures.cbor. Files are written under temporary names and
// renamed, so a crash leaves no half-written file under a final name; they
// are readable by all (0644), as a bundle is for sharing.
func (b *Bundle) WriteDir(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, dataDir), 0o755); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	for _, d := range b.datasets {
		if err := d.writeFile(filepath.Join(dir, dataDir, d.name)); err != nil {
			return fmt.Errorf("write bundle: dataset %s: %w", d.name, err)
		}
	}
	if b.code != nil {
		if err := b.code.writeFile(filepath.Join(dir, codeFile)); err != nil {
			return fmt.Errorf("write bundle: code: %w", err)
		}
	}
	if err := writeSignatures(dir, b.signatures); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := writeLineage(dir, b.lineage); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	// The manifest goes last: a directory with a manifest is complete.
	for _, f := range []struct {
		name string
		b    []byte
	}{{specFile, b.specBytes}, {manifestFile, b.manifestBytes}} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), func(w io.Writer) error { _, err := w.Write(f.b); return err }); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
	}
	return nil
}

// writeFile copies d's bytes to the file at path, atomically.
func (d *Dataset) writeFile(path string) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		r, err := d.Open()
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(w, r)
		return err
	})
}

func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	w := bufio.NewWriterSize(f, 1<<20)
	if err = write(w); err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes 0600; a bundle is for sharing
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// OpenBundle reads the bundle written by WriteDir at dir. Every part is
// verified against the manifest; datasets stay in their files and are hashed
// as a stream, so a bundle larger than memory opens in bounded memory.
func OpenBundle(dir string) (*Bundle, error) {
	b, err := openBundleDir(dir, func(e manifestEntry, path string) (*Dataset, error) {
		d := DataFile(e.Name, path)
		return d, d.matches(e)
	})
	if err != nil {
		return nil, fmt.Errorf("open bundle %s: %w", dir, err)
	}
	return b, nil
}

// openBundleDir reads the bundle in dir: manifest, spec, signatures, and
// each object (dataset or code) through object, which checks it as far as
// the caller needs to trust it.
func openBundleDir(dir string, object func(e manifestEntry, path string) (*Dataset, error)) (*Bundle, error) {
	mb, err := readFileLimited(filepath.Join(dir, manifestFile), maxManifestBytes)
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(mb)
	if err != nil {
		return nil, err
	}
	sb, err := readFileLimited(filepath.Join(dir, specFile), maxSpecBytes)
	if err != nil {
		return nil, err
	}
	s, err := decodeSpec(sb, m.specDigest())
	if err != nil {
		return nil, err
	}
	lineage, err := readLineage(dir, m.Lineage)
	if err != nil {
		return nil, err
	}
	datasets := make([]*Dataset, 0, len(m.Datasets))
	for _, e := range m.Datasets {
		d, err := object(e, filepath.Join(dir, dataDir, e.Name))
		if err != nil {
			return nil, err
		}
		datasets = append(datasets, d)
	}
	var code *Dataset
	if m.Code != nil {
		if code, err = object(m.Code.entry(), filepath.Join(dir, codeFile)); err != nil {
			return nil, err
		}
	}
	b, err := bundleFromManifest(m, mb, s, sb, datasets, code, lineage)
	if err != nil {
		return nil, err
	}
	if b.signatures, err = readSignatures(dir, b.hash); err != nil {
		return nil, err
	}
	return b, nil
}

// writeSignatures keeps a bundle's signatures beside it, so that a bundle
// written, or cloned, and served again still proves who published it.
func writeSignatures(dir string, sigs []signature) error {
	if len(sigs) == 0 {
		return nil
	}
	out, err := canon.Marshal(sigs)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, sigFile), func(w io.Writer) error { _, err := w.Write(out); return err })
}

// maxSigFileBytes bounds signatures.cbor: maxSignatures RSA-4096 signatures fit.
const maxSigFileBytes = 64 << 10

var signaturesDecoder = canon.NewDecoder(canon.Limits{MaxBytes: maxSigFileBytes, MaxDepth: 3, MaxElements: maxSignatures})

// readSignatures reads and verifies the signatures kept beside bundle h; a
// bundle without the file has none. A signature that does not verify is an
// error: the file was changed, and a bundle that claims a publisher falsely
// must not be served.
func readSignatures(dir string, h Hash) ([]signature, error) {
	b, err := readFileLimited(filepath.Join(dir, sigFile), maxSigFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sigs []signature
	if err := signaturesDecoder.UnmarshalExact(b, &sigs); err != nil {
		return nil, errorf(ErrMalformed, "%s: %w", sigFile, err)
	}
	if _, err := verifySignatures(h, sigs); err != nil {
		return nil, fmt.Errorf("%s: %w", sigFile, err)
	}
	return sigs, nil
}

// bundleFromManifest assembles a bundle from parts that were verified against
// manifest m, and checks that the result hashes to the manifest's bytes.
func bundleFromManifest(m *manifest, mb []byte, s *spec.Spec, sb []byte, datasets []*Dataset, code *Dataset, lineage []ancestor) (*Bundle, error) {
	var parent Hash
	if m.Parent != nil {
		parent = newHash(codecCBOR, [32]byte(m.Parent))
	}
	b, err := newBundle(s, sb, datasets, parent, nil, code, lineage)
	if err != nil {
		return nil, err
	}
	if b.hash != hashBytes(codecCBOR, mb) {
		return nil, errorf(ErrHashMismatch, "manifest does not re-encode to the bytes read")
	}
	return b, nil
}

func (d *Dataset) matches(e manifestEntry) error {
	if d.err != nil {
		return d.err
	}
	if d.size != int64(e.Size) {
		return errorf(ErrHashMismatch, "dataset %s: %d bytes, manifest says %d", e.Name, d.size, e.Size)
	}
	if d.digest != [32]byte(e.Hash) {
		return errorf(ErrHashMismatch, "dataset %s: content does not match its hash %s", e.Name, newHash(codecRaw, [32]byte(e.Hash)))
	}
	return d.matchesUnixFS(e)
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errorf(ErrTooLarge, "%s: more than %d bytes", path, limit)
	}
	return b, nil
}

// decodeSpec decodes and checks a spec from untrusted bytes that must hash to want.
func decodeSpec(b []byte, want [32]byte) (*spec.Spec, error) {
	if blake3.Sum256(b) != want {
		return nil, errorf(ErrHashMismatch, "spec does not match its hash %s", newHash(codecCBOR, want))
	}
	var s spec.Spec
	if err := specDecoder.UnmarshalExact(b, &s); err != nil {
		return nil, errorf(ErrMalformed, "spec: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, errorf(ErrMalformed, "spec: %w", err)
	}
	return &s, nil
}

// streamMagic starts a bundle written by WriteTo, so that a reader knows
// early when it is given something else.
var streamMagic = []byte("papi-bundle\x00\x01")

// WriteTo writes the bundle as one byte stream: a magic string, the manifest,
// the spec and the specs of its ancestors (Extends), each behind its length
// as a uvarint, then every dataset's
// bytes in manifest order, then the code's, if any. ReadBundle reads it back.
func (b *Bundle) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<20)
	bw.Write(streamMagic)
	for _, part := range append([][]byte{b.manifestBytes, b.specBytes}, lineageBytes(b.lineage)...) {
		bw.Write(binary.AppendUvarint(nil, uint64(len(part))))
		bw.Write(part)
	}
	parts := b.datasets
	if b.code != nil {
		parts = append(slices.Clone(parts), b.code)
	}
	for _, d := range parts {
		r, err := d.Open()
		if err != nil {
			return cw.n, fmt.Errorf("write bundle: %w", err)
		}
		_, err = io.Copy(bw, r)
		r.Close()
		if err != nil {
			return cw.n, fmt.Errorf("write bundle: dataset %s: %w", d.name, err)
		}
	}
	err := bw.Flush()
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// MaxReadBundleBytes bounds the datasets ReadBundle holds in memory; use
// WriteDir and OpenBundle for larger bundles.
const MaxReadBundleBytes = 1 << 30

// ReadBundle reads a bundle written by WriteTo into memory, verifying every
// part against the manifest; the caller compares Hash with the hash it
// expected (or uses VerifyBundle). It reads exactly the bundle's bytes, so
// r may carry more after it.
func ReadBundle(r io.Reader) (*Bundle, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(streamMagic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return nil, errorf(ErrMalformed, "read bundle: %w", unexpectedEOF(err))
	}
	if string(magic) != string(streamMagic) {
		return nil, errorf(ErrMalformed, "read bundle: not a papi bundle stream")
	}
	mb, err := readPart(br, maxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("read bundle: manifest: %w", err)
	}
	m, err := decodeManifest(mb)
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	sb, err := readPart(br, maxSpecBytes)
	if err != nil {
		return nil, fmt.Errorf("read bundle: spec: %w", err)
	}
	s, err := decodeSpec(sb, m.specDigest())
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	specs := make([][]byte, len(m.Lineage))
	for i := range specs {
		if specs[i], err = readPart(br, maxSpecBytes); err != nil {
			return nil, fmt.Errorf("read bundle: lineage: %w", err)
		}
	}
	lineage, err := verifyLineage(m.Lineage, specs)
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	var total uint64
	datasets := make([]*Dataset, 0, len(m.Datasets)+1)
	entries := m.Datasets
	if m.Code != nil {
		entries = append(slices.Clone(entries), m.Code.entry())
	}
	for _, e := range entries {
		if total += e.Size; total > MaxReadBundleBytes {
			return nil, errorf(ErrTooLarge, "read bundle: datasets over %d bytes; use OpenBundle", MaxReadBundleBytes)
		}
		data := make([]byte, e.Size)
		if _, err := io.ReadFull(br, data); err != nil {
			return nil, errorf(ErrMalformed, "read bundle: dataset %s: %w", e.Name, unexpectedEOF(err))
		}
		d := &Dataset{name: e.Name}
		d.setBytes(data)
		if err := d.matches(e); err != nil {
			return nil, fmt.Errorf("read bundle: %w", err)
		}
		datasets = append(datasets, d)
	}
	var code *Dataset
	if m.Code != nil {
		code, datasets = datasets[len(datasets)-1], datasets[:len(datasets)-1]
	}
	return bundleFromManifest(m, mb, s, sb, datasets, code, lineage)
}

func readPart(br *bufio.Reader, limit uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, errorf(ErrMalformed, "length: %w", unexpectedEOF(err))
	}
	if n > limit {
		return nil, errorf(ErrTooLarge, "%d bytes, limit %d", n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, errorf(ErrMalformed, "%w", unexpectedEOF(err))
	}
	return b, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
