package admin_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A restore POSTed as the README said, "application/octet-stream", was
// refused "a POST request needs Content-Type: application/json or the
// header X-Oss-Admin: 1"; sent as JSON, it was refused for its body's
// type, naming application/octet-stream: neither said what a restore
// needs, both. Each refusal of a restore now names both, its body
// unread and no heap made, and a restore with both is taken.
func TestRestoreRefusalNamesWhatItNeeds(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the cleanups that close the node and server
	ctx := context.Background()
	n := startNode(t)
	bkFill(t, n, "src", 10)
	h, err := n.Heap(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := h.Backup(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	hd, err := admin.NewHandler(n, &admin.Options{Insecure: true, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	post := func(header map[string]string) (int, string, int) {
		t.Helper()
		body := &readCount{r: bytes.NewReader(buf.Bytes())}
		req := httptest.NewRequest("POST", "http://127.0.0.1/v1/heaps/dst/restore", body)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String(), body.reads
	}
	for _, header := range []map[string]string{
		{},
		{"Content-Type": "application/octet-stream"},
		{admin.RequestHeader: "1"},
		{"Content-Type": "application/json"},
		{"Content-Type": "application/json", admin.RequestHeader: "1"},
	} {
		code, msg, reads := post(header)
		if code != http.StatusUnsupportedMediaType || !strings.Contains(msg, "application/octet-stream") || !strings.Contains(msg, admin.RequestHeader+": 1") || reads != 0 {
			t.Errorf("restore with %v: %d %s, its body read %d times; want 415 naming both the type and the header, unread", header, code, msg, reads)
		}
	}
	if _, err := n.Heap(ctx, "dst"); !errors.Is(err, oss.ErrNoHeap) {
		t.Errorf("a refused restore made heap dst: %v", err)
	}
	if code, msg, _ := post(map[string]string{"Content-Type": "application/octet-stream", admin.RequestHeader: "1"}); code != http.StatusOK {
		t.Errorf("restore with both: %d %s; want 200", code, msg)
	}
}
