// Package bandwidth limits the bytes per second a clone takes and a seeder
// gives, with token buckets from golang.org/x/time/rate.
package bandwidth

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// chunk is the most one wait asks of a bucket: a bucket's burst must hold at
// least one chunk, and small chunks keep a large transfer from waiting for
// its whole size at once.
const chunk = 64 << 10

// Limiter limits a flow to a number of bytes per second. A nil Limiter
// does not limit.
type Limiter struct {
	l *rate.Limiter
}

// New returns a limiter of bytesPerSecond, or nil for zero or less. The
// burst is a tenth of a second's worth (at least one chunk), so a flow
// cannot bank idle time and then exceed its rate for long.
func New(bytesPerSecond int64) *Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	burst := max(bytesPerSecond/10, chunk)
	return &Limiter{l: rate.NewLimiter(rate.Limit(bytesPerSecond), int(burst))}
}

// Wait blocks until n bytes may pass every limiter, or ctx ends.
func Wait(ctx context.Context, n int64, limiters ...*Limiter) error {
	for n > 0 {
		step := min(n, chunk)
		for _, l := range limiters {
			if l == nil {
				continue
			}
			if err := l.l.WaitN(ctx, int(step)); err != nil {
				return err
			}
		}
		n -= step
	}
	return nil
}

// PerKey hands out one limiter per key, such as a peer, while the key has
// flows open, and forgets it when the last one closes.
type PerKey[K comparable] struct {
	bytesPerSecond int64

	mu   sync.Mutex
	live map[K]*shared
}

type shared struct {
	l    *Limiter
	refs int
}

// NewPerKey returns limiters of bytesPerSecond each; with zero or less,
// every limiter it hands out is nil.
func NewPerKey[K comparable](bytesPerSecond int64) *PerKey[K] {
	return &PerKey[K]{bytesPerSecond: bytesPerSecond, live: map[K]*shared{}}
}

// Acquire returns k's limiter and a function to call when the flow ends.
func (p *PerKey[K]) Acquire(k K) (*Limiter, func()) {
	if p == nil || p.bytesPerSecond <= 0 {
		return nil, func() {}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.live[k]
	if s == nil {
		s = &shared{l: New(p.bytesPerSecond)}
		p.live[k] = s
	}
	s.refs++
	return s.l, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if s.refs--; s.refs == 0 {
			delete(p.live, k)
		}
	}
}
