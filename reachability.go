package papi

import (
	"context"
	"sync/atomic"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
)

// NATTraversal makes the peer reachable from behind a NAT where it can be:
// it asks the router for a port mapping (UPnP, NAT-PMP), learns from other
// peers whether it is reachable (AutoNAT, and answers their questions in
// turn), and punches holes through NATs with peers that reach it through a
// relay. The default peer has it; a peer made with NewPeer has it only when
// asked, so that a program on a LAN or in a test stays quiet.
func NATTraversal() PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		c.transport.Libp2pOptions = append(c.transport.Libp2pOptions,
			libp2p.NATPortMap(),
			libp2p.EnableNATService(),
			libp2p.EnableAutoNATv2(),
			libp2p.EnableHolePunching(),
		)
		return nil
	})
}

// Relays names relay peers (multiaddrs ending in /p2p/<id>) through which a
// peer that is not publicly reachable can still be reached: it reserves a
// slot on them and advertises the relayed addresses, and hole punching
// upgrades relayed connections to direct ones where it can.
func Relays(addrs ...string) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		infos, err := addrInfos(addrs)
		if err != nil {
			return err
		}
		c.transport.Libp2pOptions = append(c.transport.Libp2pOptions,
			libp2p.EnableRelay(),
			libp2p.EnableAutoRelayWithStaticRelays(infos),
			libp2p.EnableHolePunching(),
		)
		return nil
	})
}

// RelayService makes the peer a relay for others that are not publicly
// reachable, within libp2p's default limits on relayed traffic.
func RelayService() PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		c.transport.Libp2pOptions = append(c.transport.Libp2pOptions, libp2p.EnableRelayService())
		return nil
	})
}

// Reachability is whether other peers can dial this one directly.
type Reachability = network.Reachability

// Reachability returns what the peer has learnt of its reachability: unknown
// until AutoNAT (NATTraversal) has asked other peers, then public or private.
func (p *Peer) Reachability() Reachability {
	return Reachability(p.reachability.Load())
}

// watchReachability keeps p.reachability up to date from the host's events.
func (p *Peer) watchReachability(ctx context.Context) error {
	sub, err := p.host.Libp2p().EventBus().Subscribe(new(event.EvtLocalReachabilityChanged))
	if err != nil {
		return err
	}
	go func() {
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-sub.Out():
				if !ok {
					return
				}
				r := e.(event.EvtLocalReachabilityChanged).Reachability
				p.reachability.Store(int32(r))
				p.log.Info("papi: reachability changed", "reachability", r.String())
			}
		}
	}()
	return nil
}

// reachabilityState is stored as an int32 to be read without a lock.
type reachabilityState = atomic.Int32
