package papi

import (
	"context"
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Policy decides whether a call may reach its handler. It returns nil to
// let the call through; any error denies it, and the caller gets an error
// matching ErrPermissionDenied with the policy's message.
//
// A policy guards calls only: a bundle's spec and data can be fetched by
// anyone who knows its hash, as content-addressed data can.
type Policy func(ctx context.Context, call CallInfo) error

// CallInfo is what a Policy knows of a call before it runs.
type CallInfo struct {
	Caller  peer.ID // who calls, authenticated by the libp2p connection
	Method  string
	Request []byte // the request as CBOR; see Decode
}

// Decode decodes the request into v, for a policy that looks at it.
func (c CallInfo) Decode(v any) error { return requestDecoder.Unmarshal(c.Request, v) }

// Access serves a bundle under a policy; without one, every peer may call
// every method.
func Access(p Policy) ServeOption {
	return serveOptionFunc(func(c *serveConfig) error { c.policy = p; return nil })
}

// AllowPeers is a policy that lets only the given peers call.
func AllowPeers(ids ...peer.ID) Policy {
	return func(_ context.Context, call CallInfo) error {
		if slices.Contains(ids, call.Caller) {
			return nil
		}
		return fmt.Errorf("peer %s is not on the allowlist", call.Caller)
	}
}

// PerMethod is a policy that applies policies by method name; methods not
// named fall to the default, which may be nil to let them through.
func PerMethod(policies map[string]Policy, otherwise Policy) Policy {
	return func(ctx context.Context, call CallInfo) error {
		if p, ok := policies[call.Method]; ok {
			return p(ctx, call)
		}
		if otherwise != nil {
			return otherwise(ctx, call)
		}
		return nil
	}
}
