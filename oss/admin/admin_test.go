package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"go.uber.org/goleak"
)

func TestAdminInterface(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	p := newPKI(t)
	srv, err := admin.NewServer(n, p.serverOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{CertDir: p.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	put, err := c.PutRoot(ctx, "bank", "alice", map[string]any{"balance": 100, "name": "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.Root(ctx, "bank", "alice", true)
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != put.ID || o.Version != put.Index {
		t.Fatalf("root read back as %+v after %+v", o, put)
	}
	if v := o.Value.(map[string]any); v["balance"] != float64(100) || v["name"] != "Alice" {
		t.Fatalf("value %v", o.Value)
	}

	// A conditional transaction commits at the version read, and conflicts
	// at an older one.
	val, _ := json.Marshal(map[string]int{"balance": 90})
	txn := &admin.Txn{Reads: []admin.Read{{ID: o.ID, Version: o.Version}}, Writes: []admin.Write{{ID: o.ID, Value: val}}}
	if _, err := c.Commit(ctx, "bank", txn); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, "bank", txn); !errors.Is(err, oss.ErrConflict) {
		t.Fatalf("a transaction on a stale version: %v", err)
	}
	o2, err := c.Object(ctx, "bank", o.ID, false)
	if err != nil || o2.Value.(map[string]any)["balance"] != float64(90) {
		t.Fatalf("after the transaction: %+v %v", o2, err)
	}

	// Bad input: clear errors, nothing written.
	if _, err := c.Object(ctx, "bank", uuid.New(), false); !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("a missing object: %v", err)
	}
	if _, err := c.Root(ctx, "nosuch", "x", false); !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("a missing heap: %v", err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: p.tlsConfig(t, "admin")}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(srv.URL()+"/v1/heaps/bank/tx", "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed transaction: %s", resp.Status)
	}
	if err := c.Do(ctx, "GET", "/v1/heaps/bank/objects/not-a-uuid", nil, nil); err == nil || !strings.Contains(err.Error(), "not-a-uuid") {
		t.Fatalf("a malformed object ID: %v", err)
	}

	d, err := c.Digest(ctx, "bank")
	if err != nil || len(d.Digest) != 64 || d.Index == 0 {
		t.Fatalf("digest %+v %v", d, err)
	}
	// Creating a heap that exists is a conflict; reads of a missing heap
	// did not create it.
	if err := c.CreateHeap(ctx, "bank", 0); !errors.Is(err, oss.ErrHeapExists) {
		t.Fatalf("creating a heap that exists: %v", err)
	}
	if err := c.CreateHeap(ctx, "bad", 10); err == nil || err.(*admin.StatusError).Code != http.StatusBadRequest {
		t.Fatalf("creating a heap of 10 voters: %v", err)
	}
	if err := c.CreateHeap(ctx, "single", 1); err != nil {
		t.Fatal(err)
	}
	hs, err := c.Heaps(ctx)
	if err != nil || len(hs) != 2 || hs[0].Name != "bank" || hs[1].Name != "single" || hs[1].Replicas != 1 {
		t.Fatalf("heaps %+v %v", hs, err)
	}
	if err := c.DropHeap(ctx, "single"); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil || len(st.Heaps) != 2 || st.Heaps[1].Name != "bank" || st.Heaps[1].Leader == "" {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := c.DropHeap(ctx, "bank"); err != nil {
		t.Fatal(err)
	}
	if err := c.DropHeap(ctx, "bank"); !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("dropping a dropped heap: %v", err)
	}
}
