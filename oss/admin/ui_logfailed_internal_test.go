package admin

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/persist"
)

// The dashboard's snapshot says when the node's write-ahead log has
// stopped (its wal/ removed while it ran), with the log's error, for the
// page's banner; a node whose log is well says nothing. The page shows
// the field as it shows Damage: an element of its own, hidden while the
// field is empty.
func TestUISnapshotSaysTheLogFailed(t *testing.T) {
	ctx := context.Background()
	mem := persist.NewMemFS()
	n, err := oss.Start(ctx, &oss.Config{Name: "solo", DataDir: "/data", FS: mem, TickInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	h, err := n.CreateHeap(ctx, "h", nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func() error {
		return h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, uuid.New(), 1) })
	}
	if err := put(); err != nil {
		t.Fatal(err)
	}
	sample := func() UISnapshot {
		t.Helper()
		d := &dashboard{node: n}
		var snap UISnapshot
		if err := json.Unmarshal(d.sample(ctx, time.Now()), &snap); err != nil {
			t.Fatal(err)
		}
		return snap
	}
	if s := sample(); s.LogFailed != "" {
		t.Fatalf("a well node's snapshot says its log failed: %q", s.LogFailed)
	}
	files, err := mem.ReadDir("/data/wal")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := mem.Remove("/data/wal/" + f); err != nil {
			t.Fatal(err)
		}
	}
	if err := put(); err == nil {
		t.Fatal("a commit once wal/ is gone succeeded")
	}
	if s := sample(); !strings.Contains(s.LogFailed, "/data/wal") || !strings.Contains(s.LogFailed, "gone") {
		t.Fatalf("the snapshot of a node whose log is gone: LogFailed %q; want the log's error", s.LogFailed)
	}
	page, err := os.ReadFile("ui/index.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile("ui/app.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `id="logfailed"`) || !strings.Contains(string(js), "snap.logFailed") {
		t.Error("the page has no banner for a failed log")
	}
}
