package papi

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
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
// upgrades relayed connections to direct ones where it can. A relay that
// goes away is asked again every few seconds, so a relay that comes back
// is used again.
func Relays(addrs ...string) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		infos, err := addrInfos(addrs)
		if err != nil {
			return err
		}
		c.transport.Libp2pOptions = append(c.transport.Libp2pOptions,
			libp2p.EnableRelay(),
			// Asking a fixed list costs nothing, and a relay that restarts
			// should be used again in seconds, not after autorelay's
			// defaults (30 seconds between asks, an hour's backoff after a
			// refused reservation) meant for relays found on the network.
			libp2p.EnableAutoRelayWithStaticRelays(infos, autorelay.WithMinInterval(5*time.Second), autorelay.WithBackoff(30*time.Second)),
			libp2p.EnableHolePunching(),
		)
		return nil
	})
}

// RelayService makes the peer a relay for others that are not publicly
// reachable, within libp2p's default limits on relayed traffic (each
// relayed connection carries 128 KiB each way for 2 minutes at most;
// RelayLimit changes that). libp2p starts the service only once the peer
// knows it is publicly reachable, from AutoNAT (NATTraversal) or
// ForceReachability.
func RelayService() PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		c.relayService = true
		return nil
	})
}

// RelayLimit sets what the peer, as a relay (RelayService), lets each
// relayed connection carry: data bytes each way, for d at most. A zero
// argument keeps libp2p's default for it (128 KiB, 2 minutes). A relay
// caps connections so that relaying stays cheap for whoever runs it; a
// relay of an application's own can let calls and clones run over it
// until hole punching finds a direct way, or where it never does.
func RelayLimit(d time.Duration, data int64) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		if d < 0 || data < 0 {
			return fmt.Errorf("relay limit %v, %d bytes: negative", d, data)
		}
		c.relayLimit = relayv2.DefaultLimit()
		if d > 0 {
			c.relayLimit.Duration = d
		}
		if data > 0 {
			c.relayLimit.Data = data
		}
		return nil
	})
}

// relayServiceOption is libp2p's option for the relay service configured.
func (c *peerConfig) relayServiceOption() libp2p.Option {
	res := relayv2.DefaultResources()
	if c.relayLimit != nil {
		res.Limit = c.relayLimit
	}
	return libp2p.EnableRelayService(relayv2.WithResources(res))
}

// ForceReachability makes the peer take its reachability as known instead
// of asking other peers (AutoNAT): ReachabilityPrivate for a peer known to
// be behind a NAT, which then reserves slots on its relays (Relays) at once
// rather than after AutoNAT's first probe (some 15 seconds after start),
// or ReachabilityPublic for a peer with a public address, which can then
// be a relay (RelayService) from the start. Peer.Reachability reports it.
func ForceReachability(r Reachability) PeerOption {
	return peerOptionFunc(func(c *peerConfig) error {
		switch r {
		case ReachabilityPrivate:
			c.transport.Libp2pOptions = append(c.transport.Libp2pOptions, libp2p.ForceReachabilityPrivate())
		case ReachabilityPublic:
			c.transport.Libp2pOptions = append(c.transport.Libp2pOptions, libp2p.ForceReachabilityPublic())
		default:
			return fmt.Errorf("force reachability %s: want public or private", r)
		}
		c.forcedReachability = r
		return nil
	})
}

// Reachability is whether other peers can dial this one directly.
type Reachability = network.Reachability

// The values of Reachability.
const (
	ReachabilityUnknown = network.ReachabilityUnknown
	ReachabilityPublic  = network.ReachabilityPublic
	ReachabilityPrivate = network.ReachabilityPrivate
)

// Reachability returns what the peer has learnt of its reachability: unknown
// until AutoNAT (NATTraversal) has asked other peers, then public or
// private; or what ForceReachability said.
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
