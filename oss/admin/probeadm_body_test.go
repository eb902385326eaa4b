package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// The bodies of a transaction, a grant and a revocation were decoded by
// encoding/json, which matches keys to fields without regard to case and
// keeps the last: {"writes": [...], "Writes": []} committed nothing and
// answered 200, {"Perm": "read", "perm": "admin"} granted admin, and a
// grant took duplicate keys, data after the body and invalid UTF-8 (its
// name silently turned into U+FFFD). Each is a 400 now, and nothing is
// written; what is not ambiguous still works.
func TestAmbiguousRequestBodiesRefused(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	if _, err := n.CreateHeap(ctx, "h", nil); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	base := "http://" + srv.Addr()
	hc := &http.Client{}
	t.Cleanup(hc.CloseIdleConnections)
	id := uuid.New().String()
	send := func(method, path, body string) (int, string) {
		t.Helper()
		code, msg, err := request(t, hc, method, base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return code, msg
	}

	before := stateOf(t, n, "h")
	for _, body := range []string{
		`{"writes": [{"id": "` + id + `", "value": 1}], "Writes": []}`,
		`{"Writes": [{"id": "` + id + `", "value": 1}], "writes": []}`,
		`{"writes": [{"id": "` + id + `", "ID": "` + uuid.NewString() + `", "value": 1}]}`,
		`{"writes": [{"id": "` + id + `", "value": 1, "Value": 2}]}`,
		`{"reads": [{"id": "` + id + `", "version": 0, "VERSION": 7}], "writes": [{"id": "` + id + `", "value": 1}]}`,
	} {
		if code, msg := send("POST", "/v1/heaps/h/tx", body); code != http.StatusBadRequest {
			t.Errorf("transaction %s: %d %s, want 400", body, code, msg)
		}
	}
	if after := stateOf(t, n, "h"); after != before {
		t.Fatalf("refused transactions changed the heap: %+v, was %+v", after, before)
	}

	for _, body := range []string{
		`{"Who": "bob", "Heap": "h", "Perm": "read", "perm": "admin"}`,
		`{"who": "bob", "heap": "h", "perm": "read", "who": "eve"}`,
		`{"who": "bob", "heap": "h", "perm": "read"} {"who": "eve", "heap": "*", "perm": "admin"}`,
		"{\"who\": \"bob\xff\", \"heap\": \"h\", \"perm\": \"read\"}",
	} {
		if code, msg := send("POST", "/v1/acl", body); code != http.StatusBadRequest {
			t.Errorf("grant %q: %d %s, want 400", body, code, msg)
		}
	}
	if gs := n.Grants(); len(gs) != 0 {
		t.Fatalf("refused grants were written: %v", gs)
	}
	for _, body := range []string{`{"name": "bob", "Name": "n1"}`, `{"name": "bob"} x`} {
		if code, msg := send("POST", "/v1/revocations", body); code != http.StatusBadRequest {
			t.Errorf("revocation %q: %d %s, want 400", body, code, msg)
		}
	}
	if rs := n.Revocations(); len(rs) != 0 {
		t.Fatalf("refused revocations were written: %v", rs)
	}

	// A grant in lower case, and a value whose own keys differ only in
	// case, are what they say.
	if code, msg := send("POST", "/v1/acl", `{"who": "bob", "heap": "h", "perm": "read"}`); code != http.StatusOK {
		t.Fatalf("grant: %d %s", code, msg)
	}
	if gs := n.Grants(); len(gs) != 1 || gs[0] != (oss.Grant{Who: "bob", Heap: "h", Perm: oss.PermRead}) {
		t.Fatalf("grants %v, want bob read on h", gs)
	}
	if code, msg := send("POST", "/v1/heaps/h/tx", `{"writes": [{"id": "`+id+`", "value": {"a": 1, "A": 2}}]}`); code != http.StatusOK {
		t.Fatalf("transaction with a value of keys a and A: %d %s", code, msg)
	}
}
