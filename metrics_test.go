package papi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsCountCallsAndClonedBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	server := newTestPeer(t, Metrics(reg))
	b, _ := probeAPI(t).Bundle()
	serveTest(t, server, b)
	c := dialTest(t, newTestPeer(t), b.Hash(), server)
	for range 3 {
		Call[probeReq, probeResp](t.Context(), c, "Probe", probeReq{})
	}
	Call[probeReq, probeResp](t.Context(), c, "Probe", probeReq{Code: uint32(CodeNotFound)})
	if n := testutil.ToFloat64(server.metrics.calls.WithLabelValues("Probe", "ok")); n != 3 {
		t.Errorf("ok calls counted: %v, want 3", n)
	}
	if n := testutil.ToFloat64(server.metrics.calls.WithLabelValues("Probe", "not_found")); n != 1 {
		t.Errorf("not_found calls counted: %v, want 1", n)
	}
	if n := testutil.CollectAndCount(server.metrics.duration); n != 1 {
		t.Errorf("latency series: %d, want 1", n)
	}

	cloner := newTestPeer(t, Metrics(prometheus.NewRegistry()))
	orig := blobBundle(t, 2*PieceSize, 12)
	serveTest(t, server, orig)
	if _, err := cloner.Clone(t.Context(), orig.Hash(), Provider(server.Addrs()...), StoreDir(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	want := float64(orig.datasets[0].size + orig.datasets[1].size)
	if n := testutil.ToFloat64(cloner.metrics.bytesCloned); n != want {
		t.Errorf("bytes cloned: %v, want %v", n, want)
	}
}

// TestMetricsLabelOnlyDeclaredMethods: calls to 500 method names the API
// does not declare make one series, not 500.
func TestMetricsLabelOnlyDeclaredMethods(t *testing.T) {
	reg := prometheus.NewRegistry()
	server := newTestPeer(t, Metrics(reg))
	b, _ := probeAPI(t).Bundle()
	serveTest(t, server, b)
	c := dialTest(t, newTestPeer(t), b.Hash(), server)
	if _, err := Call[probeReq, probeResp](t.Context(), c, "Probe", probeReq{}); err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if _, err := c.CallCBOR(t.Context(), fmt.Sprintf("Random%d", i), []byte{0xa0}); !errors.Is(err, ErrUnknownMethod) {
			t.Fatalf("call to an undeclared method: %v, want ErrUnknownMethod", err)
		}
	}
	if n := testutil.CollectAndCount(server.metrics.calls); n != 2 {
		t.Errorf("call counter series: %d, want 2 (Probe, and all undeclared methods as one)", n)
	}
	if n := testutil.CollectAndCount(server.metrics.duration); n != 2 {
		t.Errorf("latency series: %d, want 2", n)
	}
	if n := testutil.ToFloat64(server.metrics.calls.WithLabelValues(unknownMethodLabel, CodeUnimplemented.String())); n != 500 {
		t.Errorf("undeclared calls counted: %v, want 500", n)
	}
}

// TestMetricsOfPeersSharingARegistry: a second peer on the same registry
// counts into the collectors already there, so its calls are scraped.
func TestMetricsOfPeersSharingARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	var peers []*Peer
	for range 2 {
		p := newTestPeer(t, Metrics(reg))
		peers = append(peers, p)
	}
	b, _ := probeAPI(t).Bundle()
	client := newTestPeer(t)
	for _, p := range peers {
		serveTest(t, p, b)
		c := dialTest(t, client, b.Hash(), p)
		if _, err := Call[probeReq, probeResp](t.Context(), c, "Probe", probeReq{}); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var served float64
	for _, f := range families {
		if f.GetName() == "papi_calls_total" {
			for _, m := range f.GetMetric() {
				served += m.GetCounter().GetValue()
			}
		}
	}
	if served != 2 {
		t.Errorf("calls scraped from the shared registry: %v, want 2 (one per peer)", served)
	}
}
