package papi

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newKey(t *testing.T) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(k)
	return k, id
}

func TestSignedBundles(t *testing.T) {
	key, publisher := newKey(t)
	_, stranger := newKey(t)
	b := boothsBundle(t)
	if err := b.Sign(key); err != nil {
		t.Fatal(err)
	}
	if got := b.Publishers(); !slices.Equal(got, []peer.ID{publisher}) {
		t.Fatalf("publishers %v", got)
	}
	server, client := newTestPeer(t), newTestPeer(t)
	serveTest(t, server, b)

	c, err := client.Dial(t.Context(), b.APIHash(), Provider(server.Addrs()...), RequirePublisher(publisher))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.Publishers(), publisher) {
		t.Fatalf("client publishers %v", c.Publishers())
	}
	if _, err := client.Dial(t.Context(), b.Hash(), Provider(server.Addrs()...), RequirePublisher(stranger)); !errors.Is(err, ErrNoProvider) || !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("dial requiring another publisher: %v", err)
	}

	// A provider that forges a signature is dropped.
	forger := newTestPeer(t)
	forged := boothsBundle(t)
	forged.signatures = []signature{{PublicKey: b.signatures[0].PublicKey, Sig: make([]byte, 64)}}
	serveTest(t, forger, forged)
	if _, err := newTestPeer(t).Dial(t.Context(), b.Hash(), Provider(forger.Addrs()...)); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("dial a forger: %v, want ErrHashMismatch", err)
	}
	// A signature of one bundle does not carry over to another.
	own, _ := b.WithData(Data("stations", otherStations))
	if len(own.Publishers()) != 0 {
		t.Fatal("WithData kept the original's signatures")
	}
}

func TestSignaturesAreKeptOnDiskAndThroughClones(t *testing.T) {
	key, publisher := newKey(t)
	b := boothsBundle(t)
	if err := b.Sign(key); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	opened, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(opened.Publishers(), []peer.ID{publisher}) {
		t.Fatalf("publishers after WriteDir and OpenBundle: %v", opened.Publishers())
	}

	// A clone keeps the signature, so a mirror of a mirror still proves
	// who published the bundle.
	origin, mirror, user := newTestPeer(t), newTestPeer(t), newTestPeer(t)
	serveTest(t, origin, b)
	store := t.TempDir()
	cloned, err := mirror.Clone(t.Context(), b.Hash(), Provider(origin.Addrs()...), StoreDir(store))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cloned.Publishers(), []peer.ID{publisher}) {
		t.Fatalf("publishers of the clone: %v", cloned.Publishers())
	}
	serveTest(t, mirror, cloned, SeedOnly())
	origin.Close()
	if _, err := user.Dial(t.Context(), b.Hash(), Provider(mirror.Addrs()...), RequirePublisher(publisher)); err != nil {
		t.Fatalf("dial the mirror requiring the publisher: %v", err)
	}
	again, err := mirror.Clone(t.Context(), b.Hash(), StoreDir(store))
	if err != nil || !slices.Equal(again.Publishers(), []peer.ID{publisher}) {
		t.Fatalf("second clone from the store: %v, publishers %v", err, again.Publishers())
	}

	// A signature file that was tampered with is refused, not ignored.
	sigPath := filepath.Join(dir, "signatures.cbor")
	raw, err := os.ReadFile(sigPath)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	if err := os.WriteFile(sigPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBundle(dir); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("open with a tampered signature: %v, want ErrHashMismatch", err)
	}
	if err := os.WriteFile(sigPath, []byte{0xff, 0x00}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBundle(dir); !errors.Is(err, ErrMalformed) {
		t.Fatalf("open with a garbage signature file: %v, want ErrMalformed", err)
	}
}
