package admin_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// FuzzAdminRequests sends arbitrary requests to the admin interface of an
// in-memory node: every answer is a clear one (never a 500, never a
// panic), and a request refused changes nothing.
func FuzzAdminRequests(f *testing.F) {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	hd := admin.Handler(n)
	do := func(method, path string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("PUT", "/v1/heaps/f/roots/r", []byte(`{"balance": 1}`)); rec.Code != http.StatusOK {
		f.Fatalf("seed root: %d %s", rec.Code, rec.Body)
	}
	h, err := n.Heap(ctx, "f")
	if err != nil {
		f.Fatal(err)
	}
	var id string
	h.View(func(tx *oss.Tx) error {
		rid, err := tx.Root("r")
		id = rid.String()
		return err
	})
	methods := []string{"GET", "PUT", "POST", "DELETE"}
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"reads":[{"id":"`+id+`","version":1}],"writes":[{"id":"`+id+`","value":{"balance":2}}]}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"writes":[{"id":"`+id+`","value":[1,2,{"a":null}]}],"roots":{"q":"`+id+`"}}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"deletes":["`+id+`"]}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"writes":[{"id":"not-a-uuid","value":1}]}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"writes":[{"id":"`+id+`","value":1e400}]}`))
	f.Add(byte(1), "/v1/heaps/f/roots/r", []byte(`{"balance": 3}`))
	f.Add(byte(1), "/v1/heaps/f/roots/%00", []byte(`"x"`))
	f.Add(byte(0), "/v1/heaps/f/objects/"+id+"?fresh=1", []byte(nil))
	f.Add(byte(0), "/v1/heaps/f/digest", []byte(nil))
	f.Add(byte(1), "/v1/heaps/oss:catalog", []byte(nil))
	f.Add(byte(3), "/v1/heaps/g", []byte(nil))
	f.Fuzz(func(t *testing.T, m byte, path string, body []byte) {
		if _, err := url.ParseRequestURI(path); err != nil || strings.ContainsAny(path, " \r\n\t#") {
			return // not a request line: the server refuses it before the handler
		}
		u, _ := url.ParseRequestURI(path)
		if m%4 == 3 && strings.HasPrefix(u.Path, "/v1/heaps/f") {
			return // dropping the heap under test
		}
		if m%4 == 1 && strings.HasPrefix(u.Path, "/v1/heaps/") && !strings.HasPrefix(u.Path, "/v1/heaps/f/") {
			return // creating heaps: each is a raft group, and thousands exhaust the process
		}
		before, digest := h.Digest()
		rec := do(methods[int(m)%len(methods)], path, body)
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("%s %s %q: 500 %s", methods[int(m)%len(methods)], path, body, rec.Body)
		}
		if rec.Code >= 400 && methods[int(m)%len(methods)] != "GET" {
			// Refused: nothing of it may have been applied.
			if after, d := h.Digest(); after == before && d != digest {
				t.Fatalf("a refused request changed the heap: %s %s %q: %d %s", methods[int(m)%len(methods)], path, body, rec.Code, rec.Body)
			}
		}
	})
}
