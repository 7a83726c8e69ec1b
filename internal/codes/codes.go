// Package codes numbers the error codes that cross the wire. Both the
// transport and package papi use them, so a code means the same on both sides.
package codes

// Code classifies an error. The numbers follow gRPC's, which many readers know.
type Code uint32

// The codes; OK is never sent as an error.
const (
	OK                 Code = 0
	Canceled           Code = 1
	Unknown            Code = 2
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	AlreadyExists      Code = 6
	PermissionDenied   Code = 7
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Aborted            Code = 10
	OutOfRange         Code = 11
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
	DataLoss           Code = 15
	Unauthenticated    Code = 16
)

var names = [...]string{
	OK: "ok", Canceled: "canceled", Unknown: "unknown", InvalidArgument: "invalid_argument",
	DeadlineExceeded: "deadline_exceeded", NotFound: "not_found", AlreadyExists: "already_exists",
	PermissionDenied: "permission_denied", ResourceExhausted: "resource_exhausted",
	FailedPrecondition: "failed_precondition", Aborted: "aborted", OutOfRange: "out_of_range",
	Unimplemented: "unimplemented", Internal: "internal", Unavailable: "unavailable",
	DataLoss: "data_loss", Unauthenticated: "unauthenticated",
}

// String returns the code's snake_case name, as connect and gRPC write it.
func (c Code) String() string {
	if int(c) < len(names) {
		return names[c]
	}
	return "code_" + itoa(uint32(c))
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
