package admin_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A write refused because the node is closed (oss.ErrClosed: nothing was
// written) answers 503, which says so (safe to retry elsewhere), not 500,
// which a client must take for an unknown outcome.
func TestWriteToAClosedNodeIs503(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateHeap(ctx, "h", nil); err != nil {
		t.Fatal(err)
	}
	hd, err := admin.NewHandler(n, &admin.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct{ method, path, body string }{
		{"PUT", "/v1/heaps/h/roots/r", `{"balance": 1}`},
		{"POST", "/v1/heaps/h/tx", `{"writes": [{"id": "0b5ac0f0-0000-4000-8000-000000000000", "value": 1}]}`},
		{"PUT", "/v1/heaps/g", ``},
		{"DELETE", "/v1/heaps/h", ``},
		{"POST", "/v1/acl", `{"Who": "alice", "Heap": "h", "Perm": "read"}`},
	} {
		req := httptest.NewRequest(w.method, w.path, bytes.NewReader([]byte(w.body)))
		req.Host = admin.DefaultAddr
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s on a closed node: %d %s, want 503", w.method, w.path, rec.Code, rec.Body)
		}
	}
}
