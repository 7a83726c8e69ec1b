// Package transport is papi's network layer: an embedded libp2p host, the
// RPC session protocol (papi's own frames, and the older one on
// go-libp2p-gorpc with the limits gorpc lacks), raw
// streams for large bodies and dataset bytes, and peer discovery.
//
// Package papi is what applications use. transport is the one other package
// they may import, on purpose and for three things only: Limits, to tune
// what remote peers may make a peer do (papi.ResourceLimits); Discovery, to
// plug in a source of providers of their own (papi.Discover); and Host, to
// reach the libp2p host underneath (papi.Peer.Host). Its other names serve
// papi itself and may change between minor versions.
package transport

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	rpc "github.com/libp2p/go-libp2p-gorpc"
)

// The protocols papi speaks, versioned so that a later papi can speak both.
const (
	ProtocolRPC  protocol.ID = "/papi/rpc/2.0.0"  // sessions of wire's frames on a raw stream
	ProtocolRPC1 protocol.ID = "/papi/rpc/1.0.0"  // gorpc streaming sessions, for peers that speak no other
	ProtocolBody protocol.ID = "/papi/body/1.0.0" // large requests and responses, raw
)

// Options configure a Host. The zero value is a host with a fresh identity
// listening on every interface.
type Options struct {
	// ListenAddrs are multiaddrs to listen on. The default,
	// DefaultListenAddrs, is TCP, QUIC, WebTransport and WebRTC-direct on
	// every IPv4 and IPv6 interface, on ports the system picks.
	ListenAddrs []string
	// PrivateKey is the host's identity; nil means a fresh Ed25519 key.
	PrivateKey crypto.PrivKey
	// Logger receives the host's logs; nil discards them.
	Logger *slog.Logger
	// Limits bound what remote peers may make the host do.
	Limits Limits
	// Libp2pOptions are passed to libp2p.New after papi's own, for what
	// papi does not configure.
	Libp2pOptions []libp2p.Option
	// Libp2pHost, if set, is the libp2p host to run on instead of one that
	// New starts: ListenAddrs, PrivateKey and Libp2pOptions are then unused,
	// and the resource manager and connection gater that enforce Limits are
	// the host's own. It is for tests that put many peers on libp2p's
	// mocknet, where no socket is the point.
	Libp2pHost host.Host
}

// Limits bound what a remote peer may make a host do. Zero fields take the
// defaults documented on each.
type Limits struct {
	// MaxInlineMessage is the largest payload that travels inside an RPC
	// message; larger ones go over ProtocolBody. Default 1 MiB - 4 KiB.
	MaxInlineMessage int
	// MaxRequestBytes is the largest request payload accepted. Default 64 MiB.
	MaxRequestBytes int64
	// MaxResponseBytes is the largest response payload a client accepts. Default 256 MiB.
	MaxResponseBytes int64
	// MaxCallsPerPeer bounds one remote peer's calls in flight; past it a
	// call fails with ResourceExhausted. Default 128.
	MaxCallsPerPeer int
	// MaxCalls bounds the calls in flight from all peers together, so that
	// many peers at once cannot exhaust the host either. Default 4096.
	MaxCalls int
	// MaxRequestMemoryPerPeer bounds the request payloads one peer's calls
	// in flight hold in memory; past it a call fails with
	// ResourceExhausted before its payload is read. Default 128 MiB, and
	// never less than MaxRequestBytes.
	MaxRequestMemoryPerPeer int64
	// MaxRequestMemory bounds the request payloads all calls in flight hold
	// together. Default 1 GiB, and never less than MaxRequestMemoryPerPeer.
	// A request body is charged for the bytes received so far, not for the
	// size it announces, so a peer that announces much and sends little
	// holds little.
	MaxRequestMemory int64
	// SmallRequestMemory is the part of MaxRequestMemory that only requests
	// small enough to travel inline may use: large uploads, however many,
	// cannot starve small calls. Default an eighth of MaxRequestMemory, and
	// never less than 4 times MaxInlineMessage nor more than half.
	SmallRequestMemory int64
	// MaxQueuedReplies bounds what one session may have outstanding: calls
	// read and not yet answered, and answers not yet sent. Past it the
	// session reads no more calls until its replies go out; a reply the
	// peer does not take within MessageTimeout cuts the session. Default
	// twice MaxCallsPerPeer.
	MaxQueuedReplies int
	// MinRate is the slowest, in bytes per second, that a stream may send a
	// body or take an answer once StallGrace has passed, on every protocol;
	// a slower stream is cut, and a peer cut three times within BanDuration
	// is barred. Default 32 KiB/s.
	MinRate int64
	// StallGrace is how long a body or an answer may take before MinRate
	// applies. Default 10 s.
	StallGrace time.Duration
	// DataStreamsPerPeer bounds the ProtocolData streams one remote peer may
	// hold open. Default 16.
	DataStreamsPerPeer int
	// MaxDataStreams bounds the ProtocolData streams of all peers together.
	// Default 256; it is held below a quarter of the host's inbound stream
	// limit, so that peers cloning leave room for calls.
	MaxDataStreams int
	// ConnsPerPeer bounds the connections one remote peer may hold
	// (libp2p resource manager). Default 8.
	ConnsPerPeer int
	// ConnsPerIP bounds the connections from one IP address (an IPv6 /56),
	// whatever identities they present: identities cost nothing to make, so
	// per-peer budgets alone would let one machine take them many times
	// over. Default 8. Loopback addresses are not limited.
	ConnsPerIP int
	// ConnsPerSubnet bounds the connections from one IPv4 /24 or IPv6 /48.
	// Default 64.
	ConnsPerSubnet int
	// limitLoopback applies ConnsPerIP and ConnsPerSubnet to loopback
	// addresses too, for tests that play hosts on many addresses.
	limitLoopback bool
	// MaxConns bounds the connections of all peers together; the DHT and
	// relays use connections too. Default 1024.
	MaxConns int
	// MessageTimeout bounds how long one message may take to arrive once it
	// has begun, against peers that trickle bytes. Default 30 s.
	MessageTimeout time.Duration
	// StreamsPerPeer bounds the streams one remote peer may hold open on each
	// of papi's protocols (libp2p resource manager); all peers together may
	// hold 16 times as many. Default 256.
	StreamsPerPeer int
	// MemoryPerPeer bounds the stream buffers the resource manager grants
	// one peer on each of papi's protocols; all peers together get 8 times
	// as much. Default 128 MiB.
	MemoryPerPeer int64
	// BanDuration is how long a peer that broke papi's protocols (a
	// malformed or oversized message, or one trickled past MessageTimeout)
	// is disconnected and refused. Default 1 minute; negative: its stream
	// is reset but the peer is not barred.
	BanDuration time.Duration
}

