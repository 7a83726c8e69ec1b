// Package swaggerui serves Swagger UI, from the swagger-ui-dist package of
// the npm registry at a pinned version, so that an API's OpenAPI document
// can be read and tried in a browser with nothing fetched from elsewhere.
//
// The bundle and its stylesheet are kept gzipped (about 480 KB instead of
// 1.9 MB) and sent as they are to browsers, which all accept gzip;
// update.sh refreshes them and checks the package's integrity.
package swaggerui

import (
	"bytes"
	"compress/gzip"
	"embed"
	"html/template"
	"io"
	"net/http"
	"strings"
)

// Version is the swagger-ui-dist version in assets/.
const Version = "5.35.0"

//go:embed assets/*.gz
var assets embed.FS

// initScript starts Swagger UI on the document beside the page. It is a
// file of its own rather than inline so that the page's Content Security
// Policy can forbid inline scripts.
const initScript = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
  });
});
`

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{.Assets}}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{{.Assets}}/swagger-ui-bundle.js"></script>
<script src="{{.Assets}}/init.js"></script>
</body>
</html>
`))

// ContentSecurityPolicy is the policy the page is served with: scripts
// only from the gateway, calls only to it. Swagger UI sets inline styles
// and shows data: images.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// WritePage answers with the page for the OpenAPI document at
// "openapi.json" beside the request's path, loading its scripts from
// assets, the path Assets is served under.
func WritePage(w http.ResponseWriter, title, assets string) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, struct{ Title, Assets string }{title, assets}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	w.Write(buf.Bytes())
}

// Assets serves Swagger UI's files, named by the last element of the
// request's path (swagger-ui-bundle.js, swagger-ui.css, init.js). The path
// should hold Version, so that the files can be cached for good.
func Assets(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	switch {
	case name == "init.js":
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		io.WriteString(w, initScript)
		return
	case strings.HasSuffix(name, ".js"):
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		h.Set("Content-Type", "text/css; charset=utf-8")
	default:
		http.NotFound(w, r)
		return
	}
	f, err := assets.Open("assets/" + name + ".gz")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	h.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		io.Copy(w, f)
		return
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	io.Copy(w, zr)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(q, " ", "") != "q=0"
		}
	}
	return false
}
