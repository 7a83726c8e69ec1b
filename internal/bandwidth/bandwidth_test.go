package bandwidth

import (
	"context"
	"testing"
	"time"
)

func TestWaitHoldsTheRate(t *testing.T) {
	// 1 MiB at 4 MiB/s takes at least 1 MiB minus the burst (0.4 MiB),
	// over 4 MiB/s: 150 ms. Only a lower bound is asserted: a slow machine
	// may take longer, never shorter.
	l := New(4 << 20)
	start := time.Now()
	if err := Wait(t.Context(), 1<<20, l); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 140*time.Millisecond {
		t.Fatalf("1 MiB passed a 4 MiB/s limiter in %v", took)
	}
}

func TestNilLimitsNothing(t *testing.T) {
	if New(0) != nil || New(-1) != nil {
		t.Fatal("a zero rate made a limiter")
	}
	if err := Wait(t.Context(), 1<<40, nil, New(0)); err != nil {
		t.Fatal(err)
	}
	var p *PerKey[string]
	if l, done := p.Acquire("a"); l != nil {
		t.Fatal("nil PerKey handed out a limiter")
	} else {
		done()
	}
}

func TestWaitEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Wait(ctx, 1<<30, New(1<<10)); err == nil {
		t.Fatal("Wait on a cancelled context returned nil")
	}
}

func TestPerKeySharesAndForgets(t *testing.T) {
	p := NewPerKey[string](1 << 20)
	a1, done1 := p.Acquire("a")
	a2, done2 := p.Acquire("a")
	b, doneB := p.Acquire("b")
	if a1 != a2 || a1 == b {
		t.Fatal("one key must share one limiter, two keys must not")
	}
	done1()
	done2()
	doneB()
	if len(p.live) != 0 {
		t.Fatalf("%d limiters kept after every flow ended", len(p.live))
	}
}
