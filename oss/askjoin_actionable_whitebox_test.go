package oss

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/transport"
	"github.com/objectsharing/oss/transport/transporttest"
)

// callsNetwork is an in-process network whose endpoint for one node
// answers that node's calls with calls' answers, for the names calls
// knows.
type callsNetwork struct {
	*transporttest.Network
	node  string
	calls func(ctx context.Context, to string) ([]byte, error, bool)
}

func (n *callsNetwork) Attach(name string, h transport.Handler) (transport.Transport, error) {
	tr, err := n.Network.Attach(name, h)
	if err != nil || name != n.node {
		return tr, err
	}
	return &callsEndpoint{Transport: tr, calls: n.calls}, nil
}

type callsEndpoint struct {
	transport.Transport
	calls func(ctx context.Context, to string) ([]byte, error, bool)
}

func (e *callsEndpoint) Call(ctx context.Context, to string, req []byte) ([]byte, error) {
	if b, err, ok := e.calls(ctx, to); ok {
		return b, err
	}
	return e.Transport.Call(ctx, to, req)
}

// A round of join requests that a node of another cluster answered
// first, and a member that did not answer in time after it, reports the
// other cluster: the timeout came last and was reported alone, so the
// user heard that no leader answered and nothing of the node that
// answered for another cluster at a member's address.
func TestJoinRefusedByAnotherClusterThenATimeoutSaysOtherCluster(t *testing.T) {
	t.Parallel()
	other, err := codec.Marshal(callResponse{Cluster: 0x0123456789abcdef})
	if err != nil {
		t.Fatal(err)
	}
	nw := &callsNetwork{Network: transporttest.NewNetwork(1), node: "a",
		calls: func(ctx context.Context, to string) ([]byte, error, bool) {
			switch to {
			case "x": // another cluster's node at a member's address
				return other, nil, true
			case "y": // a member that does not answer in time
				<-ctx.Done()
				return nil, ctx.Err(), true
			}
			return nil, nil, false
		}}
	ctx := context.Background()
	a, err := Start(ctx, &Config{Name: "a", Transport: nw, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	if a.ClusterID() == 0 {
		a.cluster = 0x1111111111111111 // a node of a cluster made before IDs refuses nobody
	}
	err = a.askJoin(ctx, a.catalog.Load(), []string{"x", "y"}, func() bool { return false }, nil)
	if !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("a round refused by another cluster's x, then y's timeout: %v; want an error matching ErrOtherCluster", err)
	}
	var heard joinHeard
	heard.failed(ctx, err)
	heard.failed(ctx, context.DeadlineExceeded)
	if got := heard.wrap(errors.New("join its group: context deadline exceeded")); !errors.Is(got, ErrOtherCluster) {
		t.Fatalf("the join's error after a later round timed out: %v; want it to match ErrOtherCluster", got)
	}
}
