package admin_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// browserOptions returns the options that start Chromium (exe) for a
// test, headless, followed by extra: its profile and its temporary files
// in directories of the test's own, removed when the test ends. Chromium
// puts its profile's singleton socket in a directory it makes under
// TMPDIR (org.chromium.Chromium.XXXXXX, holding SingletonSocket and
// SingletonCookie), which outlives the browser when it is killed, as
// chromedp ends it: every run of a browser test used to leave one in
// /tmp.
func browserOptions(t *testing.T, exe string, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // as root in a container
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("TMPDIR="+chromiumTemp(t)),
	)
	return append(opts, extra...)
}

// chromiumTemp returns a directory of the test's for Chromium's TMPDIR.
// Chromium binds its singleton socket at
// TMPDIR/org.chromium.Chromium.XXXXXX/SingletonSocket and exits ("Socket
// path too long") if that path does not fit a Unix socket's 107 bytes,
// which a test's directory under a long TMPDIR can make it do: then the
// directory is one the test makes, with a short name, directly in the
// temporary directory, and removes at its end.
func chromiumTemp(t *testing.T) string {
	t.Helper()
	const socket = "/org.chromium.Chromium.XXXXXX/SingletonSocket"
	if dir := t.TempDir(); len(dir)+len(socket) <= 107 {
		return dir
	}
	dir, err := os.MkdirTemp("", "cr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestBrowserTempFiles starts Chromium as the browser
// tests do, with the process's TMPDIR a fresh directory standing for
// /tmp, ends it either way a test does (closed, as chromedp.Cancel
// closes it, or killed, as cancelling its context kills it), and finds
// nothing of Chromium's in that directory afterwards.
func TestBrowserTempFiles(t *testing.T) {
	exe := chromium(t)
	for _, end := range []string{"closed", "killed"} {
		t.Run(end, func(t *testing.T) {
			opts := browserOptions(t, exe) // its directories made before TMPDIR changes, so not in it
			system := t.TempDir()
			t.Setenv("TMPDIR", system)

			actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
			defer cancelAlloc()
			bctx, cancelBrowser := chromedp.NewContext(actx)
			defer cancelBrowser()
			if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
				t.Fatalf("starting %s: %v", exe, err)
			}
			if end == "closed" {
				if err := chromedp.Cancel(bctx); err != nil {
					t.Fatalf("closing %s: %v", exe, err)
				}
			}
			cancelBrowser()
			cancelAlloc() // waits for the browser's process to end

			entries, err := os.ReadDir(system)
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, e := range entries {
				left = append(left, e.Name())
			}
			if len(left) > 0 {
				t.Fatalf("Chromium, %s, left %s in TMPDIR (%s); its temporary files belong in the test's directories",
					end, strings.Join(left, ", "), system)
			}
		})
	}
}
