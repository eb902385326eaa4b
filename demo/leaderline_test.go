package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// lockedBuffer is a bytes.Buffer safe for the progress goroutine and the
// test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// firstProgress runs tr's progress lines until the first is written to
// out, and returns what out holds then. It fails the test if none is
// written within five minutes, far over what a loaded machine takes and
// under go test's -timeout.
func firstProgress(t *testing.T, tr *tour, out *lockedBuffer) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr.progress(ctx)
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Minute)
	for !strings.Contains(out.String(), "transfers") {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5m0s for a progress line; out holds %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	return out.String()
}

// Once the demo has killed the bank's leader, its progress lines no
// longer name the dead node as the leader, also while the survivors'
// status still does (before their election): they named it until the
// next status showed another ("SIGKILL n2, the bank's leader", then
// "4.0s ... leader n2").
func TestProgressDoesNotNameTheKilledLeader(t *testing.T) {
	out := &lockedBuffer{}
	c := statusServer(t, "n2") // leaderrefresh_test.go
	victim := &ossdtest.Proc{Name: "n2", Client: c}
	tr := &tour{out: out, tty: true, live: []*ossdtest.Proc{{Name: "n1", Client: c}, victim, {Name: "n3", Client: c}}, leader: "n2"}
	tr.drop(victim)
	if s := firstProgress(t, tr, out); strings.Contains(s, "leader n2") {
		t.Errorf("a progress line after n2 was killed names it the leader: %q", s)
	}
}
