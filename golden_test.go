package papi

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden vectors under testdata/golden")

// golden is one committed vector: a fixed API and data with the hashes and
// bytes they must give, in every process, on every run, until the format is
// changed on purpose (go test -run Golden -update).
type golden struct {
	APIHash    string `json:"api_hash"`
	BundleHash string `json:"bundle_hash"`
	Derived    string `json:"derived_bundle_hash"`
	Manifest   string `json:"manifest_hex"`
	Spec       string `json:"spec_hex"`
}

func TestGoldenVectors(t *testing.T) {
	b := boothsBundle(t)
	derived, err := b.WithData(Data("stations", otherStations))
	if err != nil {
		t.Fatal(err)
	}
	got := golden{
		APIHash:    b.APIHash().String(),
		BundleHash: b.Hash().String(),
		Derived:    derived.Hash().String(),
		Manifest:   hex.EncodeToString(b.manifestBytes),
		Spec:       hex.EncodeToString(b.specBytes),
	}
	path := filepath.Join("testdata", "golden", "booths.json")
	if *update {
		out, _ := json.MarshalIndent(got, "", "  ")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update once to create it)", err)
	}
	var want golden
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("hashes or bytes changed for the same API and data:\n got %+v\nwant %+v", got, want)
	}
}
