package papi

import (
	"context"
	"errors"
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
// derives it from Go types; it is never written by hand. Its encoding, in
// canonical CBOR, is what the API hash names.
//
// Spec is an alias, so go doc shows no fields; they are:
//
//	Name, Version, Description string
//	Methods []MethodSpec           // sorted by Name
//	Defs    map[string]*Schema     // named struct types, referred to as "#/$defs/Name"
type Spec = spec.Spec

// MethodSpec describes one method of a Spec. Its fields:
//
//	Name, Description string
//	Request, Response *Schema
type MethodSpec = spec.Method

// Schema describes a request, a response or a part of one, in the JSON
// Schema 2020-12 vocabulary, so that an OpenAPI 3.1 document can be made from
// a Spec with nothing lost. Its fields, all optional:
//
//	Ref                   string              // "#/$defs/Name"
//	Type                  string              // object, array, string, integer, number, boolean
//	Format                string              // int8 … uint64, float, double, date-time
//	ContentEncoding       string              // "base64" for bytes
//	Nullable              bool                // a pointer, or a time
//	Description           string
//	Properties            map[string]*Schema  // an object's fields, by wire name
//	Required              []string            // the fields that must be present
//	AdditionalProperties  *Schema             // a map's values
//	Items                 *Schema             // an array's elements
//	Minimum, Maximum      *float64
//	MinLength, MaxLength  *uint64             // code points of text, bytes of bytes
//	Pattern               string              // RE2, unanchored
//	Enum                  []any
//	MinItems, MaxItems    *uint64
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
	errs    []error // every declaration error, in order: Spec and Bundle report them all

	parent  Parent // Extends
	newLine bool   // NewLine: the parent's callers may break
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
		a.errs = append(a.errs, fmt.Errorf("invalid API name %q", name))
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
// method is derived from Req and Resp: field names, types, required fields
// and the conditions of `papi` struct tags. An unsupported type (a channel,
// a function, an interface, a map with other than string keys) is refused
// here, with an error naming the field.
//
// Req and Resp may be of any type the spec can describe, not only structs:
// a string, a number, a slice or a map is sent as itself, and a pointer
// makes the value nullable. Conditions live in struct field tags, so only
// the fields of structs carry them, and only a struct can later gain an
// optional field without changing what existing callers send: prefer
// structs for anything that may grow.
//
// The error concerns this declaration only. It is also kept by api, which
// then refuses to make a Spec or a Bundle and reports every declaration
// error, joined, so a program that ignores one still fails loudly.
//
// A request that breaks a condition never reaches h: the caller gets
// ErrPrecondition. A response that breaks one is not sent: the caller gets
// ErrPostcondition.
func Handle[Req, Resp any](api *API, name string, h func(context.Context, Req) (Resp, error), opts ...MethodOption) error {
	m := &method{name: name, reqType: reflect.TypeFor[Req](), respType: reflect.TypeFor[Resp]()}
	for _, o := range opts {
		o.applyMethod(m)
	}
	return api.declare(m, func() error {
		reqCheck, err := spec.ValidatorFor(m.reqType)
		if err != nil {
			return fmt.Errorf("request: %w", err)
		}
		respCheck, err := spec.ValidatorFor(m.respType)
		if err != nil {
			return fmt.Errorf("response: %w", err)
		}
		m.call = typedCall(name, h, reqCheck, respCheck)
		return nil
	})
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

// declare adds m to a once its name and types check and compile has made
// its call; a failure is kept and returned, and leaves a as it was.
func (a *API) declare(m *method, compile func() error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.add(m, compile)
	if err != nil {
		err = fmt.Errorf("method %s: %w", m.name, err)
		a.errs = append(a.errs, err)
	}
	return err
}

func (a *API) add(m *method, compile func() error) error {
	if !methodName.MatchString(m.name) {
		return errors.New("invalid name: a method name is 1 to 128 letters, digits and _, starting with a letter")
	}
	if _, dup := a.methods[m.name]; dup {
		return errors.New("declared twice")
	}
	// Into a copy, so that a response that fails does not leave the
	// request's definitions behind to clash with a later method's.
	b := a.builder.Clone()
	var err error
	if m.request, err = b.Schema(m.reqType); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	if m.response, err = b.Schema(m.respType); err != nil {
		return fmt.Errorf("response: %w", err)
	}
	if err := compile(); err != nil {
		return err
	}
	a.builder = b
	a.methods[m.name] = m
	return nil
}

// Err returns every error made declaring api, joined; nil if there was none.
func (a *API) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return errors.Join(a.errs...)
}

// Spec returns the spec derived from api's declarations.
func (a *API) Spec() (*Spec, error) {
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
	sb, err := canon.MarshalDAG(s)
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
	parent, lineage, err := a.lineageOf(s, hashBytes(codecCBOR, sb))
	if err != nil {
		return nil, err
	}
	return newBundle(s, sb, datasets, parent, a, nil, lineage)
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
