package wire

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// The frames of papi's RPC protocol 2, byte for byte: another
// implementation must produce and accept exactly these.
var callVectors = []struct {
	call Call
	hex  string
}{
	{Call{ID: 1, Target: "t", Method: "echo", Payload: []byte("hi")}, "0c 00 01 00 0174 046563686f 6869"},
	{Call{ID: 300, Kind: KindCancel}, "06 01 ac02 00 00 00"},
	{Call{ID: 7, Timeout: 1_000_000_000, Target: "bafk", Method: "Nearest", Payload: []byte{0xa0}}, "15 00 07 8094ebdc03 046261666b 074e656172657374 a0"},
}

var replyVectors = []struct {
	reply Reply
	hex   string
}{
	{Reply{ID: 1, Payload: []byte("hi")}, "07 01 00 00 00 00 6869"},
	{Reply{ID: 2, Code: 5, Message: "no"}, "070205026e6f0000"},
	{Reply{ID: 3, Token: []byte{1, 2}, Size: 1 << 20}, "09 03 00 00 020102 808040"},
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCallFrames(t *testing.T) {
	for _, v := range callVectors {
		want := unhex(t, v.hex)
		got := append(AppendCallHeader(nil, &v.call), v.call.Payload...)
		if !bytes.Equal(got, want) {
			t.Errorf("%+v: encoded %x, want %x", v.call, got, want)
			continue
		}
		var c RawCall
		if err := DecodeCall(want[1:], &c); err != nil {
			t.Fatalf("%x: %v", want, err)
		}
		if c.ID != v.call.ID || c.Kind != v.call.Kind || c.Timeout != v.call.Timeout || string(c.Target) != v.call.Target ||
			string(c.Method) != v.call.Method || !bytes.Equal(c.Payload, v.call.Payload) {
			t.Errorf("%x decoded as %+v, want %+v", want, c, v.call)
		}
	}
}

func TestReplyFrames(t *testing.T) {
	for _, v := range replyVectors {
		want := unhex(t, v.hex)
		got := append(AppendReplyHeader(nil, &v.reply), v.reply.Payload...)
		if !bytes.Equal(got, want) {
			t.Errorf("%+v: encoded %x, want %x", v.reply, got, want)
			continue
		}
		var r Reply
		if err := DecodeReply(want[1:], &r); err != nil {
			t.Fatalf("%x: %v", want, err)
		}
		if r.ID != v.reply.ID || r.Code != v.reply.Code || r.Message != v.reply.Message || r.Size != v.reply.Size ||
			!bytes.Equal(r.Token, v.reply.Token) || !bytes.Equal(r.Payload, v.reply.Payload) {
			t.Errorf("%x decoded as %+v, want %+v", want, r, v.reply)
		}
	}
}

func TestMalformedFrames(t *testing.T) {
	for _, tc := range []struct {
		name string
		call bool
		in   string
	}{
		{"empty call", true, ""},
		{"unknown kind", true, "09 01 00 00 00"},
		{"target longer than the frame", true, "00 01 00 05 61"},
		{"timeout past int64", true, "00 01 ffffffffffffffffff01 00 00"},
		{"truncated id", true, "00 ff"},
		{"code past uint32", false, "01 8080808010 00 00 00"},
		{"token longer than the frame", false, "01 00 00 09 01"},
		{"size past int64", false, "01 00 00 00 ffffffffffffffffff01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(t, tc.in)
			var err error
			if tc.call {
				err = DecodeCall(in, new(RawCall))
			} else {
				err = DecodeReply(in, new(Reply))
			}
			if err == nil {
				t.Fatalf("%x decoded", in)
			}
		})
	}
}
