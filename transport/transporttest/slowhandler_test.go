package transporttest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport/transporttest"
)

// slowStreams is a node whose stream handler waits until a message that
// was sent after the stream has arrived: a snapshot being decoded while
// heartbeats go on.
type slowStreams struct {
	msgs chan []byte
}

func (s *slowStreams) HandleMessage(from string, msg []byte) { s.msgs <- msg }

func (s *slowStreams) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	return req, nil
}

func (s *slowStreams) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	select {
	case <-s.msgs:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute): // a guard against a hang, not a timing
		return errors.New("no message was delivered while a stream was handled")
	}
}

// A stream or a call being handled holds up its caller only. The network
// handled them on its one delivery goroutine: a node decoding a snapshot
// of 13,816 objects (1.3 MB) at load 12 stopped every message of the
// cluster for 1.4 s, its leaders stepped down for want of a quorum and
// the calls of a node asking to join its group timed out; with a larger
// heap the outcomes probe's restarted node could not join within 20 s.
func TestStreamBeingHandledHoldsUpNoMessage(t *testing.T) {
	n := transporttest.NewNetwork(1)
	n.Start()
	defer n.Stop()
	dst := &slowStreams{msgs: make(chan []byte, 1)}
	n.Endpoint("b", dst)
	a := n.Endpoint("a", &slowStreams{msgs: make(chan []byte, 1)})
	streamed := make(chan error, 1)
	go func() {
		streamed <- a.SendStream(context.Background(), "b", []byte("h"), bytes.NewReader([]byte("snapshot")))
	}()
	// The message goes once the stream is being handled: sent after it,
	// it is due after it.
	waitStats(t, n, func(s transporttest.Stats) bool { return s.Delivered >= 1 })
	if err := a.Send(context.Background(), "b", []byte("heartbeat")); err != nil {
		t.Fatal(err)
	}
	if err := await.Recv(t, streamed, "the stream to be handled"); err != nil {
		t.Fatalf("the stream: %v", err)
	}
}

// waitStats waits until the network's counters satisfy cond.
func waitStats(t *testing.T, n *transporttest.Network, cond func(transporttest.Stats) bool) {
	t.Helper()
	await.Until(t, "the network's counters", func() bool { return cond(n.Stats()) })
}
