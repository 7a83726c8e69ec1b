package papi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gatewayTest serves b from one peer and starts a gateway on another,
// behind a real HTTP server on loopback.
func gatewayTest(t *testing.T, b *Bundle, opts ...GatewayOption) (*httptest.Server, *Peer) {
	t.Helper()
	server := newTestPeer(t)
	serveTest(t, server, b)
	gw := httptest.NewServer(Gateway(newTestPeer(t), append([]GatewayOption{GatewayProviders(Provider(server.Addrs()...)), GatewayStoreDir(t.TempDir())}, opts...)...))
	t.Cleanup(gw.Close)
	return gw, server
}

func post(t *testing.T, url, origin, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func TestGatewayCalls(t *testing.T) {
	b := boothsBundle(t)
	gw, _ := gatewayTest(t, b)
	base := gw.URL + "/api/" + b.Hash().String()
	tests := []struct {
		name, method, body string
		status             int
		code, has          string
	}{
		{"call", "Nearest", `{"lat":41.39,"lon":2.17,"limit":1}`, 200, "", `"bcn-001"`},
		{"by API hash", "Count", `{}`, 200, "", `"n":3`},
		{"condition broken", "Nearest", `{"lat":141,"lon":2.17,"limit":1}`, 400, "invalid_argument", "lat"},
		{"field missing", "Nearest", `{"lon":2.17,"limit":1}`, 400, "invalid_argument", "lat"},
		{"not JSON", "Nearest", `{"lat":`, 400, "invalid_argument", ""},
		{"two JSON values", "Nearest", `{"lat":41.39,"lon":2.17,"limit":1}{"lat":-90}`, 400, "invalid_argument", "after the JSON value"},
		{"unknown method", "Farthest", `{}`, 501, "unimplemented", "Farthest"},
		{"body too large", "Nearest", `{"lat":"` + strings.Repeat("x", 9<<20) + `"}`, 429, "resource_exhausted", "request body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := base + "/" + tt.method
			if tt.name == "by API hash" {
				url = gw.URL + "/api/" + b.APIHash().String() + "/" + tt.method
			}
			resp, out := post(t, url, "", tt.body)
			if resp.StatusCode != tt.status || !strings.Contains(string(out), tt.has) {
				t.Fatalf("%d %s, want %d with %q", resp.StatusCode, out, tt.status, tt.has)
			}
			if tt.code != "" {
				var e gatewayError
				if err := json.Unmarshal(out, &e); err != nil || e.Code != tt.code {
					t.Fatalf("error body %s, want code %s", out, tt.code)
				}
			}
		})
	}
	resp, out := post(t, gw.URL+"/api/"+blobBundle(t, 10, 3).Hash().String()+"/Count", "", `{}`)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(out), "no provider") {
		t.Fatalf("a hash no one serves: %d %s, want 503", resp.StatusCode, out)
	}
}

func TestGatewayOpenAPIAndData(t *testing.T) {
	b := blobBundle(t, 3*PieceSize+5, 8)
	gw, _ := gatewayTest(t, b)
	base := gw.URL + "/api/" + b.Hash().String()

	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string              `json:"openapi"`
		Servers []map[string]string `json:"servers"`
	}
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc.OpenAPI == "" || len(doc.Servers) != 1 || doc.Servers[0]["url"] != base {
		t.Fatalf("openapi.json: version %q, servers %v; want the gateway %s", doc.OpenAPI, doc.Servers, base)
	}

	blob, _ := b.Dataset("blob")
	want, _ := blob.Bytes()
	resp, err = http.Get(base + "/data/blob")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, want) || resp.Header.Get("ETag") == "" {
		t.Fatalf("dataset: %d, %d bytes (want %d), ETag %q", resp.StatusCode, len(got), len(want), resp.Header.Get("ETag"))
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/data/blob", nil)
	req.Header.Set("Range", "bytes=100-109")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, want[100:110]) {
		t.Fatalf("range: %d %x, want 206 %x", resp.StatusCode, got, want[100:110])
	}
	resp, _ = http.Get(base + "/data/nothing")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a dataset the bundle lacks: %d, want 404", resp.StatusCode)
	}
}

