package papi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/papi-dev/papi/internal/swaggerui"
)

// GatewayOption configures Gateway.
type GatewayOption interface{ applyToGateway(*gatewayConfig) }

type gatewayConfig struct {
	hosts     []string // Host values accepted besides loopback ones
	origins   []string // origins allowed to call; "*" for any
	dial      []DialOption
	clone     []CloneOption
	maxBody   int64
	callLimit time.Duration
}

type gatewayOptionFunc func(*gatewayConfig)

func (f gatewayOptionFunc) applyToGateway(c *gatewayConfig) { f(c) }

// GatewayHosts adds host names (without port) that requests may address
// the gateway by, besides localhost and loopback addresses. Requests for
// any other Host are refused, so that a web page cannot reach the gateway
// through a name of its own that resolves to 127.0.0.1 (DNS rebinding).
func GatewayHosts(hosts ...string) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.hosts = append(c.hosts, hosts...) })
}

// AllowOrigin lets web pages of these origins ("https://example.com", or
// "*" for any) call methods through the gateway from a browser. Without it
// a request that carries another origin than the gateway's own is refused,
// so that a page the user visits cannot call APIs on their behalf.
func AllowOrigin(origins ...string) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.origins = append(c.origins, origins...) })
}

// GatewayProviders are the options the gateway dials and clones with, such
// as Provider.
func GatewayProviders(opts ...ProviderOption) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) {
		for _, o := range opts {
			c.dial = append(c.dial, o)
			c.clone = append(c.clone, o)
		}
	})
}

// GatewayStoreDir sets where the gateway keeps the datasets it fetched;
// the default is the default store.
func GatewayStoreDir(dir string) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) { c.clone = append(c.clone, StoreDir(dir)) })
}

// GatewayLimits bounds each HTTP call: its JSON body to maxBody bytes
// (default 8 MiB; a larger one gets 429) and its time to timeout (default a
// minute; a call still running then gets 504). Finding and verifying the
// target's provider, once per target, has 30 s of its own. Zero keeps a
// default.
func GatewayLimits(maxBody int64, timeout time.Duration) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) {
		if maxBody > 0 {
			c.maxBody = maxBody
		}
		if timeout > 0 {
			c.callLimit = timeout
		}
	})
}

