package transport_test

import (
	"context"
	"errors"
	"github.com/objectsharing/oss/internal/testkit/await"
	"io"
	"strings"
	"testing"
)

// gatedCalls answers "fast" at once and "slow" once the test lets it.
type gatedCalls struct {
	entered chan struct{}
	release chan struct{}
}

func (g *gatedCalls) HandleMessage(string, []byte) {}
func (g *gatedCalls) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	if string(req) == "slow" {
		g.entered <- struct{}{}
		<-g.release
	}
	return req, nil
}
func (g *gatedCalls) HandleStream(context.Context, string, []byte, io.Reader) error { return nil }

// A caller that gives up on a call before its answer (its context ends)
// cancels the stream, and the node could not write the answer: it logged
// a warning for each. A member can open calls and cancel them as fast as
// it likes, so those lines are limited as bad streams' are: a few a peer
// each window.
func TestUnsentCallAnswersAreLoggedAFewAtATime(t *testing.T) {
	c := newCluster(t, "b")
	g := &gatedCalls{entered: make(chan struct{}), release: make(chan struct{})}
	a := c.start(t, "a", "", g)
	b := c.nodes["b"]
	b.SetPeer("a", a.Addr().String())
	ctx := ctxT(t)
	const calls = 20
	for range calls {
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { _, err := b.Call(cctx, "a", []byte("slow")); done <- err }()
		await.Recv(t, g.entered, "the handler to take the slow call")
		cancel()
		if err := await.Recv(t, done, "the cancelled call to return"); !errors.Is(err, context.Canceled) {
			t.Fatalf("a call cancelled while the handler runs: %v", err)
		}
		// A call after it on the same connection: the cancel's frames
		// went before it, so the node has them once it answers.
		if resp, err := b.Call(ctx, "a", []byte("fast")); err != nil || string(resp) != "fast" {
			t.Fatalf("a call after the cancelled one: %q %v", resp, err)
		}
		g.release <- struct{}{}
	}
	// Every answer is written, or not, before the node reads the next
	// call's request of the same stream order; one more call makes sure
	// the last one's outcome is in the log.
	if _, err := b.Call(ctx, "a", []byte("fast")); err != nil {
		t.Fatal(err)
	}
	n := strings.Count(c.logs.String(), "call answer not sent")
	if n > 8 {
		t.Fatalf("%d of %d cancelled calls logged in one window, want at most 8:\n%s", n, calls, c.logs.String())
	}
}
