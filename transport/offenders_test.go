package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"github.com/papi-dev/papi/internal/wire"
)

// TestOffendersAreCutOffAndBarred has a peer break each of papi's protocols
// and checks that the server drops its connections and refuses it until the
// ban ends, while an honest caller is served throughout; and that a peer
// that merely vanishes mid-message is not taken for an offender.
func TestOffendersAreCutOffAndBarred(t *testing.T) {
	const ban = 3 * time.Second
	tests := []struct {
		name    string
		offence bool
		act     func(t *testing.T, attacker, server *Host)
	}{
		{"message announcing 4 GiB", true, func(t *testing.T, attacker, server *Host) {
			s := rawSession(t, attacker, server)
			s.Write([]byte{0x81, 0xa1, 'p', 0xc6, 0xff, 0xff, 0xff, 0xff})
			chunk := make([]byte, 64<<10)
			for range 1 << 12 {
				if _, err := s.Write(chunk); err != nil {
					return
				}
			}
		}},
		{"message trickled past the timeout", true, func(t *testing.T, attacker, server *Host) {
			s := rawSession(t, attacker, server)
			s.Write([]byte{0x81, 0xa1})
			time.Sleep(600 * time.Millisecond)
			s.Write([]byte{'p'})
		}},
		{"frame announcing 4 GiB", true, func(t *testing.T, attacker, server *Host) {
			s := framedSession(t, attacker, server)
			s.Write(binary.AppendUvarint(nil, 4<<30))
			s.Read(make([]byte, 1))
		}},
		{"frame trickled past the timeout", true, func(t *testing.T, attacker, server *Host) {
			s := framedSession(t, attacker, server)
			frame := callFrame(&wire.Call{ID: 1, Target: "t", Method: "echo", Payload: []byte("slow")})
			s.Write(frame[:3])
			time.Sleep(600 * time.Millisecond)
			s.Write(frame[3:])
			s.Read(make([]byte, 1))
		}},
		{"frame that does not decode", true, func(t *testing.T, attacker, server *Host) {
			s := framedSession(t, attacker, server)
			s.Write([]byte{3, 9, 1, 0}) // kind 9
			s.Read(make([]byte, 1))
		}},
		{"body header that is not CBOR", true, func(t *testing.T, attacker, server *Host) {
			s := newStream(t, attacker, server, ProtocolBody)
			s.Write([]byte{5, 0xff, 0xff, 0xff, 0xff, 0xff})
			s.Read(make([]byte, 1))
		}},
		{"data request with a varint past 64 bits", true, func(t *testing.T, attacker, server *Host) {
			s := newStream(t, attacker, server, ProtocolData)
			s.Write(append(make([]byte, 33), bytes.Repeat([]byte{0xff}, 11)...))
			s.Read(make([]byte, 1))
		}},
		{"stream reset in the middle of a message", false, func(t *testing.T, attacker, server *Host) {
			s := rawSession(t, attacker, server).(network.Stream)
			s.Write([]byte{0x81, 0xa1, 'p', 0xc4, 0x10, 'h', 'a', 'l', 'f'})
			s.Reset()
		}},
		{"framed stream reset in the middle of a frame", false, func(t *testing.T, attacker, server *Host) {
			s := framedSession(t, attacker, server)
			frame := callFrame(&wire.Call{ID: 1, Target: "t", Method: "echo", Payload: []byte("half of it")})
			s.Write(frame[:len(frame)/2])
			s.Reset()
		}},
		{"body stream reset before its payload", false, func(t *testing.T, attacker, server *Host) {
			s := newStream(t, attacker, server, ProtocolBody)
			hdr := binary.AppendUvarint(nil, 100)
			s.Write(append(hdr, 0xa1))
			s.Reset()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			limits := Limits{MessageTimeout: 300 * time.Millisecond, BanDuration: ban}
			server, client := pair(t, limits, echo)
			ServeData(server, func([32]byte) (DataSource, error) { return nil, ErrDataNotFound }, SeedLimits{})
			attacker := newHost(t, Limits{})
			connect(t, attacker, server)

			tt.act(t, attacker, server)
			offended := time.Now()

			if out, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("honest")); err != nil || string(out) != "honest" {
				t.Fatalf("honest caller: %q, %v", out, err)
			}
			if !tt.offence {
				if out, err := attacker.Call(t.Context(), server.ID(), "t", "echo", []byte("again")); err != nil || string(out) != "again" {
					t.Fatalf("a peer that only vanished mid-message was refused: %q, %v", out, err)
				}
				return
			}
			waitFor(t, 5*time.Second, "the offender is disconnected", func() bool {
				return attacker.Libp2p().Network().Connectedness(server.ID()) != network.Connected
			})
			// The dialer may see its connection complete before the
			// server's refusal reaches it: a call is what must fail.
			err := redial(attacker, server)
			if err == nil {
				_, err = attacker.Call(t.Context(), server.ID(), "t", "echo", []byte("barred"))
			}
			if err == nil && time.Since(offended) < ban-time.Second {
				t.Fatal("the offender was served again during its ban")
			}
			time.Sleep(time.Until(offended.Add(ban + 200*time.Millisecond)))
			if err := redial(attacker, server); err != nil {
				t.Fatalf("the offender is still refused after its ban: %v", err)
			}
			if out, err := attacker.Call(t.Context(), server.ID(), "t", "echo", []byte("after")); err != nil || string(out) != "after" {
				t.Fatalf("call after the ban: %q, %v", out, err)
			}
		})
	}
}

func newStream(t *testing.T, from, to *Host, proto protocol.ID) network.Stream {
	t.Helper()
	s, err := from.Libp2p().NewStream(t.Context(), to.ID(), proto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Reset() })
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	return s
}

// redial connects from to to, past the backoff libp2p keeps after a
// refused dial.
func redial(from, to *Host) error {
	if sw, ok := from.Libp2p().Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(to.ID())
	}
	return from.Connect(context.Background(), peer.AddrInfo{ID: to.ID(), Addrs: to.Libp2p().Addrs()})
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: not yet: %s", d, what)
		}
	}
}

// TestCallerDoesNotBarItsServer: a server configured for larger inline
// messages than its caller sends a reply the caller cannot take. The call
// fails, but the caller, which opened the session, bars no one: the next
// call to the same server goes through.
func TestCallerDoesNotBarItsServer(t *testing.T) {
	server := newHost(t, Limits{MaxInlineMessage: 4 << 20})
	server.SetHandler(echo)
	client := newHost(t, Limits{BanDuration: time.Hour})
	connect(t, client, server)
	if _, err := client.Call(t.Context(), server.ID(), "t", "big", []byte(strconv.Itoa(2<<20))); err == nil {
		t.Fatal("a 2 MiB inline reply got past a 1 MiB limit")
	}
	if out, err := client.Call(t.Context(), server.ID(), "t", "echo", []byte("next")); err != nil || string(out) != "next" {
		t.Fatalf("next call to the same server: %q, %v", out, err)
	}
}
