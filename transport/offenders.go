package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// offenders is the host's penalty box. A peer that breaks papi's protocols
// (a malformed or oversized message, a message trickled past
// MessageTimeout) has every connection closed and new ones refused for
// Limits.BanDuration: resetting the stream alone would let it open the next
// one and try again at once. Meeting a limit is no offence, since honest
// peers meet limits under load, and neither is vanishing mid-message.
//
// It is the libp2p connection gater, which refuses a barred peer right
// after the security handshake, before a muxer or any stream exists.
type offenders struct {
	ban time.Duration
	log *slog.Logger
	net func() network.Network // the host's, once it exists

	mu      sync.Mutex
	until   map[peer.ID]time.Time
	strikes map[peer.ID]strikes
}

// strikes counts a peer's stalls within one ban's time.
type strikes struct {
	n     int
	first time.Time
}

// stallsBarred is how many stalls within BanDuration make an offence: an
// honest peer on a bad link may stall once or twice, an attacker that
// stalls streams to hold the server's memory does it again at once.
const stallsBarred = 3

// sweepAbove is how many barred peers are kept before expired bans are
// swept out, so that an attacker minting identities cannot grow the map
// past what it can offend within one ban.
const sweepAbove = 1024

// punish bars p for the ban and closes its connections.
func (o *offenders) punish(p peer.ID, why error) {
	if o.ban <= 0 || p == "" {
		return
	}
	now := time.Now()
	o.mu.Lock()
	if len(o.until) >= sweepAbove {
		for id, t := range o.until {
			if now.After(t) {
				delete(o.until, id)
			}
		}
	}
	o.until[p] = now.Add(o.ban)
	o.mu.Unlock()
	o.log.Warn("papi: peer broke the protocol; disconnected and barred", "peer", p.String(), "for", o.ban, "err", why)
	if n := o.net(); n != nil {
		// Not inline: the offence is noticed on one of the peer's own
		// streams, whose handler ClosePeer would wait for.
		go n.ClosePeer(p)
	}
}

// stalled counts a stream of p's cut for moving bytes below MinRate, and
// punishes p for the stallsBarred-th within BanDuration.
func (o *offenders) stalled(p peer.ID, why error) {
	if o.ban <= 0 || p == "" {
		return
	}
	now := time.Now()
	o.mu.Lock()
	if o.strikes == nil {
		o.strikes = map[peer.ID]strikes{}
	}
	if len(o.strikes) >= sweepAbove {
		for id, s := range o.strikes {
			if now.Sub(s.first) > o.ban {
				delete(o.strikes, id)
			}
		}
	}
	s := o.strikes[p]
	if now.Sub(s.first) > o.ban {
		s = strikes{first: now}
	}
	s.n++
	o.strikes[p] = s
	if s.n >= stallsBarred {
		delete(o.strikes, p)
	}
	o.mu.Unlock()
	if s.n >= stallsBarred {
		o.punish(p, fmt.Errorf("stalled %d streams within %v, the last: %w", s.n, o.ban, why))
		return
	}
	o.log.Info("papi: stream cut for stalling", "peer", p.String(), "err", why)
}

// barred reports whether p is serving a ban.
func (o *offenders) barred(p peer.ID) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.until[p]
	if ok && time.Now().After(t) {
		delete(o.until, p)
		return false
	}
	return ok
}

func (o *offenders) InterceptPeerDial(p peer.ID) bool { return !o.barred(p) }

func (o *offenders) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

func (o *offenders) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (o *offenders) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !o.barred(p)
}

func (o *offenders) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// protocolError marks bytes that break a protocol, as opposed to a stream
// that ended or a deadline that passed: the offences worth a ban.
type protocolError struct{ err error }

func (e *protocolError) Error() string { return e.err.Error() }
func (e *protocolError) Unwrap() error { return e.err }

func isOffence(err error) bool {
	var pe *protocolError
	return errors.As(err, &pe)
}
