//go:build linux

package netlab_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/papi-dev/papi"
)

// A peer process is configured by peerSpec (in its environment) and then
// does what the test asks on its stdin, one request a line, answering each
// with one reply line. It uses papi's public API only, as an application
// would.

const specEnv = "PAPI_NETLAB_PEER"

type peerSpec struct {
	Listen       []string `json:"listen,omitempty"`
	Relays       []string `json:"relays,omitempty"`
	RelayService bool     `json:"relay_service,omitempty"`
	RelayLimit   int64    `json:"relay_limit,omitempty"` // bytes per relayed connection, for 10 minutes
	Reach        string   `json:"reach,omitempty"`       // "public" or "private": forced; "" asks AutoNAT
	NAT          bool     `json:"nat,omitempty"`         // NATTraversal
	DHT          bool     `json:"dht,omitempty"`         // PrivateDHT through Bootstrap
	Bootstrap    []string `json:"bootstrap,omitempty"`
	Identity     string   `json:"identity,omitempty"` // IdentityFile
}

type request struct {
	Op       string   `json:"op"`
	Size     int      `json:"size,omitempty"`     // serve: dataset bytes; call: payload bytes
	N        int      `json:"n,omitempty"`        // call: how many
	Hash     string   `json:"hash,omitempty"`     // dial, clone
	Provider []string `json:"provider,omitempty"` // dial, clone
	Millis   int      `json:"millis,omitempty"`   // hold: how long; dial, direct, reach: how long to wait
	Reach    string   `json:"reach,omitempty"`    // reach: what to wait for
}

type reply struct {
	Op      string   `json:"op"`
	Err     string   `json:"err,omitempty"`
	Code    string   `json:"code,omitempty"`
	ID      string   `json:"id,omitempty"`
	Addrs   []string `json:"addrs,omitempty"`
	Reach   string   `json:"reach,omitempty"`
	Hash    string   `json:"hash,omitempty"`
	API     string   `json:"api,omitempty"`
	Relayed bool     `json:"relayed,omitempty"`
	Seconds float64  `json:"seconds,omitempty"`
	Bytes   int64    `json:"bytes,omitempty"`
	Calls   int      `json:"calls,omitempty"`
}

// The API the peers serve and call.
type EchoReq struct {
	Data []byte `cbor:"data"`
}

type EchoResp struct {
	Data []byte `cbor:"data"`
}

type HoldReq struct {
	Millis int `cbor:"millis" papi:"minimum=0"`
}

type HoldResp struct {
	Held int `cbor:"held"`
}

func labAPI() *papi.API {
	api := papi.New("netlab", "1.0.0")
	papi.Handle(api, "Echo", func(_ context.Context, req EchoReq) (EchoResp, error) {
		return EchoResp(req), nil
	})
	// Hold answers after a while, for a call that is in flight when the
	// network changes under it.
	papi.Handle(api, "Hold", func(ctx context.Context, req HoldReq) (HoldResp, error) {
		select {
		case <-time.After(time.Duration(req.Millis) * time.Millisecond):
			return HoldResp{Held: req.Millis}, nil
		case <-ctx.Done():
			return HoldResp{}, ctx.Err()
		}
	})
	return api
}

func (s peerSpec) options() ([]papi.PeerOption, error) {
	opts := []papi.PeerOption{papi.Logger(stderrLogger())}
	if len(s.Listen) > 0 {
		opts = append(opts, papi.ListenAddrs(s.Listen...))
	}
	if s.NAT {
		opts = append(opts, papi.NATTraversal())
	}
	if len(s.Relays) > 0 {
		opts = append(opts, papi.Relays(s.Relays...))
	}
	if s.RelayService {
		opts = append(opts, papi.RelayService())
	}
	if s.RelayLimit > 0 {
		opts = append(opts, papi.RelayLimit(10*time.Minute, s.RelayLimit))
	}
	switch s.Reach {
	case "":
	case "public":
		opts = append(opts, papi.ForceReachability(papi.ReachabilityPublic))
	case "private":
		opts = append(opts, papi.ForceReachability(papi.ReachabilityPrivate))
	default:
		return nil, fmt.Errorf("reach %q", s.Reach)
	}
	if s.DHT {
		opts = append(opts, papi.PrivateDHT(s.Bootstrap...))
	}
	if s.Identity != "" {
		opts = append(opts, papi.IdentityFile(s.Identity))
	}
	return opts, nil
}

