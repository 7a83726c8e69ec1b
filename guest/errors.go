package guest

import "fmt"

// Code classifies an error as papi.Code does, with the same numbers, so a
// handler's error reaches its caller with the code it chose whether it runs
// natively or as WebAssembly.
type Code uint32

// The codes a handler may choose; see papi.Code.
const (
	CodeCanceled           Code = 1
	CodeUnknown            Code = 2
	CodeInvalidArgument    Code = 3
	CodeDeadlineExceeded   Code = 4
	CodeNotFound           Code = 5
	CodeAlreadyExists      Code = 6
	CodePermissionDenied   Code = 7
	CodeResourceExhausted  Code = 8
	CodeFailedPrecondition Code = 9
	CodeAborted            Code = 10
	CodeOutOfRange         Code = 11
	CodeUnimplemented      Code = 12
	CodeInternal           Code = 13
	CodeUnavailable        Code = 14
	CodeDataLoss           Code = 15
	CodeUnauthenticated    Code = 16
)

// Error is an error with a code, for a handler to return. papi reports it to
// the caller as a papi.Error with the same code and message.
type Error struct {
	code   Code
	msg    string
	reason string // the wire name of a papi sentinel, for errors papi's own checks make
}

// Errorf returns an *Error with the given code and a message formatted as by
// fmt.Sprintf.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{code: code, msg: fmt.Sprintf(format, args...)}
}

func reasonf(code Code, reason, format string, args ...any) *Error {
	return &Error{code: code, msg: fmt.Sprintf(format, args...), reason: reason}
}

// Code returns the error's code.
func (e *Error) Code() Code { return e.code }

// Message returns the error's message.
func (e *Error) Message() string { return e.msg }

// Reason returns the wire name of the papi sentinel the error is an instance
// of, such as "precondition", or "".
func (e *Error) Reason() string { return e.reason }

// Error implements error.
func (e *Error) Error() string { return e.msg }
