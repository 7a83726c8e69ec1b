// Package guestabi is the contract between a WebAssembly handler module and
// the papi host that runs it: the names of what the module exports and
// imports, and the framing of what crosses the boundary. The guest package
// and the host sandbox both import it, so the two sides cannot drift.
//
// A module is a wasip1 reactor (built with -buildmode=c-shared). The host
// calls _initialize once, then for each call:
//
//  1. ExportBuffer(n) returns the address of n bytes of guest memory;
//  2. the host writes the method name followed by the CBOR request there;
//  3. ExportCall(len(method), len(request)) runs the handler and returns
//     the address and length of a frame, packed as address<<32 | length.
//
// A frame is one status byte, then CBOR: the response for StatusOK, an
// ErrorFrame for StatusError. ExportSpec returns a frame whose body is the
// module's spec, encoded deterministically. Datasets reach the guest through
// the host functions ImportDatasetSize and ImportDatasetRead, read-only.
package guestabi

// Version is the version of this contract; a bundle's manifest records it
// beside the module's hash.
const Version = 1

// Names the module exports.
const (
	ExportBuffer = "papi_buffer" // (size u32) -> address u32
	ExportCall   = "papi_call"   // (methodLen u32, requestLen u32) -> frame u64
	ExportSpec   = "papi_spec"   // () -> frame u64
	// ExportFuel is the mutable i32 global the host adds to every module
	// when it loads it: every loop iteration takes one, and at zero the
	// module calls ImportTick.
	ExportFuel = "papi_fuel"
)

// ImportModule is the module name of the host functions.
const ImportModule = "papi"

// Host functions.
const (
	// ImportDatasetSize (name address u32, name length u32) -> size i64,
	// or -1 when the bundle has no such dataset.
	ImportDatasetSize = "dataset_size"
	// ImportDatasetRead (name address u32, name length u32, offset i64,
	// buffer address u32, buffer length u32) -> bytes read i32, or -1 when
	// the bundle has no such dataset, -2 when the offset is out of range.
	ImportDatasetRead = "dataset_read"
	// ImportTick () -> (): called by the loops of a module when its fuel
	// runs out; the host checks the call's time there, and refills the
	// fuel or stops the call. Every module must import it.
	ImportTick = "tick"
)

// Frame status bytes.
const (
	StatusOK    byte = 0
	StatusError byte = 1
)

// ErrorFrame is a handler's error as it crosses the boundary: the code
// (papi's, gRPC's numbers), the message and, for errors that are instances
// of one of papi's sentinels, the sentinel's wire name.
type ErrorFrame struct {
	Code    uint32 `cbor:"code"`
	Message string `cbor:"msg"`
	Reason  string `cbor:"reason,omitempty"`
}

// Wire names of the sentinels a guest reports; they are papi's.
const (
	ReasonUnknownMethod = "unknown_method"
	ReasonPrecondition  = "precondition"
	ReasonPostcondition = "postcondition"
	ReasonMalformed     = "malformed"
	ReasonTooLarge      = "too_large"
)

// Pack packs an address and a length into the u64 ExportCall returns.
func Pack(addr, n uint32) uint64 { return uint64(addr)<<32 | uint64(n) }

// Unpack is the inverse of Pack.
func Unpack(v uint64) (addr, n uint32) { return uint32(v >> 32), uint32(v) }
