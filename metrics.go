package papi

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a peer's Prometheus collectors; nil when the peer has none.
type metrics struct {
	calls       *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	bytesCloned prometheus.Counter
}

// Metrics makes the peer keep metrics in reg, on the Prometheus client
// libp2p already uses: calls served by method and code, their latency, and
// bytes received by clones. NewPeer registers them; peers sharing a
// registry share its collectors. Without it a peer keeps no metrics.
func Metrics(reg prometheus.Registerer) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error { c.registerer = reg; return nil })
}

// newMetrics registers the collectors with reg, or takes those a peer
// registered there before: the first registered is the one scraped, so
// later peers count into it.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "papi", Name: "calls_total", Help: "Calls served, by method and result code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "papi", Name: "call_duration_seconds", Help: "Time to serve a call, by method.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 4, 10),
		}, []string{"method"}),
		bytesCloned: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "papi", Name: "clone_bytes_total", Help: "Dataset bytes received and verified by clones.",
		}),
	}
	var err error
	if m.calls, err = register(reg, m.calls); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.bytesCloned, err = register(reg, m.bytesCloned); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers col with reg, or returns the collector of the same
// description already registered there.
func register[C prometheus.Collector](reg prometheus.Registerer, col C) (C, error) {
	err := reg.Register(col)
	var already prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return col, nil
	case errors.As(err, &already):
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing, nil
		}
		return col, fmt.Errorf("metrics: %w", err)
	default:
		return col, fmt.Errorf("metrics: %w", err)
	}
}

// unknownMethodLabel is the method label of calls to methods the API does
// not declare. Labelling them by the name the caller sent would let any
// caller create series without bound; user method names have no dot.
const unknownMethodLabel = "papi.unknown"

func (m *metrics) call(method string, start time.Time, err error) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(method, CodeOf(err).String()).Inc()
	m.duration.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

func (m *metrics) cloned(n int64) {
	if m != nil {
		m.bytesCloned.Add(float64(n))
	}
}
