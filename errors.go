package papi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/papi-dev/papi/guest"
	"github.com/papi-dev/papi/internal/codes"
)

// Code classifies an error so that a caller can act on it without parsing
// text. A Code crosses the wire unchanged; the numbers are gRPC's.
type Code uint32

// The codes papi uses. CodeOK is never carried by an error.
const (
	CodeOK                 = Code(codes.OK)
	CodeCanceled           = Code(codes.Canceled)
	CodeUnknown            = Code(codes.Unknown)
	CodeInvalidArgument    = Code(codes.InvalidArgument)
	CodeDeadlineExceeded   = Code(codes.DeadlineExceeded)
	CodeNotFound           = Code(codes.NotFound)
	CodeAlreadyExists      = Code(codes.AlreadyExists)
	CodePermissionDenied   = Code(codes.PermissionDenied)
	CodeResourceExhausted  = Code(codes.ResourceExhausted)
	CodeFailedPrecondition = Code(codes.FailedPrecondition)
	CodeAborted            = Code(codes.Aborted)
	CodeOutOfRange         = Code(codes.OutOfRange)
	CodeUnimplemented      = Code(codes.Unimplemented)
	CodeInternal           = Code(codes.Internal)
	CodeUnavailable        = Code(codes.Unavailable)
	CodeDataLoss           = Code(codes.DataLoss)
	CodeUnauthenticated    = Code(codes.Unauthenticated)
)

// String returns the code's snake_case name, such as "not_found".
func (c Code) String() string { return codes.Code(c).String() }

// Error is the one error type papi returns for a failed call, on both sides
// of the wire: a handler may return one to choose the code its caller sees,
// and a caller gets one back for every error the remote side reported.
//
// Use errors.As to get at the code, or CodeOf. errors.Is matches the sentinel
// errors of this package (ErrUnknownMethod, ErrHashMismatch, …) whichever side
// of the wire produced them, and matches context.DeadlineExceeded and
// context.Canceled for the codes of the same meaning.
type Error struct {
	code   Code
	msg    string
	reason *reason // the sentinel this error is an instance of, if any
	err    error   // what it wraps, on the side where it was made
}

// reason is a sentinel error with a code of its own and a stable name that
// crosses the wire, so that errors.Is gives the same answer on both sides.
type reason struct {
	name string
	code Code
	text string
}

func (r *reason) Error() string { return r.text }

var reasons = map[string]*reason{}

func newReason(name string, code Code, text string) *reason {
	r := &reason{name: name, code: code, text: text}
	reasons[name] = r
	return r
}

// Sentinel errors. Each has a fixed code; test for them with errors.Is, on
// whichever side of the wire the error arrived.
var (
	// ErrUnknownMethod: the API has no method of that name.
	ErrUnknownMethod error = newReason("unknown_method", CodeUnimplemented, "unknown method")
	// ErrPrecondition: a request broke a condition of the spec; it never reached the handler.
	ErrPrecondition error = newReason("precondition", CodeInvalidArgument, "precondition failed")
	// ErrPostcondition: a handler's response broke a condition of the spec and was not sent.
	ErrPostcondition error = newReason("postcondition", CodeInternal, "postcondition failed")
	// ErrHashMismatch: bytes did not hash to the address they were fetched or read by.
	ErrHashMismatch error = newReason("hash_mismatch", CodeDataLoss, "hash mismatch")
	// ErrSpecMismatch: Go types or handlers do not match the spec they are used with.
	ErrSpecMismatch error = newReason("spec_mismatch", CodeFailedPrecondition, "spec mismatch")
	// ErrNotServed: the peer does not serve the hash that was asked for.
	ErrNotServed error = newReason("not_served", CodeNotFound, "hash not served")
	// ErrNoProvider: no peer that serves the hash could be found or reached.
	ErrNoProvider error = newReason("no_provider", CodeUnavailable, "no provider")
	// ErrTooLarge: a message, a request or a dataset is larger than a limit allows.
	ErrTooLarge error = newReason("too_large", CodeResourceExhausted, "too large")
	// ErrPermissionDenied: the caller may not call this method.
	ErrPermissionDenied error = newReason("permission_denied", CodePermissionDenied, "permission denied")
	// ErrNoHandlers: the peer serves the bundle's spec and data, for dialing
	// and cloning, but has no handlers to answer calls (it seeds the bundle,
	// as the papi command does). Dial prefers a peer with handlers; this is
	// what a call gets when none was found.
	ErrNoHandlers error = newReason("no_handlers", CodeUnavailable, "no handlers here")
	// ErrMalformed: bytes could not be decoded as what they claim to be.
	ErrMalformed error = newReason("malformed", CodeInvalidArgument, "malformed input")
)

