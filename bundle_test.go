package papi

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestBundleHashesAreDeterministic(t *testing.T) {
	want := boothsBundle(t)
	// Declaring in another order, in other goroutines, gives the same bytes.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			api := New("booths", "1.0.0", Description("Polling stations and the nearest one to you"))
			if err := Handle(api, "Count", count); err != nil {
				t.Error(err)
			}
			if err := Handle(api, "Nearest", nearest, Description("The stations nearest to a point")); err != nil {
				t.Error(err)
			}
			b, err := api.Bundle(Data("stations", someStations))
			if err != nil {
				t.Error(err)
				return
			}
			if b.Hash() != want.Hash() || b.APIHash() != want.APIHash() {
				t.Errorf("hash %s/%s, want %s/%s", b.Hash(), b.APIHash(), want.Hash(), want.APIHash())
			}
		})
	}
	wg.Wait()
}

func TestHashesTrackWhatChanged(t *testing.T) {
	base := boothsBundle(t)

	type renamedReq struct {
		Latitude float64 `cbor:"latitude" papi:"minimum=-90,maximum=90"`
		Lon      float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit    int     `cbor:"limit" papi:"minimum=1,maximum=50"`
	}
	type retypedReq struct {
		Lat   float64 `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int32   `cbor:"limit" papi:"minimum=1,maximum=50"`
	}
	type reconditionedReq struct {
		Lat   float64 `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon   float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Limit int     `cbor:"limit" papi:"minimum=1,maximum=100"`
	}
	variant := func(t *testing.T, handle func(*API) error) *Bundle {
		t.Helper()
		api := New("booths", "1.0.0", Description("Polling stations and the nearest one to you"))
		if err := handle(api); err != nil {
			t.Fatal(err)
		}
		if err := Handle(api, "Count", count); err != nil {
			t.Fatal(err)
		}
		b, err := api.Bundle(Data("stations", someStations))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		handle func(*API) error
	}{
		{"rename a field", func(a *API) error {
			return Handle(a, "Nearest", func(context.Context, renamedReq) (NearestResp, error) { return NearestResp{}, nil })
		}},
		{"change a type", func(a *API) error {
			return Handle(a, "Nearest", func(context.Context, retypedReq) (NearestResp, error) { return NearestResp{}, nil })
		}},
		{"change a condition", func(a *API) error {
			return Handle(a, "Nearest", func(context.Context, reconditionedReq) (NearestResp, error) { return NearestResp{}, nil })
		}},
		{"rename a method", func(a *API) error { return Handle(a, "Closest", nearest) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := variant(t, tt.handle)
			if b.APIHash() == base.APIHash() {
				t.Errorf("API hash unchanged: %s", b.APIHash())
			}
			if b.Hash() == base.Hash() {
				t.Errorf("bundle hash unchanged: %s", b.Hash())
			}
		})
	}
	t.Run("change only data", func(t *testing.T) {
		b, err := boothsAPI(t).Bundle(Data("stations", otherStations))
		if err != nil {
			t.Fatal(err)
		}
		if b.APIHash() != base.APIHash() {
			t.Errorf("API hash changed: %s vs %s", b.APIHash(), base.APIHash())
		}
		if b.Hash() == base.Hash() {
			t.Error("bundle hash unchanged")
		}
	})
}

func TestWithDataKeepsAPIAndRecordsLineage(t *testing.T) {
	base := boothsBundle(t)
	own, err := base.WithData(Data("stations", otherStations))
	if err != nil {
		t.Fatal(err)
	}
	if own.APIHash() != base.APIHash() {
		t.Errorf("API hash %s, want %s", own.APIHash(), base.APIHash())
	}
	if own.Hash() == base.Hash() {
		t.Error("bundle hash unchanged")
	}
	if p, ok := own.Parent(); !ok || p != base.Hash() {
		t.Errorf("parent %v %v, want %s", p, ok, base.Hash())
	}
	if _, ok := base.Parent(); ok {
		t.Error("original bundle has a parent")
	}
	d, _ := own.Dataset("stations")
	var got []Station
	if err := d.Decode(&got); err != nil || len(got) != 1 || got[0].ID != "tgn-001" {
		t.Errorf("own data = %v, %v", got, err)
	}
}

