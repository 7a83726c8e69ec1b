package papi

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// requireBrowser is set (to any value) where the browser tests must run,
// as in CI, so that a missing Chromium fails them instead of skipping.
const requireBrowser = "PAPI_REQUIRE_BROWSER"

// newBrowser starts a headless Chromium for the test and returns a context
// to drive it with.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv(requireBrowser) != "" {
			t.Fatalf("no Chromium on PATH, and %s is set", requireBrowser)
		}
		t.Skip("no Chromium on PATH: install Debian's chromium package (.ci/run does) to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 1600),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// TestGatewaySwaggerUIInBrowser loads the gateway's Swagger UI page in
// headless Chromium, fills a request in, presses Execute and reads the
// answer of a real call from the page; then a request that breaks a
// condition, whose error code the page shows.
func TestGatewaySwaggerUIInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	b := boothsBundle(t)
	gw, _ := gatewayTest(t, b)
	page := gw.URL + "/api/" + b.Hash().String() + "/"

	const op = "#operations-default-Nearest"
	body := chromedp.CSS(op + " textarea.body-param__text")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS(op+" .opblock-summary")),
		chromedp.Click(chromedp.CSS(op+" .opblock-summary")),
		chromedp.WaitVisible(body),
	); err != nil {
		fatalWithScreenshot(t, ctx, "open %s: %v", page, err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "booths") {
		t.Errorf("page title %q does not name the API", title)
	}

	tests := []struct {
		name, body, status, has string
	}{
		{"call", `{"lat":41.39,"lon":2.17,"limit":1}`, "200", `"bcn-001"`},
		{"condition broken", `{"lat":141,"lon":2.17,"limit":1}`, "400", `"invalid_argument"`},
	}
	status := chromedp.CSS(op + " .live-responses-table tbody .response-col_status")
	for _, tt := range tests {
		if err := chromedp.Do(ctx,
			typeInto(body, tt.body),
			chromedp.Click(chromedp.CSS(op+" button.execute")),
			chromedp.WaitVisible(status),
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => {
					const s = document.querySelector("`+string(status)+`");
					return s && s.textContent.trim().startsWith("`+tt.status+`");
				})()`, chromedp.WithPollingTimeout(30*time.Second)))
				return err
			}),
		); err != nil {
			fatalWithScreenshot(t, ctx, "%s: %v", tt.name, err)
		}
		got, err := chromedp.Run(ctx, chromedp.Text(status))
		if err != nil {
			t.Fatal(err)
		}
		answer, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(op+" .live-responses-table .response-col_description pre")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(strings.TrimSpace(got), tt.status) || !strings.Contains(answer, tt.has) {
			t.Errorf("%s: page shows status %q and answer %q, want %s with %s", tt.name, got, answer, tt.status, tt.has)
		}
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.ArtifactDir(), "swagger-ui.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", file, len(shot))
}

// fatalWithScreenshot ends the test with a picture of the page as it was,
// to see what the browser showed.
func fatalWithScreenshot(t *testing.T, ctx context.Context, format string, args ...any) {
	t.Helper()
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		file := filepath.Join(t.ArtifactDir(), "failure.png")
		if os.WriteFile(file, shot, 0o644) == nil {
			t.Logf("screenshot of the page: %s", file)
		}
	}
	t.Fatalf(format, args...)
}

// typeInto replaces the text of a textarea the way typing would, so that
// the page's React code sees the change (setting the value alone bypasses
// it).
func typeInto(sel chromedp.CSS, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
			const ta = document.querySelector(%q);
			const set = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
			set.call(ta, %q);
			ta.dispatchEvent(new Event("input", { bubbles: true }));
			return true;
		})()`, string(sel), text)))
		return err
	})
}
