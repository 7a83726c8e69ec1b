package transport

import (
	"context"
	"sync"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	bsnetwork "github.com/ipfs/boxo/bitswap/network"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	bsserver "github.com/ipfs/boxo/bitswap/server"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/papi-dev/papi/internal/bandwidth"
)

// Limits of the bitswap server, beside those the resource manager puts on
// its streams like any protocol's (Limits.StreamsPerPeer, MemoryPerPeer).
const (
	// MaxBitswapBlock is the largest block the server sends: what every
	// bitswap client accepts. A larger block is answered as one it lacks.
	MaxBitswapBlock = 2 << 20
	// MaxBitswapWants is how many wants of one peer the server keeps; it
	// drops the newest past it, so a want list of any length costs the same.
	MaxBitswapWants = 1024
	// maxBitswapOutstanding is how many bytes of blocks the server reads for
	// one peer before that peer has taken the last.
	maxBitswapOutstanding = 1 << 20
)

// Bitswap serves blocks from bs by the bitswap protocol, as an IPFS node
// does, until Close. It only answers: it asks nobody for blocks and keeps
// none it is sent.
type Bitswap struct {
	server *bsserver.Server
	net    bsnetwork.BitSwapNetwork
}

// ServeBitswap answers bitswap requests on h from bs. The blocks it sends
// count against limits as cloners' data does, total and per peer.
func ServeBitswap(h *Host, bs blockstore.Blockstore, limits SeedLimits) *Bitswap {
	n := &pacedNetwork{
		BitSwapNetwork: bsnet.NewFromIpfsHost(h.h),
		total:          bandwidth.New(limits.Total),
		perPeer:        bandwidth.NewPerKey[peer.ID](limits.PerPeer),
		held:           map[peer.ID]func(){},
	}
	s := bsserver.New(h.ctx, n, cappedBlockstore{bs},
		bsserver.MaxQueuedWantlistEntriesPerPeer(MaxBitswapWants),
		bsserver.MaxOutstandingBytesPerPeer(maxBitswapOutstanding),
	)
	n.Start(s)
	return &Bitswap{server: s, net: n}
}

// Close stops answering.
func (b *Bitswap) Close() {
	b.net.Stop()
	b.server.Close()
}

// WantlistLen is how many wants of p the server holds.
func (b *Bitswap) WantlistLen(p peer.ID) int { return len(b.server.WantlistForPeer(p)) }

// pacedNetwork holds the blocks the server sends to the seed limits. Each
// peer's limiter lives while the peer is connected, so a peer gets its rate
// over every message, not a fresh burst with each.
type pacedNetwork struct {
	bsnetwork.BitSwapNetwork
	total   *bandwidth.Limiter
	perPeer *bandwidth.PerKey[peer.ID]

	mu   sync.Mutex
	held map[peer.ID]func()
}

func (n *pacedNetwork) SendMessage(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) error {
	mine, done := n.perPeer.Acquire(p)
	defer done()
	if err := bandwidth.Wait(ctx, int64(m.Size()), n.total, mine); err != nil {
		return err
	}
	return n.BitSwapNetwork.SendMessage(ctx, p, m)
}

func (n *pacedNetwork) Start(rs ...bsnetwork.Receiver) {
	wrapped := make([]bsnetwork.Receiver, len(rs))
	for i, r := range rs {
		wrapped[i] = &pacedReceiver{Receiver: r, n: n}
	}
	n.BitSwapNetwork.Start(wrapped...)
}

type pacedReceiver struct {
	bsnetwork.Receiver
	n *pacedNetwork
}

func (r *pacedReceiver) PeerConnected(p peer.ID) {
	r.n.mu.Lock()
	if _, ok := r.n.held[p]; !ok {
		_, done := r.n.perPeer.Acquire(p)
		r.n.held[p] = done
	}
	r.n.mu.Unlock()
	r.Receiver.PeerConnected(p)
}

func (r *pacedReceiver) PeerDisconnected(p peer.ID) {
	r.n.mu.Lock()
	if done, ok := r.n.held[p]; ok {
		delete(r.n.held, p)
		done()
	}
	r.n.mu.Unlock()
	r.Receiver.PeerDisconnected(p)
}

// cappedBlockstore hides blocks larger than MaxBitswapBlock, so the server
// neither reads nor offers them.
type cappedBlockstore struct{ blockstore.Blockstore }

func (b cappedBlockstore) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	n, err := b.Blockstore.GetSize(ctx, c)
	if err == nil && n > MaxBitswapBlock {
		return 0, ipld.ErrNotFound{Cid: c}
	}
	return n, err
}

func (b cappedBlockstore) Has(ctx context.Context, c cid.Cid) (bool, error) {
	_, err := b.GetSize(ctx, c)
	if ipld.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (b cappedBlockstore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if _, err := b.GetSize(ctx, c); err != nil {
		return nil, err
	}
	return b.Blockstore.Get(ctx, c)
}
