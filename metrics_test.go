package papi

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsCountCallsAndClonedBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	server, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), Metrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
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

	cloner, err := NewPeer(context.Background(), ListenAddrs("/ip4/127.0.0.1/tcp/0"), Metrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloner.Close() })
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
