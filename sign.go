package papi

import (
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A signature binds a bundle hash to a publisher's libp2p key. It is not
// part of the bundle's bytes (it could not be: it signs their hash); it
// travels beside the manifest when a peer describes the bundle.
type signature struct {
	PublicKey []byte `cbor:"key"` // libp2p-marshalled public key
	Sig       []byte `cbor:"sig"`
}

// maxSignatures bounds the signatures one answer may carry.
const maxSignatures = 16

// signingContext keeps a papi signature from meaning anything in another
// protocol that signs with the same key.
const signingContext = "papi bundle signature v1\n"

func signedBytes(h Hash) []byte { return append([]byte(signingContext), h.c.Bytes()...) }

// Sign signs b's hash with a publisher's key (such as the one IdentityFile
// keeps), so that dialers can check who published it (RequirePublisher).
// A bundle may carry signatures of several publishers; WithData makes a new
// bundle, which its publisher signs anew.
func (b *Bundle) Sign(key crypto.PrivKey) error {
	sig, err := key.Sign(signedBytes(b.hash))
	if err != nil {
		return fmt.Errorf("sign %s: %w", b.hash, err)
	}
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		return fmt.Errorf("sign %s: %w", b.hash, err)
	}
	if len(b.signatures) >= maxSignatures {
		return fmt.Errorf("sign %s: already %d signatures", b.hash, maxSignatures)
	}
	b.signatures = append(b.signatures, signature{PublicKey: pub, Sig: sig})
	return nil
}

// Publishers returns the peers whose signatures b carries.
func (b *Bundle) Publishers() []peer.ID {
	ids, _ := verifySignatures(b.hash, b.signatures)
	return ids
}

// verifySignatures checks every signature over h and returns the signers;
// any signature that does not verify is an error, for a provider that sends
// one is lying about who published the bundle.
func verifySignatures(h Hash, sigs []signature) ([]peer.ID, error) {
	if len(sigs) > maxSignatures {
		return nil, errorf(ErrMalformed, "%d signatures, limit %d", len(sigs), maxSignatures)
	}
	var ids []peer.ID
	for _, s := range sigs {
		pub, err := crypto.UnmarshalPublicKey(s.PublicKey)
		if err != nil {
			return nil, errorf(ErrMalformed, "signature key: %w", err)
		}
		ok, err := pub.Verify(signedBytes(h), s.Sig)
		if err != nil || !ok {
			return nil, errorf(ErrHashMismatch, "a signature does not verify for %s", h)
		}
		id, err := peer.IDFromPublicKey(pub)
		if err != nil {
			return nil, errorf(ErrMalformed, "signature key: %w", err)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// RequirePublisher makes Dial and Clone accept only providers whose answer
// carries a valid signature of the bundle by publisher.
func RequirePublisher(publisher peer.ID) ProviderOption {
	return providerOptionFunc(func(c *dialConfig) error { c.publisher = publisher; return nil })
}
