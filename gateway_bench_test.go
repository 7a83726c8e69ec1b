package papi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// BenchmarkGatewayCall: a JSON call through the gateway over HTTP on
// loopback, beside the same call with CallJSON in Go, in the same run, and
// the floor of net/http itself: the same POST to a handler that echoes it.
// The gateway's own cost is what it takes beyond CallJSON plus the floor.
//
//	go test -run '^$' -bench GatewayCall -count 3 .
func BenchmarkGatewayCall(b *testing.B) {
	bundle := boothsBundle(b)
	server := newTestPeer(b)
	serveTest(b, server, bundle)
	body := `{"lat":41.39,"lon":2.17,"limit":2}`
	b.Run("CallJSON", func(b *testing.B) {
		c := dialTest(b, newTestPeer(b), bundle.Hash(), server)
		for b.Loop() {
			if _, err := c.CallJSON(b.Context(), "Nearest", []byte(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http-floor", func(b *testing.B) {
		echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			in, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Write(in)
		}))
		defer echo.Close()
		for b.Loop() {
			resp, err := http.Post(echo.URL, "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("gateway", func(b *testing.B) {
		gw := httptest.NewServer(Gateway(newTestPeer(b), GatewayProviders(Provider(server.Addrs()...))))
		defer gw.Close()
		url := gw.URL + "/api/" + bundle.Hash().String() + "/Nearest"
		for b.Loop() {
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	})
}

// BenchmarkGatewayData256MiB: a 256 MiB dataset fetched through the
// gateway by a fresh gateway each time (it clones, verifying, then
// streams), beside Clone of the same bundle, in the same run.
//
//	go test -run '^$' -bench GatewayData -benchtime 3x -count 3 .
func BenchmarkGatewayData256MiB(b *testing.B) {
	const size = 256 << 20
	bundle := benchBlobBundle(b, benchBlobFile(b, size))
	server := newTestPeer(b)
	serveTest(b, server, bundle)
	b.Run("clone", func(b *testing.B) {
		b.SetBytes(size)
		client := newTestPeer(b)
		for b.Loop() {
			cloneOnce(b, client, bundle.Hash(), server)
		}
	})
	b.Run("gateway", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			dir, err := os.MkdirTemp(b.TempDir(), "store")
			if err != nil {
				b.Fatal(err)
			}
			gw := httptest.NewServer(Gateway(newTestPeer(b), GatewayProviders(Provider(server.Addrs()...)), GatewayStoreDir(dir)))
			resp, err := http.Get(gw.URL + "/api/" + bundle.Hash().String() + "/data/blob")
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			gw.Close()
			os.RemoveAll(dir)
			if n != size {
				b.Fatalf("got %d bytes", n)
			}
		}
	})
}
