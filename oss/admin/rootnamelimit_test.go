package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss/admin"
)

// A root name longer than a commit record may be (oss.Config.MaxCommitBytes)
// is refused before anything is opened, created or committed: 400, the
// heap's index where it was, no heap created. A PUT of such a root
// created its heap, then failed at the commit.
func TestRootNameOverTheRecordLimitRefusedAtOnce(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	hd, err := admin.NewHandler(n, &admin.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/", strings.NewReader(body))
		req.URL.Path = path
		req.Host = admin.DefaultAddr
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("PUT", "/v1/heaps/names/roots/ok", `1`); rec.Code != http.StatusOK {
		t.Fatalf("seed: %d %s", rec.Code, rec.Body)
	}
	before := stateOf(t, n, "names")
	for _, size := range []int{10 << 20, 8<<20 - 512 + 1} {
		long := strings.Repeat("r", size)
		roots, _ := json.Marshal(map[string]map[string]string{"roots": {long: uuid.NewString()}})
		for _, tc := range []struct{ method, path, body string }{
			{"PUT", "/v1/heaps/names/roots/" + long, `1`},
			{"PUT", "/v1/heaps/fresh/roots/" + long, `1`},
			{"POST", "/v1/heaps/names/tx", string(roots)},
		} {
			rec := do(tc.method, tc.path, tc.body)
			if rec.Code != http.StatusBadRequest || rec.Body.Len() > 1024 {
				t.Errorf("%s %.40s... (a root name of %d bytes): %d %.300s; want 400, not repeating the name", tc.method, tc.path, size, rec.Code, rec.Body)
			}
		}
	}
	if st := stateOf(t, n, "names"); st != before {
		t.Fatalf("refused names moved the heap: %+v, was %+v", st, before)
	}
	for _, h := range n.Heaps() {
		if h.Name != "names" {
			t.Errorf("a refused request created the heap %q", h.Name)
		}
	}
}

// A root name too long for the node's request headers (Options.
// MaxHeaderBytes, 16 KiB) is refused with 431 before the handler runs;
// the client says so in a few lines. Its error repeated the whole path,
// megabytes of it in "ossd put HEAP ROOT" with such a root.
func TestClientRefusalOfALongRootIsShort(t *testing.T) {
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()
	for _, size := range []int{20 << 10, 10 << 20} {
		long := strings.Repeat("r", size)
		_, err := c.PutRoot(ctx, "fresh", long, 1)
		var se *admin.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusRequestHeaderFieldsTooLarge || len(err.Error()) > 1024 {
			t.Fatalf("PUT of a root of %d bytes: %.400v; want a short 431", size, err)
		}
	}
	if hs := n.Heaps(); len(hs) != 0 {
		t.Fatalf("heaps created: %v", hs)
	}
}