func TestBundleDeclarationErrors(t *testing.T) {
	type withFunc struct {
		Callback func() `cbor:"callback"`
	}
	api := New("bad", "1")
	err := Handle(api, "M", func(context.Context, withFunc) (CountResp, error) { return CountResp{}, nil })
	if err == nil || !strings.Contains(err.Error(), "callback") {
		t.Fatalf("error %v does not name the field", err)
	}
	if _, err := api.Bundle(); err == nil {
		t.Error("Bundle of an API with a declaration error succeeded")
	}
	if err := Handle(boothsAPI(t), "Nearest", nearest); err == nil {
		t.Error("declaring a method twice succeeded")
	}
	if _, err := boothsAPI(t).Bundle(Data("../escape", 1)); err == nil {
		t.Error("dataset name with a path separator accepted")
	}
	if _, err := boothsAPI(t).Bundle(Data("a", 1), Data("a", 2)); err == nil {
		t.Error("two datasets of one name accepted")
	}
	if _, err := boothsAPI(t).Bundle(DataBytes("a", []byte{0x82, 0x01})); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated CBOR dataset: %v, want ErrMalformed", err)
	}
}

func TestBundleDirRoundTrip(t *testing.T) {
	b := boothsBundle(t)
	dir := t.TempDir()
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	got, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != b.Hash() || got.APIHash() != b.APIHash() {
		t.Fatalf("read %s, wrote %s", got.Hash(), b.Hash())
	}
	if err := VerifyBundle(got, b.Hash()); err != nil {
		t.Fatal(err)
	}
	if err := VerifyBundle(got, b.APIHash()); err != nil {
		t.Fatal(err)
	}

	corrupt := func(t *testing.T, name string, change func([]byte) []byte) error {
		t.Helper()
		d := t.TempDir()
		if err := b.WriteDir(d); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d, name)
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, change(raw), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = OpenBundle(d)
		return err
	}
	flip := func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/2] ^= 0x01; return b }
	truncate := func(b []byte) []byte { return b[:len(b)-1] }
	tests := []struct {
		name, file string
		change     func([]byte) []byte
		want       error
	}{
		{"flipped data byte", "data/stations", flip, ErrHashMismatch},
		{"truncated data", "data/stations", truncate, ErrHashMismatch},
		{"flipped spec byte", "spec.cbor", flip, ErrHashMismatch},
		{"truncated manifest", "manifest.cbor", truncate, ErrMalformed},
		{"manifest not cbor", "manifest.cbor", func([]byte) []byte { return []byte("{}") }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := corrupt(t, tt.file, tt.change); !errors.Is(err, tt.want) {
				t.Errorf("OpenBundle = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBundleStreamRoundTrip(t *testing.T) {
	b := boothsBundle(t)
	var buf bytes.Buffer
	n, err := b.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v (wrote %d)", n, err, buf.Len())
	}
	raw := buf.Bytes()
	got, err := ReadBundle(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != b.Hash() {
		t.Fatalf("read %s, wrote %s", got.Hash(), b.Hash())
	}
	for i := range raw {
		if _, err := ReadBundle(bytes.NewReader(raw[:i])); err == nil {
			t.Fatalf("stream truncated to %d of %d bytes read without error", i, len(raw))
		}
	}
	for _, i := range []int{0, len(streamMagic) + 3, len(raw) / 2, len(raw) - 1} {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x40
		if got, err := ReadBundle(bytes.NewReader(bad)); err == nil {
			t.Errorf("byte %d flipped: read bundle %s without error", i, got.Hash())
		}
	}
}
