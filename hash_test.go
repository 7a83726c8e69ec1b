package papi

import (
	"errors"
	"testing"
)

func TestParseHash(t *testing.T) {
	b := boothsBundle(t)
	for _, h := range []Hash{b.Hash(), b.APIHash(), b.datasets[0].Hash()} {
		got, err := ParseHash(h.String())
		if err != nil || got != h {
			t.Errorf("ParseHash(%s) = %s, %v", h, got, err)
		}
		var viaText Hash
		if err := viaText.UnmarshalText([]byte(h.String())); err != nil || viaText != h {
			t.Errorf("UnmarshalText(%s) = %s, %v", h, viaText, err)
		}
	}
	bad := []struct{ name, in string }{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"cid v0 (sha2-256)", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"},
		{"sha2-256 multihash", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
		{"dag-pb codec", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"},
		{"truncated", b.Hash().String()[:20]},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if h, err := ParseHash(tt.in); !errors.Is(err, ErrInvalidHash) {
				t.Errorf("ParseHash(%q) = %s, %v; want ErrInvalidHash", tt.in, h, err)
			}
		})
	}
}
