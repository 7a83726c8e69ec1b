package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/ugorji/go/codec"

	"github.com/papi-dev/papi/internal/codes"
	"github.com/papi-dev/papi/internal/wire"
)

// held reports the request memory and calls in flight the server accounts
// to p.
func (s *server) held(p peer.ID) (bytes int64, calls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytesPerPeer[p], s.perPeer[p]
}

// heldTotal reports the request memory the server accounts in all.
func (s *server) heldTotal() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytesTotal
}

// TestUnreadRepliesAreBounded: one peer sends 200 calls of 900 KiB on a
// session and never reads a reply. The server stops reading the session
// once MaxQueuedReplies calls and replies are outstanding, never holds more
// request memory than the peer's budget, cuts the session once a reply
// waits past MessageTimeout, and gives every byte and place back; an honest
// caller is served throughout.
func TestUnreadRepliesAreBounded(t *testing.T) {
	for _, proto := range []string{"framed", "gorpc"} {
		t.Run(proto, func(t *testing.T) { unreadRepliesAreBounded(t, proto == "framed") })
	}
}

func unreadRepliesAreBounded(t *testing.T, framed bool) {
	const kib = 1 << 10
	limits := Limits{
		MaxRequestBytes:         4 << 20,
		MaxRequestMemoryPerPeer: 4 << 20,
		MaxQueuedReplies:        8,
		MessageTimeout:          time.Second,
	}
	server, client := pair(t, limits, echo)
	attacker := newHost(t, limits)
	connect(t, attacker, server)
	var s io.Writer
	if framed {
		s = framedSession(t, attacker, server)
	} else {
		s = rawSession(t, attacker, server)
	}

	var msg bytes.Buffer
	enc := codec.NewEncoder(&msg, &codec.MsgpackHandle{})
	payload := make([]byte, 900*kib)
	sent := make(chan int, 1)
	go func() {
		n := 0
		for ; n < 200; n++ {
			msg.Reset()
			c := &wire.Call{ID: uint64(n + 1), Target: "t", Method: "echo", Payload: payload}
			if framed {
				msg.Write(callFrame(c))
			} else {
				enc.Encode(c)
			}
			if _, err := s.Write(msg.Bytes()); err != nil {
				break
			}
		}
		sent <- n
	}()

	var peak int64
	var served int
	var n int
	for done := false; !done; {
		select {
		case n = <-sent:
			done = true
		default:
		}
		b, _ := server.server.held(attacker.ID())
		peak = max(peak, b)
		if out, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("honest")); err != nil || string(out) != "honest" {
			t.Fatalf("honest call during the attack: %q, %v", out, err)
		}
		served++
	}
	t.Logf("attacker sent %d of 200 calls before its session was cut; peak request memory held %d bytes; %d honest calls served", n, peak, served)
	if n == 200 {
		t.Fatal("the server read all 200 calls of a peer that reads no reply")
	}
	if peak > limits.MaxRequestMemoryPerPeer {
		t.Errorf("held %d bytes for the peer, budget %d", peak, limits.MaxRequestMemoryPerPeer)
	}
	waitFor(t, 10*time.Second, "the cut session's memory and places given back", func() bool {
		b, c := server.server.held(attacker.ID())
		return b == 0 && c == 0
	})
}

