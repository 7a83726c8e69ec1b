package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ugorji/go/codec"

	rpc "github.com/libp2p/go-libp2p-gorpc"

	"github.com/papi-dev/papi/internal/wire"
)

var updateWire = flag.Bool("update", false, "rewrite the wire vectors under ../testdata/wire")

// wireVector is one message as it crosses the wire. GoHex is what a Go
// peer writes; JSHex, where set, is what the JavaScript client writes for
// the same message (payloads as msgpack bin, where gorpc's codec writes
// str), which a Go peer must read as the same message.
type wireVector struct {
	Name     string         `json:"name"`
	Protocol string         `json:"protocol"`
	Message  string         `json:"message"`
	Fields   map[string]any `json:"fields"`
	GoHex    string         `json:"go_hex"`
	JSHex    string         `json:"js_hex,omitempty"`
}

// A payload with bytes that are no UTF-8, so that a decoder that turns
// msgpack str into text is caught.
var notText = []byte{0xa3, 0x63, 0x6c, 0x61, 0x74, 0xff, 0xfe, 0x00, 0xc3}

func msgpackBytes(t *testing.T, vs ...any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := codec.NewEncoder(&b, &codec.MsgpackHandle{})
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// frame is a body protocol frame: uvarint length, canonical CBOR.
func frame(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writeFrame(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func dataRequestBytes(kind byte, digest [32]byte, off, n uint64) []byte {
	b := append([]byte{kind}, digest[:]...)
	b = binary.AppendUvarint(b, off)
	return binary.AppendUvarint(b, n)
}

func wireVectors(t *testing.T) []wireVector {
	t.Helper()
	target := "bafkr4ifd3k5fqzvkxkkffhyfhkkfkczlkxlesvp2usxnmxr7ydjcmdzpuy"
	token := bytes.Repeat([]byte{0x5a}, 16)
	var digest [32]byte
	for i := range digest {
		digest[i] = byte(i)
	}
	// gorpc's framing, protocol 1: what browsers and Node speak (Go peers prefer
	// protocol 2 between themselves and answer both).
	rpcID := string(ProtocolRPC1)
	header := rpc.Response{Service: rpc.ServiceID{Name: rpcServiceName, Method: "Session"}}
	// The JavaScript client's encoding, written out by hand: a map of
	// fixstr keys, payload as bin 8.
	jsCall := append([]byte{0x85, 0xa1, 'i', 0x01, 0xa1, 't', 0xd9, byte(len(target))}, target...)
	jsCall = append(jsCall, 0xa1, 'm', 0xa7, 'N', 'e', 'a', 'r', 'e', 's', 't')
	jsCall = append(jsCall, 0xa1, 'd', 0xcf, 0, 0, 0, 6, 0xfc, 0x23, 0xac, 0)
	jsCall = append(jsCall, 0xa1, 'p', 0xc4, byte(len(notText)))
	jsCall = append(jsCall, notText...)
	return []wireVector{
		{Name: "session header", Protocol: rpcID, Message: "ServiceID",
			Fields: map[string]any{"Name": rpcServiceName, "Method": "Session"},
			GoHex:  hex.EncodeToString(msgpackBytes(t, rpc.ServiceID{Name: rpcServiceName, Method: "Session"}))},
		{Name: "call", Protocol: rpcID, Message: "Call",
			Fields: map[string]any{"i": 1, "t": target, "m": "Nearest", "d": 30000000000, "p": hex.EncodeToString(notText)},
			GoHex:  hex.EncodeToString(msgpackBytes(t, &wire.Call{ID: 1, Target: target, Method: "Nearest", Timeout: 30e9, Payload: notText})),
			JSHex:  hex.EncodeToString(jsCall)},
		{Name: "cancel", Protocol: rpcID, Message: "Call",
			Fields: map[string]any{"i": 7, "k": 1},
			GoHex:  hex.EncodeToString(msgpackBytes(t, &wire.Call{ID: 7, Kind: wire.KindCancel})),
			JSHex:  "82a169 07a16b01"},
		{Name: "reply header", Protocol: rpcID, Message: "Response",
			Fields: map[string]any{"Service": map[string]any{"Name": rpcServiceName, "Method": "Session"}},
			GoHex:  hex.EncodeToString(msgpackBytes(t, header))},
		{Name: "reply", Protocol: rpcID, Message: "Reply",
			Fields: map[string]any{"i": 1, "p": hex.EncodeToString(notText)},
			GoHex:  hex.EncodeToString(msgpackBytes(t, &wire.Reply{ID: 1, Payload: notText}))},
		{Name: "error reply", Protocol: rpcID, Message: "Reply",
			Fields: map[string]any{"i": 2, "c": 3, "e": "precondition failed: Nearest request: limit: missing", "p": "a166726561736f6e6c707265636f6e646974696f6e"},
			GoHex: hex.EncodeToString(msgpackBytes(t, &wire.Reply{ID: 2, Code: 3, Message: "precondition failed: Nearest request: limit: missing",
				Payload: mustHex(t, "a166726561736f6e6c707265636f6e646974696f6e")}))},
		{Name: "large reply", Protocol: rpcID, Message: "Reply",
			Fields: map[string]any{"i": 3, "b": hex.EncodeToString(token), "s": 2000000},
			GoHex:  hex.EncodeToString(msgpackBytes(t, &wire.Reply{ID: 3, Token: token, Size: 2000000}))},
		{Name: "body call", Protocol: string(ProtocolBody), Message: "BodyHeader",
			Fields: map[string]any{"t": target, "m": "Upload", "d": 30000000000, "s": 2000000},
			GoHex:  hex.EncodeToString(frame(t, wire.BodyHeader{Target: target, Method: "Upload", Timeout: 30e9, Size: 2000000}))},
		{Name: "body fetch", Protocol: string(ProtocolBody), Message: "BodyHeader",
			Fields: map[string]any{"b": hex.EncodeToString(token)},
			GoHex:  hex.EncodeToString(frame(t, wire.BodyHeader{Token: token}))},
		{Name: "body reply", Protocol: string(ProtocolBody), Message: "BodyReply",
			Fields: map[string]any{"s": 2000000},
			GoHex:  hex.EncodeToString(frame(t, wire.BodyReply{Size: 2000000}))},
		{Name: "body error reply", Protocol: string(ProtocolBody), Message: "BodyReply",
			Fields: map[string]any{"c": 5, "e": "no response body under that token (expired?)"},
			GoHex:  hex.EncodeToString(frame(t, wire.BodyReply{Code: 5, Message: "no response body under that token (expired?)"}))},
		{Name: "outboard request", Protocol: string(ProtocolData), Message: "DataRequest",
			Fields: map[string]any{"kind": 1, "digest": hex.EncodeToString(digest[:]), "offset": 0, "length": 0},
			GoHex:  hex.EncodeToString(dataRequestBytes(dataKindOutboard, digest, 0, 0))},
		{Name: "range request", Protocol: string(ProtocolData), Message: "DataRequest",
			Fields: map[string]any{"kind": 2, "digest": hex.EncodeToString(digest[:]), "offset": 262144, "length": 262144},
			GoHex:  hex.EncodeToString(dataRequestBytes(dataKindRange, digest, 262144, 262144))},
		{Name: "range answer header", Protocol: string(ProtocolData), Message: "DataAnswer",
			Fields: map[string]any{"status": 0, "length": 262144},
			GoHex:  hex.EncodeToString(binary.AppendUvarint([]byte{dataStatusOK}, 262144))},
		{Name: "not found answer", Protocol: string(ProtocolData), Message: "DataAnswer",
			Fields: map[string]any{"status": 1, "length": 0},
			GoHex:  hex.EncodeToString(binary.AppendUvarint([]byte{dataStatusNotFound}, 0))},
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWireVectors checks testdata/wire/transport.json, the messages of
// docs/wire.md, against what this package writes and reads: each Go
// encoding is what it writes, and each JavaScript encoding decodes, with
// gorpc's own codec, to the same message.
func TestWireVectors(t *testing.T) {
	path := filepath.Join("..", "testdata", "wire", "transport.json")
	want := wireVectors(t)
	for i := range want {
		want[i].JSHex = string(bytes.ReplaceAll([]byte(want[i].JSHex), []byte(" "), nil))
	}
	if *updateWire {
		out, _ := json.MarshalIndent(map[string]any{"vectors": want}, "", "  ")
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run WireVectors -update ./transport/ writes it)", err)
	}
	var got struct{ Vectors []wireVector }
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Vectors) != len(want) {
		t.Fatalf("%s has %d vectors, want %d", path, len(got.Vectors), len(want))
	}
	for i, v := range got.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			if v.GoHex != want[i].GoHex || v.JSHex != want[i].JSHex {
				t.Fatalf("committed %s / %s, this package writes %s / %s", v.GoHex, v.JSHex, want[i].GoHex, want[i].JSHex)
			}
			if v.JSHex == "" {
				return
			}
			var fromGo, fromJS wire.Call
			if err := codec.NewDecoderBytes(mustHex(t, v.GoHex), &codec.MsgpackHandle{}).Decode(&fromGo); err != nil {
				t.Fatal(err)
			}
			if err := codec.NewDecoderBytes(mustHex(t, v.JSHex), &codec.MsgpackHandle{}).Decode(&fromJS); err != nil {
				t.Fatalf("gorpc's codec cannot read the JavaScript encoding: %v", err)
			}
			if !reflect.DeepEqual(fromGo, fromJS) {
				t.Fatalf("the JavaScript encoding reads as %+v, the Go one as %+v", fromJS, fromGo)
			}
		})
	}
	// A body frame is read back by the reader the server uses.
	var hdr wire.BodyHeader
	if err := readFrame(bufio.NewReader(bytes.NewReader(mustHex(t, want[7].GoHex))), &hdr); err != nil || hdr.Method != "Upload" {
		t.Fatalf("body header vector reads as %+v, %v", hdr, err)
	}
}
