// Package guest is what a handler package imports so that its handlers also
// run as WebAssembly inside a papi bundle, with no Go code of the serving
// peer's own.
//
// Handlers keep papi.Handle's signature, func(context.Context, Req)
// (Resp, error), and reach their data with Load, Size and ReadAt, which work
// the same natively (served with papi.Handle) and in the module (served from
// the bundle's code). The module itself is a main package, built by
// `papi build` for GOOS=wasip1 GOARCH=wasm, that declares its API in init:
//
//	//go:build wasip1
//
//	package main
//
//	func init() {
//		api := guest.New("booths", "1.0.0")
//		guest.Handle(api, "Nearest", booths.Nearest)
//	}
//
//	func main() {}
//
// Declarations must happen in init: a reactor module never runs main. The
// spec a module declares is the one papi.New and papi.Handle would derive
// from the same types, so the module's API hash is the native API's.
package guest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/guestabi"
	"github.com/papi-dev/papi/internal/spec"
)

// API is the API a module serves. A module declares one, with New.
type API struct {
	name, version, description string

	mu      sync.Mutex
	methods map[string]*method
	builder *spec.Builder
	errs    []error
}

type method struct {
	name, description string
	request, response *spec.Schema
	call              func(ctx context.Context, payload []byte) ([]byte, error)
}

// Option configures New or Handle.
type Option interface{ apply(*string) }

// Description documents the API (in New) or a method (in Handle), as
// papi.Description does.
type Description string

func (d Description) apply(s *string) { *s = string(d) }

var (
	apiName    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,127}$`)
	methodName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,127}$`)
)

// New declares the module's API, as papi.New does. In a module, the last
// API declared is the one served.
func New(name, version string, opts ...Option) *API {
	a := &API{name: name, version: version, methods: map[string]*method{}, builder: spec.NewBuilder()}
	if !apiName.MatchString(name) {
		a.errs = append(a.errs, fmt.Errorf("guest.New: invalid API name %q", name))
	}
	for _, o := range opts {
		o.apply(&a.description)
	}
	register(a)
	return a
}

// Handle declares the method name of api, served by h, as papi.Handle does.
// An error is also kept by api, and a module whose API has one refuses to
// load, saying why.
func Handle[Req, Resp any](api *API, name string, h func(context.Context, Req) (Resp, error), opts ...Option) error {
	m := &method{name: name}
	for _, o := range opts {
		o.apply(&m.description)
	}
	err := func() error {
		if !methodName.MatchString(name) {
			return fmt.Errorf("invalid method name %q", name)
		}
		reqCheck, err := spec.ValidatorFor(reflect.TypeFor[Req]())
		if err != nil {
			return fmt.Errorf("request: %w", err)
		}
		respCheck, err := spec.ValidatorFor(reflect.TypeFor[Resp]())
		if err != nil {
			return fmt.Errorf("response: %w", err)
		}
		api.mu.Lock()
		defer api.mu.Unlock()
		if _, dup := api.methods[name]; dup {
			return fmt.Errorf("method %s declared twice", name)
		}
		// Into a copy, as papi.Handle does, so that a failed response
		// leaves no definition of the request behind.
		b := api.builder.Clone()
		if m.request, err = b.Schema(reflect.TypeFor[Req]()); err != nil {
			return fmt.Errorf("request: %w", err)
		}
		if m.response, err = b.Schema(reflect.TypeFor[Resp]()); err != nil {
			return fmt.Errorf("response: %w", err)
		}
		m.call = typedCall(name, h, reqCheck, respCheck)
		api.builder = b
		api.methods[name] = m
		return nil
	}()
	if err != nil {
		err = fmt.Errorf("guest.Handle %s: %w", name, err)
		api.mu.Lock()
		api.errs = append(api.errs, err)
		api.mu.Unlock()
	}
	return err
}

// Spec returns the deterministic CBOR of the spec api declares: the bytes
// whose hash is the API hash.
func (a *API) Spec() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := errors.Join(a.errs...); err != nil {
		return nil, err
	}
	s := &spec.Spec{Name: a.name, Version: a.version, Description: a.description, Defs: a.builder.Defs()}
	for _, m := range a.methods {
		s.Methods = append(s.Methods, spec.Method{Name: m.name, Description: m.description, Request: m.request, Response: m.response})
	}
	slices.SortFunc(s.Methods, func(x, y spec.Method) int { return strings.Compare(x.Name, y.Name) })
	return canon.MarshalDAG(s)
}

// requestDecoder bounds what a request may make the decoder do; the host
// has bounded its size already.
var requestDecoder = canon.NewDecoder(canon.Limits{MaxBytes: 1 << 30, MaxDepth: 64, MaxElements: 1 << 24})

func typedCall[Req, Resp any](name string, h func(context.Context, Req) (Resp, error), reqCheck, respCheck *spec.Validator) func(context.Context, []byte) ([]byte, error) {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var req Req
		if err := requestDecoder.Unmarshal(payload, &req); err != nil {
			return nil, reasonf(CodeInvalidArgument, guestabi.ReasonMalformed, "%s request: %v", name, err)
		}
		if err := reqCheck.Check(reflect.ValueOf(&req).Elem()); err != nil {
			return nil, reasonf(CodeInvalidArgument, guestabi.ReasonPrecondition, "%s request: %v", name, err)
		}
		resp, err := h(ctx, req)
		if err != nil {
			return nil, err
		}
		if err := respCheck.Check(reflect.ValueOf(&resp).Elem()); err != nil {
			return nil, reasonf(CodeInternal, guestabi.ReasonPostcondition, "%s response: %v", name, err)
		}
		out, err := canon.Marshal(resp)
		if err != nil {
			return nil, Errorf(CodeInternal, "%s response: %v", name, err)
		}
		return out, nil
	}
}

// invoke runs one call of api's method name: what the module's papi_call
// export does.
func (a *API) invoke(ctx context.Context, name string, payload []byte) (out []byte, err error) {
	a.mu.Lock()
	m, ok := a.methods[name]
	a.mu.Unlock()
	if !ok {
		return nil, reasonf(CodeUnimplemented, guestabi.ReasonUnknownMethod, "%s has no method %q", a.name, name)
	}
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, Errorf(CodeInternal, "%s: handler panicked: %v\n%s", name, p, debug.Stack())
		}
	}()
	return m.call(ctx, payload)
}