// messageOverhead is what an RPC message adds to its payload, generously.
const messageOverhead = 4096

func (l Limits) withDefaults() Limits {
	if l.MaxInlineMessage <= 0 {
		l.MaxInlineMessage = 1<<20 - messageOverhead
	}
	if l.MaxRequestBytes <= 0 {
		l.MaxRequestBytes = 64 << 20
	}
	if l.MaxResponseBytes <= 0 {
		l.MaxResponseBytes = 256 << 20
	}
	if l.MaxCallsPerPeer <= 0 {
		l.MaxCallsPerPeer = 128
	}
	if l.MaxCalls <= 0 {
		l.MaxCalls = 4096
	}
	if l.MaxRequestMemoryPerPeer <= 0 {
		l.MaxRequestMemoryPerPeer = 128 << 20
	}
	l.MaxRequestMemoryPerPeer = max(l.MaxRequestMemoryPerPeer, l.MaxRequestBytes)
	if l.MaxRequestMemory <= 0 {
		l.MaxRequestMemory = 1 << 30
	}
	l.MaxRequestMemory = max(l.MaxRequestMemory, l.MaxRequestMemoryPerPeer)
	if l.SmallRequestMemory <= 0 {
		l.SmallRequestMemory = l.MaxRequestMemory / 8
	}
	l.SmallRequestMemory = min(max(l.SmallRequestMemory, 4*int64(l.MaxInlineMessage)), l.MaxRequestMemory/2)
	if l.MaxQueuedReplies <= 0 {
		l.MaxQueuedReplies = 2 * l.MaxCallsPerPeer
	}
	if l.MinRate <= 0 {
		l.MinRate = 32 << 10
	}
	if l.StallGrace <= 0 {
		l.StallGrace = 10 * time.Second
	}
	if l.DataStreamsPerPeer <= 0 {
		l.DataStreamsPerPeer = 16
	}
	if l.MaxDataStreams <= 0 {
		l.MaxDataStreams = 256
	}
	if l.ConnsPerIP <= 0 {
		l.ConnsPerIP = 8
	}
	if l.ConnsPerSubnet <= 0 {
		l.ConnsPerSubnet = 64
	}
	if l.ConnsPerPeer <= 0 {
		l.ConnsPerPeer = 8
	}
	if l.MaxConns <= 0 {
		l.MaxConns = 1024
	}
	if l.MessageTimeout <= 0 {
		l.MessageTimeout = 30 * time.Second
	}
	if l.StreamsPerPeer <= 0 {
		l.StreamsPerPeer = 256
	}
	if l.MemoryPerPeer <= 0 {
		l.MemoryPerPeer = 128 << 20
	}
	if l.BanDuration == 0 {
		l.BanDuration = time.Minute
	}
	return l
}

