package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

func TestHotCommand(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Name: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeap(ctx, "bank", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, 0) }); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		tx, _ := h.Begin(oss.WithOperation(ctx, "transfer"), nil)
		if _, err := oss.Get[int](tx, id); err != nil {
			t.Fatal(err)
		}
		if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, 1) }); err != nil {
			t.Fatal(err)
		}
		_ = oss.Put(tx, id, 2)
		if err := tx.Commit(); !errors.Is(err, oss.ErrConflict) {
			t.Fatal(err)
		}
	}
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	addr := srv.Addr()
	c, err := admin.NewClient(addr, &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.Hot(ctx, "bank")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printHot(&out, &got, time.Now())
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "OBJECT") || !strings.HasPrefix(lines[1], id.String()) ||
		!strings.Contains(lines[1], "transfer") || !strings.Contains(lines[1], " n1 ") {
		t.Fatalf("ossd hot printed:\n%s", out.String())
	}
	if err := dispatch([]string{"hot", "--http", addr, "--http-insecure", "bank"}); err != nil {
		t.Fatal(err)
	}
	if err := dispatch([]string{"hot", "--http", addr}); err == nil {
		t.Fatal("hot without a heap: no error")
	}
	empty := admin.Hot{Heap: "quiet"}
	out.Reset()
	printHot(&out, &empty, time.Now())
	if !strings.Contains(out.String(), "no conflicts") {
		t.Fatalf("empty: %q", out.String())
	}
}