// writeBodyHeader starts a ProtocolBody call announcing size bytes.
func writeBodyHeader(t *testing.T, s network.Stream, size int64) {
	t.Helper()
	w := bufio.NewWriter(s)
	if err := writeFrame(w, wire.BodyHeader{Target: "t", Method: "len", Size: size}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestStalledUploadsDoNotLockOut: four identities open four body streams
// each, announce requests of 64 MiB and send nothing more. What they hold
// is what they sent (a chunk each, not 1 GiB), so honest calls small and
// large are served at once; the streams are cut after StallGrace, the
// memory comes back, and a peer that stalls three times is barred.
func TestStalledUploadsDoNotLockOut(t *testing.T) {
	limits := Limits{StallGrace: time.Second}
	server, client := pair(t, limits, echo)
	var stalled []network.Stream
	var attackers []*Host
	for range 4 {
		a := newHost(t, Limits{})
		connect(t, a, server)
		attackers = append(attackers, a)
		for range 4 {
			s := newStream(t, a, server, ProtocolBody)
			writeBodyHeader(t, s, 64<<20)
			stalled = append(stalled, s)
		}
	}
	waitFor(t, 5*time.Second, "every stalled upload admitted", func() bool {
		for _, a := range attackers {
			if b, _ := server.server.held(a.ID()); b == 0 {
				return false
			}
		}
		return true
	})
	if got, most := server.server.heldTotal(), int64(len(stalled))*bodyChunk; got > most {
		t.Errorf("stalled uploads hold %d bytes, want at most %d (what they could have sent)", got, most)
	}
	if out, err := client.Call(t.Context(), server.ID(), "t", "len", make([]byte, 20)); err != nil || string(out) != "20" {
		t.Fatalf("a 20-byte call during the stall: %q, %v", out, err)
	}
	big := make([]byte, 8<<20)
	if out, err := client.Call(t.Context(), server.ID(), "t", "len", big); err != nil || string(out) != strconv.Itoa(len(big)) {
		t.Fatalf("an 8 MiB call during the stall: %q, %v", out, err)
	}
	for _, s := range stalled {
		if _, err := s.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("stalled upload not cut within StallGrace: %v", err)
		}
	}
	waitFor(t, 5*time.Second, "stalled uploads' memory given back", func() bool { return server.server.heldTotal() == 0 })
	for _, a := range attackers {
		waitFor(t, 5*time.Second, "a peer that stalled four times barred", func() bool { return server.offenders.barred(a.ID()) })
	}
}

// TestSmallCallsHaveALane: large requests held in flight take all the
// request memory they may; a large one more is refused, and a small call
// still fits in the SmallRequestMemory kept for it.
func TestSmallCallsHaveALane(t *testing.T) {
	const mib = 1 << 20
	limits := Limits{MaxRequestBytes: 4 * mib, MaxRequestMemoryPerPeer: 4 * mib, MaxRequestMemory: 16 * mib}
	release := make(chan struct{})
	holding := make(chan struct{}, 8)
	server := newHost(t, limits)
	server.SetHandler(func(ctx context.Context, req *Request) *Response {
		if req.Method == "hold" {
			holding <- struct{}{}
			<-release
		}
		return echo(ctx, req)
	})
	lane := server.Limits().SmallRequestMemory
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(func() { close(release) })
	large := (16*mib - lane) / (4 * mib)
	for range large {
		c := newHost(t, limits)
		connect(t, c, server)
		wg.Go(func() { c.Call(context.Background(), server.ID(), "t", "hold", make([]byte, 4*mib)) })
		<-holding
	}
	other := newHost(t, limits)
	connect(t, other, server)
	_, err := other.Call(t.Context(), server.ID(), "t", "len", make([]byte, 4*mib))
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != codes.ResourceExhausted || !strings.Contains(re.Message, "large requests") {
		t.Fatalf("a large request past what large ones may hold: %v, want ResourceExhausted", err)
	}
	small := make([]byte, server.Limits().MaxInlineMessage)
	if out, err := other.Call(t.Context(), server.ID(), "t", "len", small); err != nil || string(out) != strconv.Itoa(len(small)) {
		t.Fatalf("a small call beside %d held large ones: %q, %v", large, out, err)
	}
}

// dataStreams reports the inbound ProtocolData streams the server's
// resource manager counts, for all peers.
func dataStreams(h *Host) int {
	n := 0
	h.Libp2p().Network().ResourceManager().ViewProtocol(ProtocolData, func(s network.ProtocolScope) error {
		n = s.Stat().NumStreamsInbound
		return nil
	})
	return n
}

// TestStalledDataReadersAreCut: eight identities open twenty data streams
// each, ask for 16 MiB on every one and never read. Each is held to
// DataStreamsPerPeer streams; honest calls and an honest reader are served
// meanwhile; the stalled answers are cut after StallGrace, every stream is
// given back, and the stallers are barred.
func TestStalledDataReadersAreCut(t *testing.T) {
	limits := Limits{StallGrace: time.Second, DataStreamsPerPeer: 4}
	server, client := pair(t, limits, echo)
	var digest [32]byte
	digest[0] = 7
	data := bytes.Repeat([]byte("papi data "), (MaxDataRange+9)/10)[:MaxDataRange]
	ServeData(server, func(d [32]byte) (DataSource, error) {
		if d != digest {
			return nil, ErrDataNotFound
		}
		return memSource{Reader: bytes.NewReader(data)}, nil
	}, SeedLimits{})

	var attackers []*Host
	opened := map[peer.ID]int{}
	var streams []*DataStream
	for range 8 {
		a := newHost(t, Limits{})
		connect(t, a, server)
		attackers = append(attackers, a)
		for range 20 {
			d, err := OpenData(t.Context(), a.Libp2p(), server.ID())
			if err != nil {
				continue
			}
			if err := d.RequestRange(digest, 0, MaxDataRange); err != nil {
				continue
			}
			streams = append(streams, d)
		}
	}
	t.Cleanup(func() {
		for _, d := range streams {
			d.Reset()
		}
	})
	waitFor(t, 5*time.Second, "the stalled requests taken", func() bool { return dataStreams(server) > 0 })
	// A stream counts in its peer's scope from the moment the server takes
	// it off the connection, and is refused or taken for ProtocolData only
	// once its protocol is negotiated: count once every stream has had its
	// answer, the first bytes of its data or a reset, or streams still on
	// their way count against the limit they have yet to meet.
	var answered sync.WaitGroup
	for _, d := range streams {
		answered.Go(func() {
			d.SetDeadline(time.Now().Add(10 * time.Second))
			d.r.Peek(1)
			d.SetDeadline(time.Time{})
		})
	}
	answered.Wait()
	for _, a := range attackers {
		server.Libp2p().Network().ResourceManager().ViewPeer(a.ID(), func(s network.PeerScope) error {
			opened[a.ID()] = s.Stat().NumStreamsInbound
			return nil
		})
	}
	t.Logf("%d of 160 data requests sent; streams held per attacker: %v", len(streams), slices.Collect(maps.Values(opened)))
	for id, n := range opened {
		if n > limits.DataStreamsPerPeer {
			t.Errorf("peer %s holds %d inbound streams, limit %d", id, n, limits.DataStreamsPerPeer)
		}
	}

	if out, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("honest")); err != nil || string(out) != "honest" {
		t.Fatalf("honest call beside the stalled readers: %q, %v", out, err)
	}
	d, err := OpenData(t.Context(), client.Libp2p(), server.ID())
	if err != nil {
		t.Fatalf("an honest reader beside the stalled ones: %v", err)
	}
	defer d.Close()
	got := make([]byte, 1<<20)
	if err := d.RequestRange(digest, 0, int64(len(got))); err != nil {
		t.Fatal(err)
	}
	if err := d.ReadRange(got); err != nil || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("an honest reader beside the stalled ones: %v", err)
	}

	waitFor(t, 10*time.Second, "the stalled streams cut", func() bool { return dataStreams(server) <= 1 })
	for _, a := range attackers {
		waitFor(t, 5*time.Second, "a peer that stalled repeatedly barred", func() bool { return server.offenders.barred(a.ID()) })
	}
	if server.offenders.barred(client.ID()) {
		t.Error("the honest reader was barred")
	}
}

