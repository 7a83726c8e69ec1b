package papi

import (
	"crypto/rand"
	"errors"
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
