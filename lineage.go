package papi

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/papi-dev/papi/internal/spec"
	"github.com/papi-dev/papi/internal/store"
)

// ancestor is an API that a bundle's API derives from. The bundle carries
// its spec's bytes, so that it can answer dials for it and a dialer can
// judge the two itself.
type ancestor struct {
	hash  Hash
	spec  *spec.Spec
	bytes []byte
}

// Ancestor is an API that a bundle's API was derived from with Extends.
type Ancestor struct {
	API  Hash  // its API hash
	Spec *Spec // its spec, verified against API
	// Compatible is whether the bundle's API keeps the ancestor's callers
	// working, by the rules of compatibility: a server answers dials and
	// calls addressed to the ancestors it is compatible with.
	Compatible bool
}

// maxLineage bounds how many ancestors a manifest names.
const maxLineage = 16

// lineageDir holds a bundle directory's ancestor specs, one file per API
// hash.
const lineageDir = "lineage"

// Parent is what Extends takes: a *Bundle (declared, opened or cloned), a
// *Client (dialed), or a Hash of a bundle, or of an API, that the default
// store holds (cloned there).
type Parent interface {
	parentAPI() (*parentInfo, error)
}

type parentInfo struct {
	bundle  Hash // the parent bundle, when known
	self    ancestor
	lineage []ancestor
}

func (b *Bundle) parentAPI() (*parentInfo, error) {
	return &parentInfo{bundle: b.hash, self: ancestor{b.apiHash, b.spec, b.specBytes}, lineage: b.lineage}, nil
}

func (c *Client) parentAPI() (*parentInfo, error) {
	return &parentInfo{bundle: c.bundle, self: ancestor{c.apiHash, c.spec, c.specBytes}, lineage: c.lineage}, nil
}

func (h Hash) parentAPI() (*parentInfo, error) {
	dir, err := DefaultStoreDir()
	if err != nil {
		return nil, err
	}
	b, err := storedWithHash(dir, h)
	if err != nil {
		return nil, err
	}
	return b.parentAPI()
}

// storedWithHash opens a stored bundle whose bundle hash or API hash is h.
func storedWithHash(dir string, h Hash) (*Bundle, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("extends %s: no store at %s: clone the parent first, or pass its bundle", h, dir)
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, err
	}
	if st.HasBundle(h.String()) {
		return openStored(st, h.String())
	}
	names, err := st.Bundles()
	if err != nil {
		return nil, err
	}
	want := h.Digest()
	for _, name := range names {
		mb, err := readFileLimited(filepath.Join(st.BundleDir(name), manifestFile), maxManifestBytes)
		if err != nil {
			continue
		}
		if m, err := decodeManifest(mb); err == nil && m.specDigest() == want {
			return openStored(st, name)
		}
	}
	return nil, fmt.Errorf("extends %s: the store at %s holds no bundle of it: clone it first, or pass its bundle", h, dir)
}

// Extends declares the API as derived from parent's: the manifest of every
// bundle of it names the parent API and its own ancestors, and carries
// their specs. Bundling refuses a change that breaks the parent's callers
// (see Compatibility in the package documentation) unless NewLine is also
// given. A server of a bundle that is compatible with an ancestor also
// answers dials and calls addressed to the ancestor's API hash, and
// announces itself under it, so that the ancestor's callers find it and
// keep working. Anyone may extend any API: a clone of another publisher's
// bundle is a parent like any other.
func Extends(parent Parent) APIOption { return extendsOption{parent} }

type extendsOption struct{ parent Parent }

func (o extendsOption) applyAPI(a *API) { a.parent = o.parent }

// NewLine says that an API declared with Extends starts a new line: its
// bundles may break the parent's callers. The lineage is kept, so that
// where the API came from stays known; a server answers only for the
// ancestors it is compatible with.
func NewLine() APIOption { return newLineOption{} }

type newLineOption struct{}

func (newLineOption) applyAPI(a *API) { a.newLine = true }

// lineageOf works out what a bundle of api's spec s records of its parent:
// the parent bundle, and the ancestors, the parent first. It refuses a
// breaking change against the parent unless a starts a new line.
func (a *API) lineageOf(s *spec.Spec, apiHash Hash) (Hash, []ancestor, error) {
	if a.parent == nil {
		return Hash{}, nil, nil
	}
	p, err := a.parent.parentAPI()
	if err != nil {
		return Hash{}, nil, err
	}
	if p.self.hash == apiHash {
		return Hash{}, nil, fmt.Errorf("extends %s: the parent is this API itself", apiHash)
	}
	lineage := append([]ancestor{p.self}, p.lineage...)
	// An API that comes back to an ancestor's spec drops the loop.
	for i, anc := range lineage {
		if anc.hash == apiHash {
			lineage = lineage[:i]
			break
		}
	}
	if len(lineage) > maxLineage {
		lineage = lineage[:maxLineage]
	}
	if !a.newLine {
		if changes := spec.Diff(p.self.spec, s); spec.Breaking(changes) {
			var lines []string
			for _, c := range changes {
				if c.Breaking {
					lines = append(lines, c.String())
				}
			}
			return Hash{}, nil, errorf(ErrSpecMismatch, "%s %s breaks callers of its parent %s (%s %s); give papi.NewLine() to start a new line:\n%s",
				s.Name, s.Version, p.self.hash, p.self.spec.Name, p.self.spec.Version, strings.Join(lines, "\n"))
		}
	}
	return p.bundle, lineage, nil
}

