package papi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestOptionsDoNoIOUntilUsed: making an option touches nothing; NewPeer
// reads or makes the identity file and registers the metrics.
func TestOptionsDoNoIOUntilUsed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity")
	reg := prometheus.NewRegistry()
	opts := []PeerOption{IdentityFile(path), Metrics(reg), ListenAddrs("/ip4/127.0.0.1/tcp/0")}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("IdentityFile made the file before NewPeer: %v", err)
	}
	p, err := NewPeer(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("NewPeer did not make the identity file: %v", err)
	}
	if families, _ := reg.Gather(); len(families) == 0 {
		t.Fatal("NewPeer registered no metrics")
	}
}

// TestFailingOptionsFailTheCall: an option that cannot work makes the call
// it is given to fail, saying why.
func TestFailingOptionsFailTheCall(t *testing.T) {
	p := newTestPeer(t)
	h := boothsBundle(t).Hash()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"listen address", func() error { _, err := NewPeer(t.Context(), ListenAddrs("nowhere")); return err }, `listen address "nowhere"`},
		{"identity", func() error {
			_, err := NewPeer(t.Context(), IdentityFile(t.TempDir())) // a directory, not a key
			return err
		}, "identity"},
		{"seed rate", func() error { _, err := NewPeer(t.Context(), SeedRate(-1, 0)); return err }, "negative"},
		{"dial provider", func() error { _, err := p.Dial(t.Context(), h, Provider("not an address")); return err }, `provider address "not an address"`},
		{"clone provider", func() error { _, err := p.Clone(t.Context(), h, Provider("not an address")); return err }, `provider address "not an address"`},
		{"clone rate", func() error { _, err := p.Clone(t.Context(), h, CloneRate(-5)); return err }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error about %s", err, tt.want)
			}
		})
	}
}
