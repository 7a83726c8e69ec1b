package papi

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/spec"
)

// Spec is the language-neutral description of an API: its methods, their
// request and response schemas with their conditions, and their docs. papi
// derives it from Go types; it is never written by hand.
type Spec = spec.Spec

// MethodSpec describes one method of a Spec.
type MethodSpec = spec.Method

// Schema describes a request, a response or a part of one, in the JSON
// Schema 2020-12 vocabulary, so that an OpenAPI 3.1 document can be made from
// a Spec with nothing lost.
type Schema = spec.Schema

// API is a named, versioned set of methods with typed handlers. Declare one
// with New and Handle, then make a Bundle of it to serve.
//
// An API is safe for concurrent use; declare its methods before serving it.
type API struct {
	name, version, description string

	mu      sync.Mutex
	methods map[string]*method
	builder *spec.Builder
	err     error // the first declaration error: every later use reports it
}

// method is one declared method with what it needs to run a call: the
// schemas and compiled validators of its Go types, and the handler behind a
// bytes-in, bytes-out function.
type method struct {
	name, description string
	reqType, respType reflect.Type
	request, response *spec.Schema
	call              func(ctx context.Context, payload []byte) ([]byte, error)
}

// APIOption configures an API in New.
type APIOption interface{ applyAPI(*API) }

// MethodOption configures a method in Handle.
type MethodOption interface{ applyMethod(*method) }

// Description documents an API (as an option of New) or a method (as an
// option of Handle); it goes into the spec and the OpenAPI document.
type Description string

func (d Description) applyAPI(a *API)       { a.description = string(d) }
func (d Description) applyMethod(m *method) { m.description = string(d) }

var (
	apiName    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,127}$`)
	methodName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,127}$`)
)

// New declares an API. The name is an identifier ([A-Za-z][A-Za-z0-9_.-]*);
// the version is free text, semantic versioning recommended. Both are part
// of the spec and so of the API hash.
func New(name, version string, opts ...APIOption) *API {
	a := &API{name: name, version: version, methods: map[string]*method{}, builder: spec.NewBuilder()}
	if !apiName.MatchString(name) {
		a.err = fmt.Errorf("papi.New: invalid API name %q", name)
	}
	for _, o := range opts {
		o.applyAPI(a)
	}
	return a
}

// Name returns the API's name.
func (a *API) Name() string { return a.name }

// Version returns the API's version.
func (a *API) Version() string { return a.version }

// Handle declares the method name of api, served by h. The spec of the
// method is derived from Req and Resp, which must be structs (or types that
// reduce to them) of supported field types; conditions come from `papi`
// struct tags. An unsupported type is refused here, with an error naming
// the field. The error is also kept by api and reported by every later
// Spec or Bundle call, so a program that ignores it still fails loudly.
//
// A request that breaks a condition never reaches h: the caller gets
// ErrPrecondition. A response that breaks one is not sent: the caller gets
// ErrPostcondition.
func Handle[Req, Resp any](api *API, name string, h func(context.Context, Req) (Resp, error), opts ...MethodOption) error {
	m := &method{name: name, reqType: reflect.TypeFor[Req](), respType: reflect.TypeFor[Resp]()}
	for _, o := range opts {
		o.applyMethod(m)
	}
	err := api.declare(m)
	if err != nil {
		return err
	}
	reqCheck, err := spec.ValidatorFor(m.reqType)
	if err == nil {
		var respCheck *spec.Validator
		if respCheck, err = spec.ValidatorFor(m.respType); err == nil {
			m.call = typedCall(name, h, reqCheck, respCheck)
		}
	}
	if err != nil {
		return api.fail(fmt.Errorf("papi.Handle %s: %w", name, err))
	}
	return nil
}

// requestDecoder decodes call payloads; the transport has already bounded
// their size, so the limits here guard nesting and element counts.
var requestDecoder = canon.NewDecoder(canon.Limits{MaxBytes: 1 << 30, MaxDepth: 64, MaxElements: 1 << 24})