// Ancestors returns the APIs the bundle's API derives from, the parent
// first and the original last, each judged against the bundle's API.
func (b *Bundle) Ancestors() []Ancestor { return ancestors(b.spec, b.lineage) }

// Ancestors returns the APIs the remote bundle's API derives from, the
// parent first, each verified against the remote's manifest and judged
// against its API.
func (c *Client) Ancestors() []Ancestor { return ancestors(c.spec, c.lineage) }

func ancestors(s *spec.Spec, lineage []ancestor) []Ancestor {
	out := make([]Ancestor, len(lineage))
	for i, anc := range lineage {
		out[i] = Ancestor{API: anc.hash, Spec: anc.spec, Compatible: !spec.Breaking(spec.Diff(anc.spec, s))}
	}
	return out
}

// compatibleAncestors are the API hashes of the ancestors whose callers s
// keeps working: those a server of s answers for.
func compatibleAncestors(s *spec.Spec, lineage []ancestor) []Hash {
	var out []Hash
	for _, anc := range lineage {
		if !spec.Breaking(spec.Diff(anc.spec, s)) {
			out = append(out, anc.hash)
		}
	}
	return out
}

func lineageDigests(lineage []ancestor) [][]byte {
	if len(lineage) == 0 {
		return nil
	}
	out := make([][]byte, len(lineage))
	for i, anc := range lineage {
		out[i] = digestSlice(anc.hash)
	}
	return out
}

func lineageBytes(lineage []ancestor) [][]byte {
	if len(lineage) == 0 {
		return nil
	}
	out := make([][]byte, len(lineage))
	for i, anc := range lineage {
		out[i] = anc.bytes
	}
	return out
}

// maxLineageBytes bounds the ancestor specs one bundle carries, together.
const maxLineageBytes = maxSpecBytes

// verifyLineage checks ancestor specs, from a peer or from disk, against
// the digests a verified manifest names.
func verifyLineage(digests, specs [][]byte) ([]ancestor, error) {
	if len(specs) != len(digests) {
		return nil, errorf(ErrMalformed, "lineage: %d specs for %d ancestors", len(specs), len(digests))
	}
	total := 0
	out := make([]ancestor, len(digests))
	for i, d := range digests {
		if total += len(specs[i]); total > maxLineageBytes {
			return nil, errorf(ErrTooLarge, "lineage: ancestor specs over %d bytes", maxLineageBytes)
		}
		s, err := decodeSpec(specs[i], [32]byte(d))
		if err != nil {
			return nil, fmt.Errorf("lineage: %w", err)
		}
		out[i] = ancestor{hash: newHash(codecCBOR, [32]byte(d)), spec: s, bytes: specs[i]}
	}
	return out, nil
}

// writeLineage writes the ancestor specs into a bundle directory.
func writeLineage(dir string, lineage []ancestor) error {
	if len(lineage) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(dir, lineageDir), 0o755); err != nil {
		return err
	}
	for _, anc := range lineage {
		path := filepath.Join(dir, lineageDir, anc.hash.String()+".cbor")
		if err := writeFileAtomic(path, func(w io.Writer) error { _, err := w.Write(anc.bytes); return err }); err != nil {
			return err
		}
	}
	return nil
}

// readLineage reads the ancestor specs a manifest names from a bundle
// directory, verifying each.
func readLineage(dir string, digests [][]byte) ([]ancestor, error) {
	specs := make([][]byte, len(digests))
	for i, d := range digests {
		h := newHash(codecCBOR, [32]byte(d))
		b, err := readFileLimited(filepath.Join(dir, lineageDir, h.String()+".cbor"), maxSpecBytes)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("lineage: the spec of ancestor %s is missing", h)
		}
		if err != nil {
			return nil, err
		}
		specs[i] = b
	}
	return verifyLineage(digests, specs)
}

// checkLineageDigests checks the lineage a manifest names, as read from
// untrusted bytes.
func checkLineageDigests(m *manifest) error {
	if len(m.Lineage) > maxLineage {
		return fmt.Errorf("%d ancestors, limit %d", len(m.Lineage), maxLineage)
	}
	seen := map[[32]byte]bool{m.specDigest(): true}
	for _, d := range m.Lineage {
		if len(d) != 32 {
			return fmt.Errorf("ancestor hash of %d bytes, want 32", len(d))
		}
		if seen[[32]byte(d)] {
			return fmt.Errorf("ancestor %s named twice, or is the API itself", newHash(codecCBOR, [32]byte(d)))
		}
		seen[[32]byte(d)] = true
	}
	return nil
}

// answersFor reports whether a description's bundle can be dialed as the
// ancestor API want: want is in its verified lineage, and the bundle's own
// spec keeps want's callers working, judged here rather than taken from
// the provider's word.
func answersFor(want [32]byte, own *spec.Spec, lineage []ancestor) (bool, error) {
	for _, anc := range lineage {
		if anc.hash.Digest() != want {
			continue
		}
		if changes := spec.Diff(anc.spec, own); spec.Breaking(changes) {
			return false, errorf(ErrSpecMismatch, "the provider's API %s %s derives from %s but breaks its callers", own.Name, own.Version, anc.hash)
		}
		return true, nil
	}
	return false, nil
}
