package papi

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"lukechampine.com/blake3"

	"github.com/papi-dev/papi/internal/canon"
)

// Decoders of bytes that come from other peers. Each must return an error,
// never panic, and accept only what re-encodes to the same bytes.
// Seeds are committed under testdata/fuzz/<FuzzName>; run a long session with
// go test -run '^$' -fuzz '^FuzzReadBundle$' -fuzztime 1m .

func FuzzDecodeManifest(f *testing.F) {
	b := boothsBundle(f)
	f.Add(b.manifestBytes)
	derived, _ := b.WithData(Data("stations", otherStations))
	f.Add(derived.manifestBytes)
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeManifest(in)
		if err != nil {
			return
		}
		again, err := canon.Marshal(m)
		if err != nil || !bytes.Equal(again, in) {
			t.Fatalf("accepted manifest does not re-encode to its bytes: %x", in)
		}
	})
}

func FuzzDecodeSpec(f *testing.F) {
	b := boothsBundle(f)
	f.Add(b.specBytes)
	f.Fuzz(func(t *testing.T, in []byte) {
		// The hash check comes first in decodeSpec; fuzz what is behind it.
		s, err := decodeSpec(in, blake3.Sum256(in))
		if err != nil {
			return
		}
		again, err := canon.Marshal(s)
		if err != nil || !bytes.Equal(again, in) {
			t.Fatalf("accepted spec does not re-encode to its bytes: %x", in)
		}
	})
}

func FuzzReadBundle(f *testing.F) {
	var buf bytes.Buffer
	boothsBundle(f).WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := ReadBundle(bytes.NewReader(in))
		if err != nil {
			return
		}
		if err := VerifyBundle(b, b.Hash()); err != nil {
			t.Fatalf("ReadBundle accepted a bundle that does not verify: %v", err)
		}
	})
}

func FuzzParseHash(f *testing.F) {
	b := boothsBundle(f)
	f.Add(b.Hash().String())
	f.Add(b.datasets[0].Hash().String())
	f.Add("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	f.Fuzz(func(t *testing.T, in string) {
		h, err := ParseHash(in)
		if err != nil {
			return
		}
		again, err := ParseHash(h.String())
		if err != nil || again != h {
			t.Fatalf("ParseHash(%q) = %s, which does not parse back: %v", in, h, err)
		}
	})
}

func FuzzDescription(f *testing.F) {
	b := boothsBundle(f)
	seed, _ := canon.Marshal(description{Manifest: b.manifestBytes, Spec: b.specBytes, Signatures: []signature{{PublicKey: []byte{1}, Sig: []byte{2}}}})
	f.Add(seed)
	h := b.Hash()
	f.Fuzz(func(t *testing.T, in []byte) {
		var d description
		if descriptionDecoder.UnmarshalExact(in, &d) != nil {
			return
		}
		if _, _, err := verifyDescription(h, d); err != nil {
			return
		}
		verifySignatures(hashBytes(codecCBOR, d.Manifest), d.Signatures)
	})
}

func FuzzParseNameRecord(f *testing.F) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	r, err := SignName(key, "stations", 7, boothsBundle(f).Hash())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(r.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseNameRecord(in)
		if err != nil {
			return
		}
		// What parses has a valid signature over exactly these bytes, and
		// names the key that signed it.
		again, err := ParseNameRecord(r.Bytes())
		if err != nil || again.Name != r.Name || again.Seq != r.Seq || again.Bundle != r.Bundle {
			t.Fatalf("accepted record does not parse again the same: %x", in)
		}
		if err := checkLabel(r.Name.Label); err != nil {
			t.Fatalf("accepted a record with a bad label: %v", err)
		}
	})
}