// TestGatewayRefusesACorruptProvider: a provider whose dataset does not
// hash to the bundle's makes the request fail; no byte of it is sent.
func TestGatewayRefusesACorruptProvider(t *testing.T) {
	b := blobBundle(t, 2*PieceSize, 9)
	bad := corruptProvider(t, b, "blob", PieceSize+3)
	gw := httptest.NewServer(Gateway(newTestPeer(t), GatewayProviders(Provider(bad.Addrs()...)), GatewayStoreDir(t.TempDir())))
	t.Cleanup(gw.Close)
	resp, err := http.Get(gw.URL + "/api/" + b.Hash().String() + "/data/blob")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 500 || len(out) > 4096 || !strings.Contains(string(out), "hash") {
		t.Fatalf("corrupt provider: %d, %d bytes: %.200s", resp.StatusCode, len(out), out)
	}
}

func TestGatewayGuardsAgainstOtherSites(t *testing.T) {
	b := boothsBundle(t)
	gw, _ := gatewayTest(t, b, AllowOrigin("https://app.example"))
	url := gw.URL + "/api/" + b.Hash().String() + "/Count"

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(`{}`))
	req.Host = "rebound.example:80" // a name of the attacker's that resolves to 127.0.0.1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a request for another host: %d, want 403", resp.StatusCode)
	}
	if resp, out := post(t, url, "https://evil.example", `{}`); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a call from a page of another origin: %d %s, want 403", resp.StatusCode, out)
	}
	resp, out := post(t, url, "https://app.example", `{}`)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("a call from an allowed origin: %d %s, ACAO %q", resp.StatusCode, out, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if resp, out := post(t, url, gw.URL, `{}`); resp.StatusCode != 200 {
		t.Errorf("a call from the gateway's own origin: %d %s", resp.StatusCode, out)
	}
}

