package admin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A restore under way holds its identity's one restore slot: a second
// one of the same identity is refused 429, not read, while the first goes
// on; once the first ends, the second is taken. A restore used to take
// room for bodies alone, and an identity ran as many as that held.
func TestRestoreOneAtATimePerIdentity(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Insecure: true, Addr: "127.0.0.1:0"})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	bkFill(t, n, "src", 200)
	var buf bytes.Buffer
	if _, err := c.Backup(ctx, "src", &buf, false); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := c.Restore(ctx, "first", pr, 0)
		done <- err
	}()
	more := make(chan struct{})
	go func() {
		pw.Write(b[:len(b)/2])
		<-more // the rest once the second was refused
		pw.Write(b[len(b)/2:])
		pw.Close()
	}()
	await.Until(t, "the first restore's heap", func() bool {
		_, err := n.Heap(ctx, "first")
		return err == nil
	})
	_, err = c.Restore(ctx, "second", bytes.NewReader(b), 0)
	var se *admin.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusTooManyRequests {
		t.Errorf("a second restore while the first runs: %v; want 429", err)
	}
	if _, err := n.Heap(ctx, "second"); !errors.Is(err, oss.ErrNoHeap) {
		t.Errorf("heap second after its restore was refused: %v; want ErrNoHeap", err)
	}
	close(more)
	if err := <-done; err != nil {
		t.Fatalf("the first restore: %v", err)
	}
	if _, err := c.Restore(ctx, "second", bytes.NewReader(b), 0); err != nil {
		t.Errorf("a restore after the first ended: %v", err)
	}
}
