package papi

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"lukechampine.com/blake3/bao"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/codes"
)

// patterned is the dataset of testdata/wire/bao.json: byte i is (7i+3)
// mod 256, so a test in any language makes it without reading a file.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(7*i + 3)
	}
	return b
}

type baoVector struct {
	Rule      string `json:"rule"`
	Size      int    `json:"size"`
	PieceSize int    `json:"piece_size"`
	Root      string `json:"root_hex"`
	Outboard  string `json:"outboard_hex"`
	// Corrupt is an offset whose byte, flipped, fails the piece that holds
	// it and no other.
	Corrupt      int `json:"corrupt_offset"`
	CorruptPiece int `json:"corrupt_piece_offset"`
}

type errorsVector struct {
	Codes   map[string]uint32 `json:"codes"`   // name -> number
	Reasons map[string]uint32 `json:"reasons"` // sentinel name -> its code
	// Detail is an error reply's payload naming its sentinel.
	Detail string `json:"precondition_detail_hex"`
}

type describeVector struct {
	BundleHash  string `json:"bundle_hash"`
	APIHash     string `json:"api_hash"`
	Description string `json:"description_hex"`
	Method      string `json:"method"`
}

// TestWireDocVectors checks the vectors of docs/wire.md that package papi
// defines (bao pieces, error codes, the describe answer) against what it
// computes; the JavaScript client's tests check the same files.
func TestWireDocVectors(t *testing.T) {
	data := patterned(600_000)
	// The bytes of a dataset are CBOR, but the tree does not care: any
	// bytes make the same kind of outboard as Dataset.Outboard does.
	ob, root := bao.EncodeBuf(data, pieceGroup, true)
	if err := checkOutboard(ob, int64(len(data)), root); err != nil {
		t.Fatal(err)
	}
	corrupt := PieceSize + 12345
	bad := append([]byte(nil), data[PieceSize:2*PieceSize]...)
	bad[corrupt-PieceSize] ^= 0xff
	if verifyPiece(bad, ob, PieceSize, root) {
		t.Fatal("a flipped byte verified")
	}
	bv := baoVector{Rule: "byte i is (7*i+3) mod 256", Size: len(data), PieceSize: PieceSize,
		Root: hex.EncodeToString(root[:]), Outboard: hex.EncodeToString(ob), Corrupt: corrupt, CorruptPiece: PieceSize}

	ev := errorsVector{Codes: map[string]uint32{}, Reasons: map[string]uint32{}}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		ev.Codes[c.String()] = uint32(c)
	}
	for name, r := range reasons {
		ev.Reasons[name] = uint32(r.code)
	}
	detail, err := canon.Marshal(errorDetail{Reason: "precondition"})
	if err != nil {
		t.Fatal(err)
	}
	ev.Detail = hex.EncodeToString(detail)

	b := boothsBundle(t)
	desc, err := canon.Marshal(description{Manifest: b.manifestBytes, Spec: b.specBytes})
	if err != nil {
		t.Fatal(err)
	}
	dv := describeVector{BundleHash: b.Hash().String(), APIHash: b.APIHash().String(), Description: hex.EncodeToString(desc), Method: describeMethod}

	for _, f := range []struct {
		name string
		v    any
		into any
	}{
		{"bao.json", bv, new(baoVector)},
		{"errors.json", ev, new(errorsVector)},
		{"describe.json", dv, new(describeVector)},
	} {
		t.Run(f.name, func(t *testing.T) {
			path := filepath.Join("testdata", "wire", f.name)
			if *update {
				out, _ := json.MarshalIndent(f.v, "", "  ")
				if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -run WireDocVectors -update . writes it)", err)
			}
			if err := json.Unmarshal(raw, f.into); err != nil {
				t.Fatal(err)
			}
			if got := reflect.ValueOf(f.into).Elem().Interface(); !reflect.DeepEqual(got, f.v) {
				t.Fatalf("%s holds %+v, papi computes %+v", path, got, f.v)
			}
		})
	}
}
