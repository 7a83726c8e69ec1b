package papi

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// verdict is what a fan-out does after an answer.
type verdict int

const (
	keepAsking  verdict = iota // wait for more answers
	startWindow                // wait for more answers, at most the window from the first such
	stopAsking                 // done: cancel the questions still out
)

// askAll asks the candidates for key (peers named, peers connected, what
// discovery finds) with ask, each once, as they come in, each within
// describeTimeout. take judges each answer. Asking ends when take says
// stop, when the window that take opened passes, when no candidate is left
// to ask and no answer is out, or when ctx ends; the questions still out
// are then cancelled. Dial, Clone and Resolve share it.
func askAll[T any](ctx context.Context, p *Peer, named []peer.AddrInfo, key mh.Multihash, window time.Duration,
	ask func(ctx context.Context, ai peer.AddrInfo) (T, error),
	take func(id peer.ID, v T, err error) verdict,
) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		id  peer.ID
		v   T
		err error
	}
	answers := make(chan answer)
	tried := map[peer.ID]bool{p.host.ID(): true}
	pending := 0
	var closing <-chan time.Time
	in := p.candidates(ctx, named, key)
	for in != nil || pending > 0 {
		select {
		case ai, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			if tried[ai.ID] {
				continue
			}
			tried[ai.ID] = true
			pending++
			go func() {
				ctx, cancel := context.WithTimeout(ctx, describeTimeout)
				defer cancel()
				v, err := ask(ctx, ai)
				select {
				case answers <- answer{ai.ID, v, err}:
				case <-ctx.Done():
				}
			}()
		case a := <-answers:
			pending--
			switch take(a.id, a.v, a.err) {
			case stopAsking:
				return
			case startWindow:
				if closing == nil {
					closing = time.After(window)
				}
			}
		case <-closing:
			return
		case <-ctx.Done():
			return
		}
	}
}
