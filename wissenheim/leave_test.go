package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// TestCloseAfterTheClusterDied joins a player to a cluster, stops every
// server node at once, as a crash would, and closes the client: the
// player, who did nothing wrong, gets no error (the leave that reached no
// one is logged), and the log says the leave did not reach the cluster.
func TestCloseAfterTheClusterDied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := startLocal(ctx, localOptions{nodes: 1, dataDir: t.TempDir(), port: freePorts(t, 1),
		guests: []string{"player2"}, logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	logs := &syncWriter{w: &bytes.Buffer{}}
	a := newApp(config{join: l.addrs(), certs: l.certs, name: "player2", listen: "127.0.0.1:0",
		heap: "wissenheim", world: "wissenheim", nodes: 1, botRate: 20, out: io.Discard,
		logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	a.start(false)
	if p, _, status := a.Status(); p == nil {
		a.Close()
		t.Fatalf("the player did not join: %s", status)
	}
	dead, cancel := context.WithCancel(ctx)
	cancel()
	l.Close(dead) // at once: no hand-over, no leave
	if err := a.Close(); err != nil {
		t.Fatalf("closing the client after its cluster died: %v", err)
	}
	if !strings.Contains(logs.String(), "leave: the cluster is out of reach") {
		t.Fatalf("the leave that reached no one is not logged; logs:\n%s", logs.String())
	}
}

// syncWriter serialises writes to w: a logger's handler writes from many
// goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.w)
}
