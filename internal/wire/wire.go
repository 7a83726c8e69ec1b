// Package wire holds the messages of papi's RPC session protocols. On the
// first, gorpc encodes them with msgpack and requires exported types; on the
// second they are framed by hand (frame.go). They live here so that users
// never see them.
package wire

// Kinds of Call message.
const (
	KindCall   uint8 = 0
	KindCancel uint8 = 1
)

// Call is one message from caller to server on a session stream.
type Call struct {
	ID      uint64 `codec:"i"`
	Kind    uint8  `codec:"k,omitempty"`
	Target  string `codec:"t,omitempty"`
	Method  string `codec:"m,omitempty"`
	Timeout int64  `codec:"d,omitempty"` // nanoseconds left of the caller's deadline; 0: none
	Payload []byte `codec:"p,omitempty"`
}

// Reply answers one Call. A payload too large to travel inline is left on
// the server under Token, to be fetched over the body protocol.
type Reply struct {
	ID      uint64 `codec:"i"`
	Code    uint32 `codec:"c,omitempty"`
	Message string `codec:"e,omitempty"`
	Payload []byte `codec:"p,omitempty"`
	Token   []byte `codec:"b,omitempty"`
	Size    int64  `codec:"s,omitempty"`
}

// BodyHeader starts a stream of the body protocol: either a whole call with
// a large request (Method set), or the fetch of a large response (Token set).
type BodyHeader struct {
	Target  string `cbor:"t,omitempty"`
	Method  string `cbor:"m,omitempty"`
	Timeout int64  `cbor:"d,omitempty"`
	Size    int64  `cbor:"s,omitempty"`
	Token   []byte `cbor:"b,omitempty"`
}

// BodyReply answers a body stream; Size bytes of payload follow it.
type BodyReply struct {
	Code    uint32 `cbor:"c,omitempty"`
	Message string `cbor:"e,omitempty"`
	Size    int64  `cbor:"s,omitempty"`
}