// TestGatewaySwaggerUIPage: the page and Swagger UI's files, gzipped for
// clients that take gzip and plain for others, with a policy that keeps
// scripts to the gateway's own.
func TestGatewaySwaggerUIPage(t *testing.T) {
	b := boothsBundle(t)
	gw, _ := gatewayTest(t, b)
	get := func(path, encoding string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, gw.URL+path, nil)
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent gunzip
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp, out
	}

	resp, page := get("/api/"+b.Hash().String()+"/", "")
	if resp.StatusCode != 200 || !strings.Contains(string(page), swaggerAssets+"/swagger-ui-bundle.js") || !strings.Contains(string(page), "<title>booths 1.0.0") {
		t.Fatalf("page: %d %.300s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("page policy %q lets other scripts run", csp)
	}

	resp, zipped := get(swaggerAssets+"/swagger-ui-bundle.js", "gzip, deflate")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || len(zipped) < 100<<10 {
		t.Fatalf("bundle, gzip: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Encoding"), len(zipped))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	resp, plain := get(swaggerAssets+"/swagger-ui-bundle.js", "identity")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(plain, unzipped) || !bytes.Contains(plain, []byte("SwaggerUIBundle")) {
		t.Fatalf("bundle, plain: %d %q, %d bytes (gunzipped %d)", resp.StatusCode, resp.Header.Get("Content-Encoding"), len(plain), len(unzipped))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("bundle served as %q", ct)
	}
	for _, path := range []string{swaggerAssets + "/index.html", swaggerAssets + "/other.js", "/swagger-ui/0.0.1/swagger-ui.css"} {
		if resp, _ := get(path, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}

	other := boothsAPI(t)
	unserved, err := other.Bundle(Data("other", "not served"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, out := get("/api/"+unserved.Hash().String()+"/", ""); resp.StatusCode < 400 || !strings.Contains(string(out), `"code"`) {
		t.Errorf("page of a bundle nobody serves: %d %.200s", resp.StatusCode, out)
	}
}

// TestGatewayStreamsDatasets: a dataset the gateway has not cloned yet is
// streamed as it verifies, with ranges, HEAD and conditions as for one in
// its store; each case starts from an empty store.
func TestGatewayStreamsDatasets(t *testing.T) {
	const size = 3*PieceSize + 5
	b := blobBundle(t, size, 8)
	blob, _ := b.Dataset("blob")
	want, _ := blob.Bytes()
	etag := `"` + newHash(codecRaw, blob.digest).String() + `"`
	tests := []struct {
		name    string
		method  string
		headers map[string]string
		status  int
		body    []byte
		length  string
	}{
		{"whole", "GET", nil, 200, want, fmt.Sprint(size)},
		{"across pieces", "GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", PieceSize-3, 2*PieceSize+2)}, 206, want[PieceSize-3 : 2*PieceSize+3], fmt.Sprint(PieceSize + 6)},
		{"from an offset", "GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-", size-10)}, 206, want[size-10:], "10"},
		{"last bytes", "GET", map[string]string{"Range": "bytes=-7"}, 206, want[size-7:], "7"},
		{"past the end", "GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-", size)}, 416, nil, ""},
		{"several ranges", "GET", map[string]string{"Range": "bytes=0-1,5-6"}, 200, want, fmt.Sprint(size)},
		{"if-range of another", "GET", map[string]string{"Range": "bytes=0-1", "If-Range": `"other"`}, 200, want, fmt.Sprint(size)},
		{"not modified", "GET", map[string]string{"If-None-Match": etag}, 304, nil, ""},
		{"head", "HEAD", nil, 200, nil, fmt.Sprint(size)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, _ := gatewayTest(t, b)
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, gw.URL+"/api/"+b.Hash().String()+"/data/blob", nil)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, tt.status, got)
			}
			if tt.body != nil && !bytes.Equal(got, tt.body) {
				t.Errorf("%d bytes, want %d (the dataset's [%d:])", len(got), len(tt.body), bytes.Index(want, tt.body))
			}
			if tt.length != "" && resp.Header.Get("Content-Length") != tt.length {
				t.Errorf("Content-Length %q, want %s", resp.Header.Get("Content-Length"), tt.length)
			}
			if tt.status != 416 && resp.Header.Get("ETag") != etag {
				t.Errorf("ETag %q, want %s", resp.Header.Get("ETag"), etag)
			}
		})
	}
}

