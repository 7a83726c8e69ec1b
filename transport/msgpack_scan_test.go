package transport

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ugorji/go/codec"

	rpc "github.com/libp2p/go-libp2p-gorpc"

	"github.com/papi-dev/papi/internal/wire"
)

// encodeStream encodes values one after another, as gorpc writes a session.
func encodeStream(t testing.TB, values ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := codec.NewEncoder(&buf, &codec.MsgpackHandle{})
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func sessionSample(t testing.TB) ([]byte, int) {
	values := []any{
		rpc.ServiceID{Name: rpcServiceName, Method: "Session"},
		&wire.Call{ID: 1, Target: "bafy", Method: "Nearest", Payload: []byte{1, 2, 3}},
		&wire.Call{ID: 2, Kind: wire.KindCancel},
		&wire.Call{ID: 1 << 40, Timeout: 1 << 35, Payload: bytes.Repeat([]byte("x"), 70000)},
		rpc.Response{Service: rpc.ServiceID{Name: "a", Method: "b"}, Error: "boom"},
		&wire.Reply{ID: 3, Code: 13, Message: "internal", Token: make([]byte, 16), Size: 1 << 30},
		map[string]any{"n": []any{int64(-1), 1.5, float32(2), nil, true, "s", map[string]any{}}},
	}
	return encodeStream(t, values...), len(values)
}

func TestScannerFindsEveryMessage(t *testing.T) {
	data, n := sessionSample(t)
	for _, chunk := range []int{1, 2, 3, 7, 64, 4096, len(data)} {
		s := msgpackScanner{max: 1 << 20}
		ended := 0
		for p := data; len(p) > 0; {
			k := min(chunk, len(p))
			got, err := s.feed(p[:k])
			if err != nil {
				t.Fatalf("chunk %d: %v", chunk, err)
			}
			ended += got
			p = p[k:]
		}
		if ended != n || s.inObject {
			t.Errorf("chunk %d: %d messages ended (in one: %v), want %d", chunk, ended, s.inObject, n)
		}
	}
}

func TestScannerRefusesOversizedMessages(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"bin32 of 4 GiB", []byte{0x81, 0xa1, 'p', 0xc6, 0xff, 0xff, 0xff, 0xff}},
		{"str32 of 2 GiB", []byte{0xdb, 0x80, 0, 0, 0}},
		{"map32 of 4 G pairs", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
		{"array16 past the limit, actually sent", append([]byte{0xdc, 0x10, 0x00}, make([]byte, 4096)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := msgpackScanner{max: 1024}
			if _, err := s.feed(tt.in); !errors.Is(err, errObjectTooLarge) {
				t.Fatalf("feed = %v, want errObjectTooLarge", err)
			}
		})
	}
}

// FuzzScanner checks that the scanner never panics, and that for a stream
// of real messages cut anywhere it finds every message.
func FuzzScanner(f *testing.F) {
	data, _ := sessionSample(f)
	f.Add(data, uint16(7))
	f.Add([]byte{0x81, 0xa1, 'p', 0xc6, 0xff, 0xff, 0xff, 0xff}, uint16(1))
	f.Add([]byte{0xc1}, uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint16) {
		s := msgpackScanner{max: 1 << 16}
		step := int(chunk%512) + 1
		for p := in; len(p) > 0; {
			k := min(step, len(p))
			if _, err := s.feed(p[:k]); err != nil {
				return
			}
			p = p[k:]
		}
		// Whatever was accepted, the decoder can take no more than the limit per message.
		if s.inObject && s.size > s.max {
			t.Fatalf("object of %d bytes accepted, limit %d", s.size, s.max)
		}
	})
}

func TestScannerAgreesWithTheDecoder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		var values []any
		for range 1 + r.IntN(5) {
			values = append(values, &wire.Call{ID: r.Uint64(), Kind: uint8(r.IntN(2)), Target: string(make([]byte, r.IntN(300))), Timeout: r.Int64(), Payload: make([]byte, r.IntN(70000))})
		}
		data := encodeStream(t, values...)
		s := msgpackScanner{max: 1 << 20}
		ended, err := s.feed(data)
		if err != nil || ended != len(values) {
			t.Fatalf("case %d: %d of %d messages, %v", i, ended, len(values), err)
		}
	}
}