// Gateway returns an http.Handler that reaches papi APIs through p, for any
// HTTP client:
//
//	POST /api/{target}/{method}      a call: JSON body in, JSON out
//	GET  /api/{target}/openapi.json  the API's OpenAPI document, servers set to the gateway
//	GET  /api/{target}/data/{name}   a dataset, streamed as it verifies, with Range and ETag
//	GET  /api/{target}/              a Swagger UI page, where "Try it out" calls the API
//
// target is a bundle hash, an API hash, or a name with its slash escaped
// (<peer ID>%2F<label>). Every call is dialed and verified as Dial does,
// and papi's checks of the request apply. A failed call answers the HTTP
// status of its code (invalid argument 400, permission denied 403, not
// found 404, resource exhausted 429, unimplemented 501, unavailable 503,
// deadline 504, others 500) with {"code": …, "message": …}.
func Gateway(p *Peer, opts ...GatewayOption) http.Handler {
	c := gatewayConfig{maxBody: 8 << 20, callLimit: time.Minute}
	for _, o := range opts {
		o.applyToGateway(&c)
	}
	g := &gateway{p: p, c: c, clients: map[string]*Client{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{target}/{method}", g.call)
	mux.HandleFunc("GET /api/{target}/openapi.json", g.openapi)
	mux.HandleFunc("GET /api/{target}/data/{name}", g.data)
	mux.HandleFunc("GET /api/{target}/{$}", g.page)
	mux.HandleFunc("GET "+swaggerAssets+"/{file}", swaggerui.Assets)
	return g.guard(mux)
}

// swaggerAssets is where the gateway serves Swagger UI's files; the
// version in the path lets browsers keep them.
const swaggerAssets = "/swagger-ui/" + swaggerui.Version

// maxGatewayClients bounds the verified clients the gateway keeps.
const maxGatewayClients = 256

type gateway struct {
	p *Peer
	c gatewayConfig

	mu      sync.Mutex
	clients map[string]*Client // by target, verified
}

// guard refuses requests addressed by a Host the gateway does not answer
// to, and writes from origins it does not allow.
func (g *gateway) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.hostAllowed(r.Host) {
			writeGatewayError(w, http.StatusForbidden, Errorf(CodePermissionDenied, "host %q is not this gateway's", r.Host))
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			allowed := g.originAllowed(origin)
			if allowed {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Add("Vary", "Origin")
			}
			if r.Method == http.MethodOptions && allowed {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
				w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Range")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			if r.Method != http.MethodGet && r.Method != http.MethodHead && !allowed && !sameOrigin(origin, r.Host) {
				writeGatewayError(w, http.StatusForbidden, Errorf(CodePermissionDenied, "origin %s may not call through this gateway (allow it with AllowOrigin)", origin))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (g *gateway) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, h := range g.c.hosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

func (g *gateway) originAllowed(origin string) bool {
	for _, o := range g.c.origins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether origin is the gateway itself, as when its own
// pages call it.
func sameOrigin(origin, host string) bool {
	_, rest, ok := strings.Cut(origin, "://")
	return ok && strings.EqualFold(rest, host)
}

// gatewayDialLimit bounds finding and verifying a target's provider, apart
// from the time limit of the call that follows.
const gatewayDialLimit = 30 * time.Second

// client dials target once and keeps the verified client for later calls.
func (g *gateway) client(ctx context.Context, target string) (*Client, error) {
	g.mu.Lock()
	c, ok := g.clients[target]
	g.mu.Unlock()
	if ok {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, gatewayDialLimit)
	defer cancel()
	var err error
	if h, herr := ParseHash(target); herr == nil {
		c, err = g.p.Dial(ctx, h, g.c.dial...)
	} else if n, nerr := ParseName(target); nerr == nil {
		c, err = g.p.DialName(ctx, n, g.c.dial...)
	} else {
		return nil, errorf(ErrMalformed, "%q is neither a hash nor a name", target)
	}
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if len(g.clients) >= maxGatewayClients {
		clear(g.clients) // dialing again is cheap next to a map without bound
	}
	g.clients[target] = c
	g.mu.Unlock()
	return c, nil
}

// forget drops a client whose provider failed, so the next call dials again.
func (g *gateway) forget(target string, c *Client) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.clients[target] == c {
		delete(g.clients, target)
	}
}

func (g *gateway) call(w http.ResponseWriter, r *http.Request) {
	target, method := r.PathValue("target"), r.PathValue("method")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.c.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = errorf(ErrTooLarge, "request body over %d bytes", g.c.maxBody)
		}
		writeGatewayError(w, 0, err)
		return
	}
	c, err := g.client(r.Context(), target)
	if err != nil {
		writeGatewayError(w, 0, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.c.callLimit)
	defer cancel()
	out, err := c.CallJSON(ctx, method, body)
	if err != nil {
		if CodeOf(err) == CodeUnavailable {
			g.forget(target, c)
		}
		writeGatewayError(w, 0, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// page answers with Swagger UI for the target's API, once the target has
// been dialed and verified, so that a wrong hash gets an error rather than
// an empty page.
func (g *gateway) page(w http.ResponseWriter, r *http.Request) {
	c, err := g.client(r.Context(), r.PathValue("target"))
	if err != nil {
		writeGatewayError(w, 0, err)
		return
	}
	s := c.Spec()
	swaggerui.WritePage(w, s.Name+" "+s.Version+" · papi", swaggerAssets)
}

func (g *gateway) openapi(w http.ResponseWriter, r *http.Request) {
	c, err := g.client(r.Context(), r.PathValue("target"))
	if err != nil {
		writeGatewayError(w, 0, err)
		return
	}
	raw, err := OpenAPI(c)
	if err != nil {
		writeGatewayError(w, 0, err)
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		writeGatewayError(w, 0, err)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	doc["servers"] = []map[string]string{{"url": fmt.Sprintf("%s://%s/api/%s", scheme, r.Host, url.PathEscape(r.PathValue("target")))}}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}

// data serves a dataset. One the store has is served from there; any other
// is streamed as a clone fetches it, each piece sent once it has verified
// against the hash. A provider that lies or vanishes after the first byte
// has been sent cuts the response short, so that no client takes a
// truncated or altered dataset for the real one.
func (g *gateway) data(w http.ResponseWriter, r *http.Request) {
	target, name := r.PathValue("target"), r.PathValue("name")
	c, err := g.client(r.Context(), target)
	if err != nil {
		writeGatewayError(w, 0, err)
		return
	}
	var entry *manifestEntry
	for i, e := range c.manifest.Datasets {
		if e.Name == name {
			entry = &c.manifest.Datasets[i]
		}
	}
	if entry == nil {
		writeGatewayError(w, 0, Errorf(CodeNotFound, "bundle %s has no dataset %q", c.Hash(), name))
		return
	}
	digest, size := [32]byte(entry.Hash), int64(entry.Size)
	etag := `"` + newHash(codecRaw, digest).String() + `"`
	h := w.Header()
	h.Set("Content-Type", "application/cbor")
	h.Set("ETag", etag)
	h.Set("Accept-Ranges", "bytes")
	// The ETag is the bytes' hash, so any copy that carries it is right.
	if m := r.Header.Get("If-None-Match"); m == "*" || strings.Contains(m, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}

	from, to, status := byteRange(r, size, etag)
	if status == http.StatusRequestedRangeNotSatisfiable {
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		writeGatewayError(w, status, Errorf(CodeOutOfRange, "range %s is outside the dataset's %d bytes", r.Header.Get("Range"), size))
		return
	}
	if status == http.StatusPartialContent {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to-1, size))
	}
	if r.Method == http.MethodHead { // the verified manifest has all a HEAD needs
		h.Set("Content-Length", strconv.FormatInt(to-from, 10))
		w.WriteHeader(status)
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	watch := newDatasetWatch(digest, size)
	cloned := make(chan *Bundle, 1)
	cloneDone := make(chan struct{})
	sentAll := false
	// The handler ends with its clone: one that has sent every byte lets
	// the clone finish putting the bundle in the store, so the next request
	// is served from there; any other stops it. Either way nothing writes
	// to the store once the handler has returned.
	defer func() {
		if sentAll {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
		} else {
			cancel()
		}
		<-cloneDone
		cancel()
	}()
	go func() {
		defer close(cloneDone)
		opts := append([]CloneOption{Provider(g.providerAddrs(c)...)}, g.c.clone...)
		b, err := g.p.Clone(ctx, c.Hash(), append(opts, cloneOptionFunc(func(cc *cloneConfig) error { cc.watch = watch; return nil }))...)
		watch.finish(err)
		cloned <- b
	}()
	if err := watch.started(ctx); err != nil {
		if errors.Is(err, errDatasetStored) {
			g.serveStored(w, r, <-cloned, name)
			return
		}
		writeGatewayError(w, 0, err)
		return
	}

	buf := make([]byte, 1<<20)
	var stored io.ReaderAt
	sent := false // the status is sent with the first verified bytes
	for off := from; off < to || !sent; {
		var n int
		var err error
		switch {
		case off == to: // nothing to send: an empty dataset
		case stored != nil:
			n, err = stored.ReadAt(buf[:min(int64(len(buf)), to-off)], off)
			if err == io.EOF && off+int64(n) == size {
				err = nil
			}
		default:
			n, err = watch.readVerified(ctx, buf[:min(int64(len(buf)), to-off)], off)
		}
		if errors.Is(err, errDatasetStored) {
			b := <-cloned
			d, ok := b.Dataset(name)
			if !ok {
				err = Errorf(CodeInternal, "cloned bundle %s lost dataset %q", b.Hash(), name)
			} else if ra, closer, oerr := d.readerAt(); oerr != nil {
				err = oerr
			} else {
				defer closer.Close()
				stored, err = ra, nil
				continue
			}
		}
		if err != nil && !sent {
			writeGatewayError(w, 0, err)
			return
		}
		if err != nil {
			g.p.log.WarnContext(r.Context(), "papi: gateway: dataset cut short", "bundle", c.Hash().String(), "dataset", name, "sent", off-from, "err", err)
			panic(http.ErrAbortHandler) // the client sees the body end early
		}
		if !sent {
			h.Set("Content-Length", strconv.FormatInt(to-from, 10))
			w.WriteHeader(status)
			sent = true
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return // the client went away
		}
		off += int64(n)
	}
	sentAll = true
}

// serveStored answers from a bundle in the store, with everything
// http.ServeContent does for ranges and conditions.
func (g *gateway) serveStored(w http.ResponseWriter, r *http.Request, b *Bundle, name string) {
	d, ok := b.Dataset(name)
	if !ok {
		writeGatewayError(w, 0, Errorf(CodeNotFound, "bundle %s has no dataset %q", b.Hash(), name))
		return
	}
	ra, closer, err := d.readerAt()
	if err != nil {
		writeGatewayError(w, 0, err)
		return
	}
	defer closer.Close()
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(ra, 0, d.size))
}

// byteRange is the part of a dataset of size bytes a request asks for:
// [from, to) and 206, the whole and 200, or 416. Like http.ServeContent it
// takes one range; a request for several gets the whole dataset, which
// RFC 9110 allows.
func byteRange(r *http.Request, size int64, etag string) (from, to int64, status int) {
	spec, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, size, http.StatusOK
	}
	if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
		return 0, size, http.StatusOK
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, http.StatusOK
	}
	if first == "" { // the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, size, http.StatusOK
		}
		if n == 0 {
			return 0, 0, http.StatusRequestedRangeNotSatisfiable
		}
		return max(0, size-n), size, http.StatusPartialContent
	}
	from, err := strconv.ParseInt(first, 10, 64)
	if err != nil || from < 0 {
		return 0, size, http.StatusOK
	}
	if from >= size {
		return 0, 0, http.StatusRequestedRangeNotSatisfiable
	}
	to = size
	if last != "" {
		l, err := strconv.ParseInt(last, 10, 64)
		if err != nil || l < from {
			return 0, size, http.StatusOK
		}
		to = min(l+1, size)
	}
	return from, to, http.StatusPartialContent
}

// providerAddrs names the peer that answered the dial, so that the clone
// asks it first.
func (g *gateway) providerAddrs(c *Client) []string {
	var out []string
	for _, a := range g.p.host.Libp2p().Peerstore().Addrs(c.RemotePeer()) {
		out = append(out, a.String()+"/p2p/"+c.RemotePeer().String())
	}
	return out
}

// httpStatus is the HTTP status of a papi code.
func httpStatus(c Code) int {
	switch c {
	case CodeInvalidArgument, CodeFailedPrecondition, CodeOutOfRange:
		return http.StatusBadRequest
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodePermissionDenied:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeAlreadyExists, CodeAborted:
		return http.StatusConflict
	case CodeResourceExhausted:
		return http.StatusTooManyRequests
	case CodeCanceled:
		return 499 // client closed request, as nginx and gRPC gateways use
	case CodeUnimplemented:
		return http.StatusNotImplemented
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case CodeDataLoss:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// gatewayError is the JSON body of a failed request.
type gatewayError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeGatewayError(w http.ResponseWriter, status int, err error) {
	code := CodeOf(err)
	if status == 0 {
		status = httpStatus(code)
	}
	msg := err.Error()
	var e *Error
	if errors.As(err, &e) {
		msg = e.Message()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(gatewayError{Code: code.String(), Message: msg})
}
