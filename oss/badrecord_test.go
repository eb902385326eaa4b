package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/persist"
)

// A log record whose checksums hold but that the node cannot take (it does
// not decode; or its entries do not follow its group's, as when the log's
// first segment was deleted) stops the node with an error that matches
// ErrCorrupt and says how to rebuild. Before, the error named the record
// but was no ErrCorrupt, so ossd did not point to --rebuild-replica.
func TestLogRecordThatDoesNotDecodeIsCorrupt(t *testing.T) {
	t.Parallel()
	mem := persist.NewMemFS()
	n := startOn(t, mem, 0)
	h := openBank(t, n)
	for i := range 5 {
		if err := put(h, uuid.New(), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	crash(n)
	w, err := persist.OpenWAL(mem, "/data/solo/wal", persist.WALOptions{Logger: quietLogger()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AppendSync([]byte{0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = oss.Start(context.Background(), &oss.Config{Name: "solo", DataDir: "/data/solo", FS: mem, Logger: quietLogger()})
	if !errors.Is(err, oss.ErrCorrupt) || !strings.Contains(err.Error(), "/data/solo/wal/") || !strings.Contains(err.Error(), "Join") {
		t.Fatalf("a node on a log with a record it cannot take: %v", err)
	}
}
