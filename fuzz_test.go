package papi

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"math"
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
	// A dataset of more than one piece has a dag-pb UnixFS root.
	large, err := b.WithData(Data("blob", bytes.Repeat([]byte{7}, PieceSize+1)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(large.manifestBytes)
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeManifest(in)
		if err != nil {
			return
		}
		again, err := canon.MarshalDAG(m)
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
		again, err := canon.MarshalDAG(s)
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
	// testdata holds the description of a derived bundle too, which a
	// dialer of its parent's API hash accepts.
	h, parentAPI := b.Hash(), b.APIHash()
	f.Fuzz(func(t *testing.T, in []byte) {
		var d description
		if descriptionDecoder.UnmarshalExact(in, &d) != nil {
			return
		}
		for _, want := range []Hash{h, parentAPI} {
			if _, s, lineage, err := verifyDescription(want, d); err == nil {
				ancestors(s, lineage)
				verifySignatures(hashBytes(codecCBOR, d.Manifest), d.Signatures)
			}
		}
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

// FuzzCallPayload sends arbitrary request bytes to a typed method, through
// what a server runs for every call that arrives, as any peer may: the
// handler must see only requests that decode strictly, carry every
// required field and meet their conditions, and every other payload must
// be refused as malformed or failing a precondition, not crash or reach
// the handler.
func FuzzCallPayload(f *testing.F) {
	var reached NearestReq
	api := New("fuzz", "1")
	err := Handle(api, "Nearest", func(_ context.Context, req NearestReq) (NearestResp, error) {
		reached = req
		return NearestResp{}, nil
	})
	if err != nil {
		f.Fatal(err)
	}
	b, err := api.Bundle()
	if err != nil {
		f.Fatal(err)
	}
	good, _ := canon.Marshal(NearestReq{Lat: 52.5, Lon: 13.4, Limit: 3})
	f.Add(good)
	bad, _ := canon.Marshal(NearestReq{Lat: 91, Limit: 3})
	f.Add(bad)
	f.Add([]byte{0xa1, 0x63, 'l', 'a', 't', 0xf9, 0x7e, 0x00}) // NaN
	f.Add([]byte{0xbf, 0xff})                                  // indefinite map
	// No lat: the decoder alone would make it 0.
	f.Add([]byte{0xa2, 0x63, 'l', 'o', 'n', 0x00, 0x65, 'l', 'i', 'm', 'i', 't', 0x01})
	srv := serveTest(f, newTestPeer(f), b)
	f.Fuzz(func(t *testing.T, in []byte) {
		reached = NearestReq{Limit: -1}
		_, err := srv.call(context.Background(), "Nearest", in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrPrecondition) {
				t.Fatalf("payload %x refused with %v, want ErrMalformed or ErrPrecondition", in, err)
			}
			if reached.Limit != -1 {
				t.Fatalf("refused payload %x reached the handler", in)
			}
			return
		}
		if reached.Limit < 1 || reached.Limit > 50 || math.Abs(reached.Lat) > 90 || math.Abs(reached.Lon) > 180 {
			t.Fatalf("handler got a request that breaks its conditions: %+v", reached)
		}
		var sent map[string]any
		if err := canon.Unmarshal(in, &sent); err != nil {
			t.Fatalf("payload %x reached the handler but is no map: %v", in, err)
		}
		for _, k := range []string{"lat", "lon", "limit"} {
			if v, ok := sent[k]; !ok || v == nil {
				t.Fatalf("payload %x without %s reached the handler", in, k)
			}
		}
	})
}
