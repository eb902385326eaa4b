package oss

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/transport"
)

// takesJoinsOnly answers every join of one heap as a leader that takes the
// request, and adds nobody: as a leader whose change raft ignored, or one
// that lost its leadership before the change committed.
type takesJoinsOnly struct {
	transport.Handler
	heap string
}

func (h takesJoinsOnly) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	var r callRequest
	if codec.Unmarshal(req, &r) == nil && r.Op == opJoin && r.Heap == h.heap {
		return codec.Marshal(callResponse{OK: true})
	}
	return h.Handler.HandleCall(ctx, from, req)
}

// A join that runs out of time says what its requests were answered. The
// outcomes probe's restarted node failed with "join its group: context
// deadline exceeded (last error: context deadline exceeded)" or "(no
// leader answered)" also when a leader had taken every request: which of
// a leader that never added it, a change that never reached it, or calls
// that hung, the error did not tell.
func TestJoinOutOfTimeSaysALeaderTookIt(t *testing.T) {
	t.Parallel()
	// A heap a ranks first for: b is no better-placed voter that a's
	// placement would add on its own.
	heap := ""
	for i := 0; heap == ""; i++ {
		name := fmt.Sprintf("bank%d", i)
		if engine.Rank(name, []engine.Member{{ID: 1, Name: "a", Server: true}, {ID: 2, Name: "b", Server: true}})[0].Name == "a" {
			heap = name
		}
	}
	c := startTestNodes(t, 41)
	c.wrapHandler = func(name string, h transport.Handler) transport.Handler {
		if name == "a" {
			return takesJoinsOnly{h, heap}
		}
		return h
	}
	c.add("a", false, nil)
	c.add("b", true, nil)
	c.open("a", heap)
	// Time for b's join to reach a on a loaded machine under the race
	// detector: the error names a only once a has taken a request.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.nodes["b"].Heap(ctx, heap)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "leaders took the request") || !strings.Contains(err.Error(), "last a,") {
		t.Fatalf("a join whose leader took it and never added the node: %v", err)
	}
}
