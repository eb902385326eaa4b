package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
)

// A request still under way when the server closes (ossd's SIGTERM, whose
// hand-over and leave follow) is answered, not cut: its context ends, and
// what it did, here nothing, is the answer, a 503 saying the node is
// closing. The connection was closed unanswered once Close's wait ended,
// and the client had to report an unknown outcome: six puts waiting to
// create their heap on a node stopped with SIGTERM, none of them carried
// out, each said "its outcome is unknown" (found by probing ossd).
func TestCloseAnswersRequestsUnderWay(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := Starting("a", &Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // a commit that waits for a quorum
		fail(w, fmt.Errorf("oss: heap \"h\": waiting for a leader: %w", r.Context().Err()))
	})
	s.handler.Store(&h)
	c, err := NewClient(s.Addr(), &ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errc := make(chan error, 1)
	go func() { errc <- c.Do(context.Background(), http.MethodPut, "/v1/heaps/h/roots/r", 1, nil) }()
	<-entered
	// The wait Close gives requests under way ends at once: the request
	// waits for its context alone.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	s.Close(ctx)
	cancel()
	err = <-errc
	var se *StatusError
	if errors.Is(err, oss.ErrCommitUnknown) || !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable {
		t.Fatalf("a put under way as the server closed: %v; want a 503 saying the node is closing, not an unknown outcome", err)
	}
}