// stallDeadline is when a body or answer of which done bytes have moved
// since start must have moved more: StallGrace, then MinRate.
func (l Limits) stallDeadline(start time.Time, done int64) time.Time {
	return start.Add(l.StallGrace + time.Duration(float64(done)/float64(l.MinRate)*float64(time.Second)))
}

// ErrUnavailable reports that a peer could not be reached, or that the
// stream to it died before an answer came.
var ErrUnavailable = errors.New("peer unavailable")

// ErrClosed reports use of a closed host.
var ErrClosed = errors.New("host closed")

// Host is a libp2p host with papi's protocols on it.
type Host struct {
	h      host.Host
	log    *slog.Logger
	limits Limits

	ctx    context.Context // ends when the host closes
	cancel context.CancelFunc

	rpcServer *rpc.Server
	rpcClient *rpc.Client
	server    *server
	clients   clients
	bodies    *bodyStore
	offenders *offenders

	closeOnce sync.Once
}

// DefaultListenAddrs are where a host listens unless told otherwise. The
// WebTransport and WebRTC-direct addresses are what a web page can dial: a
// browser opens no raw TCP or QUIC connection, and these two let it check
// the host's self-signed certificate against the certhash in the address,
// with no certificate authority and no domain name. They are on by default
// so that a page reaches any papi peer without its author knowing in
// advance; the cost is two more UDP sockets and two certificates made at
// start. They are go-libp2p's own defaults too.
var DefaultListenAddrs = []string{
	"/ip4/0.0.0.0/tcp/0",
	"/ip4/0.0.0.0/udp/0/quic-v1",
	"/ip4/0.0.0.0/udp/0/quic-v1/webtransport",
	"/ip4/0.0.0.0/udp/0/webrtc-direct",
	"/ip6/::/tcp/0",
	"/ip6/::/udp/0/quic-v1",
	"/ip6/::/udp/0/quic-v1/webtransport",
	"/ip6/::/udp/0/webrtc-direct",
}

// New starts a host: TCP, QUIC, WebTransport and WebRTC-direct, Noise and
// TLS, and libp2p's resource manager with limits for papi's protocols.
func New(ctx context.Context, o Options) (*Host, error) {
	limits := o.Limits.withDefaults()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Libp2pHost != nil {
		return onLibp2p(ctx, o.Libp2pHost, limits, log, &offenders{ban: limits.BanDuration, log: log, until: map[peer.ID]time.Time{}, net: o.Libp2pHost.Network})
	}
	key := o.PrivateKey
	if key == nil {
		var err error
		if key, _, err = crypto.GenerateEd25519Key(rand.Reader); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
	}
	addrs := o.ListenAddrs
	if len(addrs) == 0 {
		addrs = DefaultListenAddrs
	}
	rm, err := resourceManager(limits)
	if err != nil {
		return nil, err
	}
	var hostNet atomic.Pointer[network.Network]
	off := &offenders{ban: limits.BanDuration, log: log, until: map[peer.ID]time.Time{}, net: func() network.Network {
		if n := hostNet.Load(); n != nil {
			return *n
		}
		return nil
	}}
	opts := append([]libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(addrs...),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionGater(off),
		libp2p.UserAgent("papi"),
	}, o.Libp2pOptions...)
	lh, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	n := lh.Network()
	hostNet.Store(&n)
	return onLibp2p(ctx, lh, limits, log, off)
}

// onLibp2p puts papi's protocols on lh.
func onLibp2p(ctx context.Context, lh host.Host, limits Limits, log *slog.Logger, off *offenders) (*Host, error) {
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &Host{h: lh, log: log, limits: limits, ctx: hctx, cancel: cancel, bodies: newBodyStore(), offenders: off}
	limited := &limitedHost{Host: lh, proto: ProtocolRPC1, limits: limits, offenders: off}
	h.server = newServer(h)
	h.rpcServer = rpc.NewServer(limited, ProtocolRPC1, rpc.WithStreamBufferSize(0))
	if err := h.rpcServer.RegisterName(rpcServiceName, &rpcService{s: h.server}); err != nil {
		lh.Close()
		cancel()
		return nil, fmt.Errorf("register rpc service: %w", err)
	}
	h.rpcClient = rpc.NewClient(limited, ProtocolRPC1)
	h.clients.sessions = map[peer.ID]*session{}
	lh.SetStreamHandler(ProtocolRPC, h.server.serveSession)
	lh.SetStreamHandler(ProtocolBody, h.server.serveBody)
	return h, nil
}