func typedCall[Req, Resp any](name string, h func(context.Context, Req) (Resp, error), reqCheck, respCheck *spec.Validator) func(context.Context, []byte) ([]byte, error) {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var req Req
		if err := requestDecoder.Unmarshal(payload, &req); err != nil {
			return nil, errorf(ErrMalformed, "%s request: %w", name, err)
		}
		if err := reqCheck.Check(reflect.ValueOf(&req).Elem()); err != nil {
			return nil, errorf(ErrPrecondition, "%s request: %w", name, err)
		}
		resp, err := h(ctx, req)
		if err != nil {
			return nil, err
		}
		if err := respCheck.Check(reflect.ValueOf(&resp).Elem()); err != nil {
			return nil, errorf(ErrPostcondition, "%s response: %w", name, err)
		}
		out, err := canon.Marshal(resp)
		if err != nil {
			return nil, Errorf(CodeInternal, "%s response: %w", name, err)
		}
		return out, nil
	}
}

func (a *API) declare(m *method) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	fail := func(err error) error {
		a.err = fmt.Errorf("papi.Handle %s: %w", m.name, err)
		return a.err
	}
	if !methodName.MatchString(m.name) {
		return fail(fmt.Errorf("invalid method name %q", m.name))
	}
	if _, dup := a.methods[m.name]; dup {
		return fail(fmt.Errorf("method %s declared twice", m.name))
	}
	var err error
	if m.request, err = a.builder.Schema(m.reqType); err != nil {
		return fail(fmt.Errorf("request: %w", err))
	}
	if m.response, err = a.builder.Schema(m.respType); err != nil {
		return fail(fmt.Errorf("response: %w", err))
	}
	a.methods[m.name] = m
	return nil
}

func (a *API) fail(err error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
	}
	return a.err
}

// Err returns the first error made declaring api, if any.
func (a *API) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Spec returns the spec derived from api's declarations.
func (a *API) Spec() (*Spec, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return nil, a.err
	}
	s := &spec.Spec{Name: a.name, Version: a.version, Description: a.description, Defs: a.builder.Defs()}
	for _, m := range a.methods {
		s.Methods = append(s.Methods, spec.Method{Name: m.name, Description: m.description, Request: m.request, Response: m.response})
	}
	slices.SortFunc(s.Methods, func(x, y spec.Method) int { return strings.Compare(x.Name, y.Name) })
	return s, nil
}

// Hash returns the API hash: the content address of api's spec.
func (a *API) Hash() (Hash, error) {
	_, sb, err := a.encodedSpec()
	if err != nil {
		return Hash{}, err
	}
	return hashBytes(codecCBOR, sb), nil
}

func (a *API) encodedSpec() (*Spec, []byte, error) {
	s, err := a.Spec()
	if err != nil {
		return nil, nil, err
	}
	sb, err := canon.Marshal(s)
	if err != nil {
		return nil, nil, fmt.Errorf("encode spec: %w", err)
	}
	return s, sb, nil
}

// Bundle makes a bundle of api's spec and the given datasets, with api's
// handlers attached for serving.
func (a *API) Bundle(datasets ...*Dataset) (*Bundle, error) {
	s, sb, err := a.encodedSpec()
	if err != nil {
		return nil, err
	}
	return newBundle(s, sb, datasets, Hash{}, a, nil)
}

func (a *API) lookup(name string) (*method, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.methods[name]
	return m, ok
}

// invoke runs one call of a method of b's API in this process: it is what
// the server runs for every call that arrives, and what tests and examples
// run without a network.
func (a *API) invoke(ctx context.Context, b *Bundle, name string, payload []byte, log *slog.Logger) (out []byte, err error) {
	m, ok := a.lookup(name)
	if !ok {
		return nil, errorf(ErrUnknownMethod, "%s has no method %q", a.name, name)
	}
	defer func() {
		if p := recover(); p != nil {
			log.ErrorContext(ctx, "papi: handler panicked", "method", name, "panic", p, "stack", string(debug.Stack()))
			out, err = nil, Errorf(CodeInternal, "%s: handler panicked", name)
		}
	}()
	return m.call(withBundle(ctx, b), payload)
}
