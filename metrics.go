package papi

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a peer's Prometheus collectors; nil when the peer has none.
type metrics struct {
	calls       *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	bytesCloned prometheus.Counter
}

// Metrics registers the peer's metrics with reg, on the Prometheus client
// libp2p already uses: calls served by method and code, their latency, and
// bytes received by clones. Without it a peer keeps no metrics.
func Metrics(reg prometheus.Registerer) PeerOption {
	return func(c *peerConfig) error {
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
		for _, col := range []prometheus.Collector{m.calls, m.duration, m.bytesCloned} {
			if err := reg.Register(col); err != nil {
				var already prometheus.AlreadyRegisteredError
				if !errors.As(err, &already) {
					return err
				}
			}
		}
		c.metrics = m
		return nil
	}
}

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
