package admin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// conflictOn makes n transactions of operation op lose a conflict on id.
func conflictOn(t *testing.T, h *oss.Heap, id uuid.UUID, op string, n int) {
	t.Helper()
	for range n {
		ctx := oss.WithOperation(context.Background(), op)
		tx, err := h.Begin(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := oss.Get[int](tx, id); err != nil {
			t.Fatal(err)
		}
		if err := h.Update(context.Background(), func(tx *oss.Tx) error { return oss.Put(tx, id, 1) }); err != nil {
			t.Fatal(err)
		}
		if err := oss.Put(tx, id, 2); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); !errors.Is(err, oss.ErrConflict) {
			t.Fatalf("stale commit: %v", err)
		}
	}
}

func TestHotEndpoint(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Name: "hotnode"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeap(ctx, "contended", nil)
	if err != nil {
		t.Fatal(err)
	}
	hot, cold := uuid.New(), uuid.New()
	for _, id := range []uuid.UUID{hot, cold} {
		if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, 0) }); err != nil {
			t.Fatal(err)
		}
	}
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	got, err := c.Hot(ctx, "contended")
	if err != nil || got.Heap != "contended" || got.Objects == nil || len(got.Objects) != 0 {
		t.Fatalf("Hot of a heap without conflicts: %+v, %v", got, err)
	}
	conflictOn(t, h, hot, "transfer", 5)
	conflictOn(t, h, cold, "audit", 1)
	got, err = c.Hot(ctx, "contended")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Objects) != 2 || got.HalfLifeSeconds != 60 {
		t.Fatalf("Hot: %+v", got)
	}
	top := got.Objects[0]
	if top.ID != hot || top.Conflicts != 5 || top.LastOp != "transfer" || top.LastNode != "hotnode" || top.Lately < 4.9 {
		t.Fatalf("hottest: %+v", top)
	}
	if _, err := c.Hot(ctx, "nosuch"); !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("Hot of a missing heap: %v", err)
	}
}

func TestMetricsHandler(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Name: "metricsnode"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeap(ctx, "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, 0) }); err != nil {
		t.Fatal(err)
	}
	conflictOn(t, h, id, "", 2)
	srv := httptest.NewServer(admin.MetricsHandler(n))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`oss_commits_total{heap="m",node="metricsnode"} 3`,
		`oss_conflicts_total{heap="m",node="metricsnode"} 2`,
		`oss_commit_duration_seconds_count{heap="m",node="metricsnode"} 5`,
		"# HELP oss_apply_lag_entries ",
		"# TYPE oss_commit_duration_seconds histogram",
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Two handlers of two nodes in one process do not collide.
	n2, err := oss.Start(ctx, &oss.Config{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close(context.Background())
	_ = admin.MetricsHandler(n2)
}

// Every node serves its metrics on the admin interface, behind its
// authentication: an admin certificate reads them, a client certificate
// without read on every heap is refused, and no certificate is no answer.
func TestMetricsBehindAuthentication(t *testing.T) {
	n := startNode(t)
	p := newPKI(t)
	srv := serve(t, n, p.serverOptions(t))
	code, body, err := request(t, tlsClient(t, p.tlsConfig(t, "admin")), "GET", srv.URL()+"/metrics", "", nil)
	if err != nil || code != http.StatusOK || !strings.Contains(body, "oss_commits_total") {
		t.Fatalf("/metrics as the admin: %d %v\n%.300s", code, err, body)
	}
	if code, body, err := request(t, tlsClient(t, p.tlsConfig(t, "alice")), "GET", srv.URL()+"/metrics", "", nil); err != nil || code != http.StatusForbidden {
		t.Fatalf("/metrics as a client without grants: %d %v %.200s", code, err, body)
	}
	if _, _, err := request(t, http.DefaultClient, "GET", srv.URL()+"/metrics", "", nil); err == nil {
		t.Fatal("/metrics without a certificate answered")
	}
}
