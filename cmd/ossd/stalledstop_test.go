package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// A stop of a node whose disk stalls (its log's sync never returns)
// ends after --shutdown-timeout, with an error that says the disk is
// stalled and names the file, which ossd prints as it exits 1, and a log
// line saying what it left: ossd waited for the disk for ever, until a
// service manager killed it without a word of why.
func TestStopOnAStalledDiskEndsAfterTheShutdownTimeout(t *testing.T) {
	disk := osstest.NewDiskStall()
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedBuilder{&logs, &mu}, nil))
	node, err := oss.Start(context.Background(), &oss.Config{Name: "n1", DataDir: "/data/n1", FS: disk.FS(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	h, err := node.CreateHeapIfNotExists(context.Background(), "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	held := disk.Syncs("/wal/")
	t.Cleanup(func() {
		disk.Release()
		node.Close(context.Background())
	})
	committed := make(chan error, 1)
	go func() {
		committed <- h.Update(context.Background(), func(tx *oss.Tx) error { return oss.Put(tx, uuid.New(), 1) })
	}()
	file := osstest.Recv(t, held, "the log's sync to stall")

	hup := catchHangup()
	defer hup.stop()
	left := make(chan error, 1)
	go func() { left <- leave(func() {}, node, nil, hup, logger, 100*time.Millisecond) }()
	err = osstest.Recv(t, left, "the stop to end on a stalled disk")
	if !errors.Is(err, oss.ErrDiskStalled) || !strings.Contains(err.Error(), file) {
		t.Fatalf("the stop on a stalled disk returned %v; want ErrDiskStalled naming %s", err, file)
	}
	mu.Lock()
	said := logs.String()
	mu.Unlock()
	if !strings.Contains(said, "exiting without closing the data directory: its disk is stalled") {
		t.Fatalf("the log does not say what the stop left:\n%s", said)
	}
	disk.Release()
	osstest.Recv(t, committed, "the stalled commit's answer once the disk returns")
}

// lockedBuilder is a strings.Builder that a logger and the test share.
type lockedBuilder struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w lockedBuilder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