// TestGatewayCutsAStreamAtACorruptPiece: once bytes have been sent, a piece
// that does not verify ends the response early, short of its length, and
// every byte sent before is the dataset's own.
func TestGatewayCutsAStreamAtACorruptPiece(t *testing.T) {
	const size = 40 * PieceSize
	b := blobBundle(t, size, 10)
	bad := corruptProvider(t, b, "blob", 30*PieceSize+11)
	blob, _ := b.Dataset("blob")
	want, _ := blob.Bytes()
	// The clone fetches ahead of what is sent, so it may reach the corrupt
	// piece before the first byte is sent: then the answer is an error,
	// which is right too, and the test asks again from an empty store.
	var resp *http.Response
	var got []byte
	var err error
	for attempt := 1; ; attempt++ {
		gw := httptest.NewServer(Gateway(newTestPeer(t), GatewayProviders(Provider(bad.Addrs()...)), GatewayStoreDir(t.TempDir())))
		t.Cleanup(gw.Close)
		resp, err = http.Get(gw.URL + "/api/" + b.Hash().String() + "/data/blob")
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && bytes.Contains(got, []byte(fmt.Sprintf("piece at offset %d ", 30*PieceSize))) && attempt < 10 {
			t.Logf("attempt %d: the clone met the corrupt piece before the stream began: %s", attempt, got)
			continue
		}
		break
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != fmt.Sprint(size) {
		t.Fatalf("status %d, Content-Length %q: the stream should have begun: %.300s", resp.StatusCode, resp.Header.Get("Content-Length"), got)
	}
	if err == nil || len(got) >= size {
		t.Fatalf("read %d of %d bytes, error %v: want the body cut short", len(got), size, err)
	}
	if len(got) > 30*PieceSize || !bytes.Equal(got, want[:len(got)]) {
		t.Fatalf("the %d bytes sent are not the dataset's first ones, or reach the corrupt piece", len(got))
	}
	t.Logf("cut after %d of %d bytes: %v", len(got), size, err)
}

// TestGatewayLimits: a call that outlasts the gateway's time limit gets 504
// with its code, and a body over its size limit 429, before any handler.
func TestGatewayLimits(t *testing.T) {
	type waitReq struct {
		Millis int `cbor:"millis" json:"millis"`
	}
	api := New("slow", "1.0.0")
	var reached, canceled atomic.Int32
	if err := Handle(api, "Wait", func(ctx context.Context, r waitReq) (struct{}, error) {
		reached.Add(1)
		select {
		case <-time.After(time.Duration(r.Millis) * time.Millisecond):
		case <-ctx.Done():
			canceled.Add(1)
		}
		return struct{}{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	b, err := api.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	gw, _ := gatewayTest(t, b, GatewayLimits(64, 200*time.Millisecond))
	url := gw.URL + "/api/" + b.Hash().String() + "/Wait"
	tests := []struct {
		name, body string
		status     int
		code       string
		reaches    bool
	}{
		{"in time", `{"millis":1}`, 200, "", true},
		{"too slow", `{"millis":600000}`, 504, "deadline_exceeded", true},
		{"too large", `{"millis":1,"pad":"` + strings.Repeat("x", 100) + `"}`, 429, "resource_exhausted", false},
	}
	for _, tt := range tests {
		before := reached.Load()
		resp, out := post(t, url, "", tt.body)
		var e gatewayError
		json.Unmarshal(out, &e)
		if resp.StatusCode != tt.status || e.Code != tt.code {
			t.Errorf("%s: %d %s, want %d %s", tt.name, resp.StatusCode, out, tt.status, tt.code)
		}
		if got := reached.Load() > before; got != tt.reaches {
			t.Errorf("%s: handler reached %v, want %v", tt.name, got, tt.reaches)
		}
	}
	// The server's handler is told the caller gave up.
	deadline := time.Now().Add(10 * time.Second)
	for canceled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if canceled.Load() != 1 {
		t.Errorf("the handler of the call cut at the limit was not canceled")
	}
}

// TestGatewayByName: a name, its slash escaped, reaches the bundle its
// newest record points to, for calls, the document and datasets.
func TestGatewayByName(t *testing.T) {
	b := boothsBundle(t)
	gw, server := gatewayTest(t, b)
	r := publishTest(t, server, "stations", b.Hash())
	base := gw.URL + "/api/" + url.PathEscape(r.Name.String())
	if !strings.Contains(base, "%2F") {
		t.Fatalf("%s: the name's slash is not escaped", base)
	}
	if resp, out := post(t, base+"/Nearest", "", `{"lat":41.39,"lon":2.17,"limit":1}`); resp.StatusCode != 200 || !strings.Contains(string(out), "bcn-001") {
		t.Fatalf("a call by name: %d %s", resp.StatusCode, out)
	}
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Servers []map[string]string `json:"servers"`
	}
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if len(doc.Servers) != 1 || doc.Servers[0]["url"] != base {
		t.Errorf("servers of the document by name: %v, want %s", doc.Servers, base)
	}
	for _, path := range []string{"/data/stations", "/"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET by name %s: %d", path, resp.StatusCode)
		}
	}
}