// slowOutboard is a dataset whose outboard takes delay to make, as a large
// dataset's does on the first request for it.
type slowOutboard struct {
	memSource
	delay time.Duration
}

func (s slowOutboard) Outboard() ([]byte, error) {
	time.Sleep(s.delay)
	return s.memSource.Outboard()
}

// TestSlowOutboardIsNotAStall: the first request for a dataset's outboard
// waits while the server makes it, reading the whole dataset (a 1 GiB one
// took longer than the default StallGrace on a busy machine). That time is
// the server's: the reader's grace to take the answer starts once the
// answer is there.
func TestSlowOutboardIsNotAStall(t *testing.T) {
	limits := Limits{StallGrace: 500 * time.Millisecond}
	server, client := pair(t, limits, echo)
	var digest [32]byte
	digest[0] = 9
	ob := bytes.Repeat([]byte{0x0b}, 64)
	ServeData(server, func(d [32]byte) (DataSource, error) {
		if d != digest {
			return nil, ErrDataNotFound
		}
		return slowOutboard{memSource{bytes.NewReader(make([]byte, 1024)), ob}, 3 * limits.StallGrace}, nil
	}, SeedLimits{})
	d, err := OpenData(t.Context(), client.Libp2p(), server.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, err := d.Outboard(digest, len(ob)); err != nil || !bytes.Equal(got, ob) {
		t.Fatalf("outboard that took 3 graces to make: %x, %v", got, err)
	}
}
