package transport

import (
	"context"
	"encoding/binary"
	"testing"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	bsnetwork "github.com/ipfs/boxo/bitswap/network"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// bitswapProbe is a peer that speaks bitswap by hand: it sends what it
// likes and collects what the server answers.
type bitswapProbe struct {
	host     *Host
	blocks   chan blocks.Block
	dontHave chan cid.Cid
}

func (p *bitswapProbe) ReceiveMessage(_ context.Context, _ peer.ID, m bsmsg.BitSwapMessage) {
	for _, b := range m.Blocks() {
		p.blocks <- b
	}
	for _, c := range m.DontHaves() {
		p.dontHave <- c
	}
}
func (p *bitswapProbe) ReceiveError(error)       {}
func (p *bitswapProbe) PeerConnected(peer.ID)    {}
func (p *bitswapProbe) PeerDisconnected(peer.ID) {}

func newBitswapPair(t *testing.T, bs blockstore.Blockstore) (*Host, *Bitswap, *bitswapProbe, func(m bsmsg.BitSwapMessage)) {
	t.Helper()
	server := newHost(t, Limits{})
	swap := ServeBitswap(server, bs, SeedLimits{})
	t.Cleanup(swap.Close)
	probe := &bitswapProbe{host: newHost(t, Limits{}), blocks: make(chan blocks.Block, 16), dontHave: make(chan cid.Cid, 16)}
	connect(t, probe.host, server)
	n := bsnet.NewFromIpfsHost(probe.host.Libp2p())
	n.Start(probe)
	t.Cleanup(n.Stop)
	// One stream, so the server reads the messages in order.
	sender, err := n.NewMessageSender(t.Context(), server.ID(), &bsnetwork.MessageSenderOpts{})
	if err != nil {
		t.Fatal(err)
	}
	send := func(m bsmsg.BitSwapMessage) {
		t.Helper()
		if err := sender.SendMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	return server, swap, probe, send
}

func memBlockstore(t *testing.T, bs ...blocks.Block) blockstore.Blockstore {
	t.Helper()
	store := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	if err := store.PutMany(t.Context(), bs); err != nil {
		t.Fatal(err)
	}
	return store
}

func rawBlock(t *testing.T, data []byte) blocks.Block {
	t.Helper()
	m, err := mh.Sum(data, mh.BLAKE3, 32)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blocks.NewBlockWithCid(data, cid.NewCidV1(cid.Raw, m))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A want list of 100,000 entries, in messages as large as a stream takes,
// leaves the server holding no more than MaxBitswapWants of them, and it
// still answers the want that comes after.
func TestBitswapWantlistIsBounded(t *testing.T) {
	have := rawBlock(t, []byte("a block the server has"))
	_, swap, probe, send := newBitswapPair(t, memBlockstore(t, have))
	const total, perMessage = 100_000, 20_000
	for sent := 0; sent < total; sent += perMessage {
		m := bsmsg.New(false)
		for i := sent; i < sent+perMessage; i++ {
			var seed [8]byte
			binary.BigEndian.PutUint64(seed[:], uint64(i))
			c := rawBlock(t, seed[:]).Cid() // blocks nobody has
			m.AddEntry(c, 1, pb.Message_Wantlist_Block, false)
		}
		send(m)
	}
	// The last want, of a block the server has, comes after every other on
	// the stream: once it is answered, all were read.
	m := bsmsg.New(false)
	m.AddEntry(have.Cid(), 1<<30, pb.Message_Wantlist_Block, false)
	send(m)
	select {
	case b := <-probe.blocks:
		if b.Cid() != have.Cid() {
			t.Fatalf("got block %s, want %s", b.Cid(), have.Cid())
		}
	case <-t.Context().Done():
		t.Fatal("the want after 100,000 was never answered")
	}
	switch n := swap.WantlistLen(probe.host.ID()); {
	case n > MaxBitswapWants:
		t.Errorf("server holds %d wants of one peer, limit %d", n, MaxBitswapWants)
	case n < MaxBitswapWants-1:
		t.Errorf("server holds %d wants: the flood did not reach the limit, so the test shows nothing", n)
	}
}

// A block over MaxBitswapBlock is never read or sent: asked for, it is
// one the server lacks, while one at the limit is sent.
func TestBitswapBlockSizeIsBounded(t *testing.T) {
	tests := []struct {
		name string
		size int
		sent bool
	}{
		{"at the limit", MaxBitswapBlock, true},
		{"a byte over", MaxBitswapBlock + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blk := rawBlock(t, make([]byte, tt.size))
			_, _, probe, send := newBitswapPair(t, memBlockstore(t, blk))
			m := bsmsg.New(false)
			m.AddEntry(blk.Cid(), 1, pb.Message_Wantlist_Block, true)
			send(m)
			select {
			case b := <-probe.blocks:
				if !tt.sent {
					t.Fatalf("server sent a block of %d bytes", len(b.RawData()))
				}
			case c := <-probe.dontHave:
				if tt.sent || c != blk.Cid() {
					t.Fatalf("server said it lacks %s", c)
				}
			case <-t.Context().Done():
				t.Fatal("no answer")
			}
		})
	}
}