// resourceManager bounds papi's protocols per peer and in all. The totals
// are held below the host's inbound stream limit, data streams to a quarter
// of it and bodies to another, so that peers cloning or uploading cannot
// take the streams that calls need.
func resourceManager(l Limits) (network.ResourceManager, error) {
	base := rcmgr.DefaultLimits.AutoScale()
	inbound := base.ToPartialLimitConfig().System.StreamsInbound
	capped := func(n int) rcmgr.LimitVal {
		if inbound > 0 {
			n = min(n, int(inbound))
		}
		return rcmgr.LimitVal(max(n, 1))
	}
	perPeer := rcmgr.ResourceLimits{
		Streams:        rcmgr.LimitVal(l.StreamsPerPeer),
		StreamsInbound: rcmgr.LimitVal(l.StreamsPerPeer),
		Memory:         rcmgr.LimitVal64(l.MemoryPerPeer),
	}
	all := rcmgr.ResourceLimits{
		Streams:        rcmgr.LimitVal(16 * l.StreamsPerPeer),
		StreamsInbound: capped(16 * l.StreamsPerPeer),
		Memory:         rcmgr.LimitVal64(8 * l.MemoryPerPeer),
	}
	quarter := func(n int) rcmgr.LimitVal {
		if inbound > 0 {
			n = min(n, int(inbound)/4)
		}
		return rcmgr.LimitVal(max(n, 1))
	}
	bodyAll := all
	bodyAll.StreamsInbound = quarter(16 * l.StreamsPerPeer)
	dataPeer := perPeer
	dataPeer.Streams = rcmgr.LimitVal(max(l.StreamsPerPeer, l.DataStreamsPerPeer))
	dataPeer.StreamsInbound = rcmgr.LimitVal(l.DataStreamsPerPeer)
	dataAll := all
	dataAll.StreamsInbound = quarter(l.MaxDataStreams)
	cfg := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns:         rcmgr.LimitVal(l.MaxConns),
			ConnsInbound:  rcmgr.LimitVal(l.MaxConns),
			ConnsOutbound: rcmgr.LimitVal(l.MaxConns),
		},
		PeerDefault: rcmgr.ResourceLimits{
			Conns:         rcmgr.LimitVal(l.ConnsPerPeer),
			ConnsInbound:  rcmgr.LimitVal(l.ConnsPerPeer),
			ConnsOutbound: rcmgr.LimitVal(l.ConnsPerPeer),
		},
		ProtocolPeer: map[protocol.ID]rcmgr.ResourceLimits{ProtocolRPC: perPeer, ProtocolRPC1: perPeer, ProtocolBody: perPeer, ProtocolData: dataPeer},
		Protocol:     map[protocol.ID]rcmgr.ResourceLimits{ProtocolRPC: all, ProtocolRPC1: all, ProtocolBody: bodyAll, ProtocolData: dataAll},
	}
	limits := cfg.Build(base)
	opts := []rcmgr.Option{rcmgr.WithLimitPerSubnet(
		[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: l.ConnsPerIP}, {PrefixLength: 24, ConnCount: l.ConnsPerSubnet}},
		[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: l.ConnsPerIP}, {PrefixLength: 48, ConnCount: l.ConnsPerSubnet}},
	)}
	if l.limitLoopback {
		opts = append(opts, rcmgr.WithNetworkPrefixLimit([]rcmgr.NetworkPrefixLimit{}, []rcmgr.NetworkPrefixLimit{}))
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits), opts...)
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return rm, nil
}

// ID returns the host's peer ID.
func (h *Host) ID() peer.ID { return h.h.ID() }

// Addrs returns the host's listen addresses, each ending in /p2p/<id>.
func (h *Host) Addrs() []ma.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.h.ID(), Addrs: h.h.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// Libp2p returns the libp2p host underneath.
func (h *Host) Libp2p() host.Host { return h.h }

// Limits returns the limits in force, defaults filled in.
func (h *Host) Limits() Limits { return h.limits }

// Connect connects to a peer at the addresses given.
func (h *Host) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if err := h.h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, dialFailure{err})
	}
	return nil
}

// dialFailure words libp2p's dial error on one line, address by address:
// its own message repeats the peer and spreads over lines.
type dialFailure struct{ err error }

func (d dialFailure) Unwrap() error { return d.err }

func (d dialFailure) Error() string {
	var de *swarm.DialError
	if !errors.As(d.err, &de) || len(de.DialErrors) == 0 {
		return d.err.Error()
	}
	parts := make([]string, 0, len(de.DialErrors)+1)
	for _, te := range de.DialErrors {
		parts = append(parts, fmt.Sprintf("%s: %v", te.Address, te.Cause))
	}
	if de.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d more addresses failed", de.Skipped))
	}
	return strings.Join(parts, "; ")
}

// Close stops the host. Calls in flight, both ways, end with ErrUnavailable.
func (h *Host) Close() error {
	var err error
	h.closeOnce.Do(func() {
		h.cancel()
		h.clients.closeAll()
		err = h.h.Close()
	})
	return err
}