// NewError returns an *Error with the given code that wraps err.
func NewError(code Code, err error) *Error {
	e := &Error{code: code, err: err}
	if err != nil {
		e.msg = err.Error()
		var r *reason
		if errors.As(err, &r) {
			e.reason = r
		}
	}
	return e
}

// Errorf returns an *Error with the given code and a message formatted as by
// fmt.Errorf; a %w verb wraps, as it does there.
func Errorf(code Code, format string, args ...any) *Error {
	return NewError(code, fmt.Errorf(format, args...))
}

// errorf makes an error that is an instance of a sentinel reason, with detail.
func errorf(sentinel error, format string, args ...any) *Error {
	r := sentinel.(*reason)
	err := fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
	return &Error{code: r.code, msg: err.Error(), reason: r, err: err}
}

// Code returns the error's code.
func (e *Error) Code() Code { return e.code }

// Message returns the error's message without the code.
func (e *Error) Message() string { return e.msg }

// Error implements error. An error that is an instance of a sentinel reads
// as the sentinel's text and its detail ("no provider: …"); others start
// with their code ("not_found: …").
func (e *Error) Error() string {
	switch {
	case e.msg == "":
		return e.code.String()
	case e.reason != nil:
		return e.msg
	}
	return e.code.String() + ": " + e.msg
}

// peerError is why one peer could not serve a request.
type peerError struct {
	id  peer.ID
	err error
}

func (p peerError) Error() string { return "peer " + p.id.String() + ": " + detail(p.err) }
func (p peerError) Unwrap() error { return p.err }

// detail is err's message without the code that the error around it
// already gives.
func detail(err error) string {
	var e *Error
	if errors.As(err, &e) && e.msg != "" && e.reason == nil && err == error(e) {
		return e.msg
	}
	return err.Error()
}

// peerErrors are why each of several peers failed, on one line.
type peerErrors []error

func (p peerErrors) Error() string {
	parts := make([]string, len(p))
	for i, err := range p {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (p peerErrors) Unwrap() []error { return p }

func joinPeerErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return peerErrors(errs)
}

// Unwrap returns the wrapped error; on the receiving side of the wire, the sentinel.
func (e *Error) Unwrap() error {
	if e.err != nil {
		return e.err
	}
	if e.reason != nil {
		return e.reason
	}
	return nil
}

// Is matches context errors by code, so a remote deadline reads like a local one.
func (e *Error) Is(target error) bool {
	switch target {
	case context.DeadlineExceeded:
		return e.code == CodeDeadlineExceeded
	case context.Canceled:
		return e.code == CodeCanceled
	}
	if r, ok := target.(*reason); ok && e.reason == r {
		return true
	}
	return false
}

// CodeOf returns the code of err: the code of an *Error in its chain, the code
// of a sentinel or context error, CodeOK for nil, and CodeUnknown otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	var ge *guest.Error
	if errors.As(err, &ge) {
		return Code(ge.Code())
	}
	var r *reason
	switch {
	case errors.As(err, &r):
		return r.code
	case errors.Is(err, context.DeadlineExceeded):
		return CodeDeadlineExceeded
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	}
	return CodeUnknown
}

// asError turns any error a handler or the library produced into the *Error
// that crosses the wire.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ge *guest.Error
	if errors.As(err, &ge) {
		return remoteError(Code(ge.Code()), ge.Message(), ge.Reason())
	}
	return NewError(CodeOf(err), err)
}

// reasonName is the wire name of e's sentinel, "" if it has none.
func (e *Error) reasonName() string {
	if e.reason == nil {
		return ""
	}
	return e.reason.name
}

// remoteError rebuilds an error that arrived from the wire.
func remoteError(code Code, msg, reasonName string) *Error {
	e := &Error{code: code, msg: msg}
	if r, ok := reasons[reasonName]; ok && r.code == code {
		e.reason = r
	}
	return e
}