func runPeer() error {
	var spec peerSpec
	if err := json.Unmarshal([]byte(os.Getenv(specEnv)), &spec); err != nil {
		return fmt.Errorf("%s: %w", specEnv, err)
	}
	opts, err := spec.options()
	if err != nil {
		return err
	}
	ctx := context.Background()
	p, err := papi.NewPeer(ctx, opts...)
	if err != nil {
		return err
	}
	defer p.Close()
	out := json.NewEncoder(os.Stdout)
	out.Encode(reply{Op: "ready", ID: p.ID().String(), Addrs: p.Addrs()})
	r := &runner{p: p, store: os.Getenv("PAPI_NETLAB_STORE")}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			return fmt.Errorf("request %q: %w", in.Bytes(), err)
		}
		rep := r.do(ctx, req)
		rep.Op = req.Op
		if err := out.Encode(rep); err != nil {
			return err
		}
	}
	return in.Err()
}

type runner struct {
	p      *papi.Peer
	store  string
	client *papi.Client
}

func failed(err error) reply {
	return reply{Err: err.Error(), Code: papi.CodeOf(err).String()}
}

func (r *runner) do(ctx context.Context, req request) reply {
	wait := time.Duration(req.Millis) * time.Millisecond
	switch req.Op {
	case "status":
		return reply{ID: r.p.ID().String(), Addrs: r.p.Addrs(), Reach: r.p.Reachability().String()}

	case "reach":
		// Waits for AutoNAT's verdict and for a relayed address when the
		// peer is private: what a program behind a NAT can tell of itself.
		deadline := time.Now().Add(wait)
		start := time.Now()
		for {
			reach := r.p.Reachability().String()
			relayed := hasCircuit(r.p.Addrs())
			if reach == req.Reach && (req.Reach != "Private" || relayed) {
				return reply{Reach: reach, Addrs: r.p.Addrs(), Relayed: relayed, Seconds: time.Since(start).Seconds()}
			}
			if time.Now().After(deadline) {
				return reply{Err: fmt.Sprintf("reachability %s, addresses %v after %v", reach, r.p.Addrs(), wait), Reach: reach, Addrs: r.p.Addrs()}
			}
			time.Sleep(50 * time.Millisecond)
		}

	case "serve":
		data := make([]byte, req.Size)
		rng := rand.NewChaCha8([32]byte{21})
		rng.Read(data)
		b, err := labAPI().Bundle(papi.Data("blob", data))
		if err != nil {
			return failed(err)
		}
		srv, err := r.p.Serve(ctx, b)
		if err != nil {
			return failed(err)
		}
		return reply{Hash: srv.Hash().String(), API: b.APIHash().String(), Addrs: r.p.Addrs()}

	case "dial":
		h, err := papi.ParseHash(req.Hash)
		if err != nil {
			return failed(err)
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		var opts []papi.DialOption
		if len(req.Provider) > 0 {
			opts = append(opts, papi.Provider(req.Provider...))
		}
		for {
			// Each attempt is bounded, so that one stuck dial does not use
			// up the time; until the server's relay slot or provider record
			// exists, dials fail and are tried again.
			attempt, stop := context.WithTimeout(ctx, 10*time.Second)
			c, err := r.p.Dial(attempt, h, opts...)
			stop()
			if err == nil {
				r.client = c
				return reply{Relayed: c.Relayed(), Seconds: time.Since(start).Seconds()}
			}
			select {
			case <-ctx.Done():
				return failed(err)
			case <-time.After(200 * time.Millisecond):
			}
		}

	case "call":
		if r.client == nil {
			return reply{Err: "not dialed"}
		}
		payload := make([]byte, req.Size)
		start := time.Now()
		for i := range max(req.N, 1) {
			resp, err := papi.Call[EchoReq, EchoResp](ctx, r.client, "Echo", EchoReq{Data: payload})
			if err != nil {
				rep := failed(err)
				rep.Calls = i
				return rep
			}
			if len(resp.Data) != len(payload) {
				return reply{Err: fmt.Sprintf("echo of %d bytes came back with %d", len(payload), len(resp.Data)), Calls: i}
			}
		}
		return reply{Calls: max(req.N, 1), Seconds: time.Since(start).Seconds(), Relayed: r.client.Relayed()}

	case "hold":
		if r.client == nil {
			return reply{Err: "not dialed"}
		}
		start := time.Now()
		_, err := papi.Call[HoldReq, HoldResp](ctx, r.client, "Hold", HoldReq{Millis: req.Millis})
		rep := reply{Seconds: time.Since(start).Seconds(), Relayed: r.client.Relayed()}
		if err != nil {
			rep.Err, rep.Code = err.Error(), papi.CodeOf(err).String()
		}
		return rep

	case "direct":
		// Waits until hole punching has made a direct connection.
		if r.client == nil {
			return reply{Err: "not dialed"}
		}
		start := time.Now()
		for deadline := start.Add(wait); r.client.Relayed() || !r.connected(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				return reply{Err: fmt.Sprintf("no direct connection within %v", wait), Relayed: r.client.Relayed()}
			}
		}
		return reply{Seconds: time.Since(start).Seconds()}

	case "clone":
		h, err := papi.ParseHash(req.Hash)
		if err != nil {
			return failed(err)
		}
		dir, err := os.MkdirTemp(r.store, "clone")
		if err != nil {
			return failed(err)
		}
		defer os.RemoveAll(dir)
		start := time.Now()
		b, err := r.p.Clone(ctx, h, papi.Provider(req.Provider...), papi.StoreDir(dir))
		if err != nil {
			return failed(err)
		}
		var n int64
		for _, d := range b.Datasets() {
			n += d.Size()
		}
		rep := reply{Seconds: time.Since(start).Seconds(), Bytes: n}
		if r.client != nil {
			rep.Relayed = r.client.Relayed()
		}
		return rep

	case "punchready":
		// Waits until the peer speaks DCUtR: libp2p starts answering hole
		// punches only once a peer has told it its public address, polling
		// for that with a backoff of up to 5 seconds, and a punch asked of
		// a peer not answering yet fails for good.
		start := time.Now()
		for deadline := start.Add(wait); !slices.Contains(r.p.Host().Libp2p().Mux().Protocols(), "/libp2p/dcutr"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				return reply{Err: fmt.Sprintf("no hole punching service after %v", wait)}
			}
		}
		return reply{Seconds: time.Since(start).Seconds()}

	case "drop":
		// Closes every connection to the client's peer, as a network
		// change would; the next dial starts from the relay again.
		if r.client == nil {
			return reply{Err: "not dialed"}
		}
		if err := r.p.Host().Libp2p().Network().ClosePeer(r.client.RemotePeer()); err != nil {
			return failed(err)
		}
		return reply{}

	case "callwait":
		// Calls until a call is answered: how long it takes the client to
		// find a way to its peer again.
		if r.client == nil {
			return reply{Err: "not dialed"}
		}
		start := time.Now()
		var fails int
		for deadline := start.Add(wait); ; time.Sleep(200 * time.Millisecond) {
			attempt, stop := context.WithTimeout(ctx, 10*time.Second)
			_, err := papi.Call[EchoReq, EchoResp](attempt, r.client, "Echo", EchoReq{Data: []byte("again")})
			stop()
			if err == nil {
				return reply{Seconds: time.Since(start).Seconds(), Calls: fails, Relayed: r.client.Relayed()}
			}
			fails++
			if time.Now().After(deadline) {
				rep := failed(err)
				rep.Calls = fails
				return rep
			}
		}

	case "quit":
		r.p.Close()
		os.Exit(0)
	}
	return reply{Err: "unknown op " + req.Op}
}

// connected reports whether the client has any connection to its peer.
func (r *runner) connected() bool {
	return len(r.p.Host().Libp2p().Network().ConnsToPeer(r.client.RemotePeer())) > 0
}

func hasCircuit(addrs []string) bool {
	for _, a := range addrs {
		if strings.Contains(a, "/p2p-circuit") {
			return true
		}
	}
	return false
}
