package oss

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/transport/transporttest"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// loseCatalog loses the replica h as one whose log lost a tail it had
// acknowledged is lost: a leader's heartbeat carries a commit index past
// the end of its log, and raft gives up on it. It returns once the
// replica's loop has closed it, and reports whether it was lost.
func loseCatalog(h *Heap) bool {
	h.enqueue("leader", &raftpb.Message{Type: raftpb.MsgHeartbeat, To: h.self, From: h.self + 1, Term: 1 << 20, Commit: 1 << 40})
	<-h.done
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	return h.closed && h.lost != nil
}

// wantCatalogCorrupt fails the test unless err is Start's error on a lost
// catalog replica: ErrCorrupt, naming the catalog and saying what to do,
// and nothing that would have a stranger retry.
func wantCatalogCorrupt(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("the node started on a lost catalog replica")
	}
	msg := err.Error()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(msg, "catalog") || !strings.Contains(msg, "move the data directory aside") ||
		strings.Contains(msg, "cannot reach") || errors.Is(err, ErrClosed) {
		t.Fatalf("Start on a lost catalog replica: %v; want ErrCorrupt naming the catalog and what to do", err)
	}
}

// A node that bootstraps a cluster records itself in its new catalog; a
// catalog replica lost at that step fails Start with ErrCorrupt, not with
// "registering this node in the catalog: oss: closed".
func TestStartCatalogLostAtRegistrationIsErrCorrupt(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	net := transporttest.NewNetwork(1)
	net.Start()
	t.Cleanup(net.Stop)
	lost := false
	n, err := Start(context.Background(), &Config{Name: "a", Transport: net, Logger: testLogger(),
		catalogStep: func(step string, h *Heap) {
			if step == "register" {
				lost = loseCatalog(h)
			}
		}})
	if err == nil {
		n.Close(context.Background())
	}
	if !lost {
		t.Fatalf("the catalog replica was not lost at registration: %v", err)
	}
	wantCatalogCorrupt(t, err)
}

// A node that joins catches its catalog replica up from the cluster's; one
// lost at that step fails Start with ErrCorrupt, not with "join: cannot
// reach the cluster's catalog: oss: closed", with JoinRetry or without
// (which must not wait for a catalog it can no longer join).
func TestStartCatalogLostAtJoinIsErrCorrupt(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	for _, retry := range []bool{false, true} {
		t.Run(map[bool]string{false: "once", true: "JoinRetry"}[retry], func(t *testing.T) {
			c := startTestNodes(t, 2, "a")
			lost := false
			n, err := Start(context.Background(), &Config{Name: "b", Transport: testNet{c.net, c}, Join: []string{"a"},
				JoinRetry: retry, Logger: testLogger(),
				catalogStep: func(step string, h *Heap) {
					if step == "join" {
						lost = loseCatalog(h)
					}
				}})
			if err == nil {
				n.Close(context.Background())
			}
			if !lost {
				t.Fatalf("the catalog replica was not lost at join: %v", err)
			}
			wantCatalogCorrupt(t, err)
		})
	}
}

// A Start that fails at the join for another reason is not reported as
// corrupt: a context cancelled, a catalog replica closed without loss.
func TestStartFailedJoinIsNotCorrupt(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 3, "a")
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n, err := Start(ctx, &Config{Name: "b", Transport: testNet{c.net, c}, Join: []string{"a"}, JoinRetry: true, Logger: testLogger(),
			catalogStep: func(step string, h *Heap) {
				if step == "join" {
					cancel()
				}
			}})
		if err == nil {
			n.Close(context.Background())
			t.Fatal("the node started with its context cancelled")
		}
		if errors.Is(err, ErrCorrupt) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Start cancelled at join: %v; want context.Canceled, not ErrCorrupt", err)
		}
	})
	t.Run("cancelled once in the configuration", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n, err := Start(ctx, &Config{Name: "d", Transport: testNet{c.net, c}, Join: []string{"a"}, JoinRetry: true, Logger: testLogger(),
			catalogStep: func(step string, h *Heap) {
				if step == "join" {
					if !pollUntil(context.Background(), time.Minute, h.inConf.Load) {
						t.Error("the catalog's leader did not place the replica in its configuration")
					}
					cancel()
				}
			}})
		if err == nil {
			n.Close(context.Background())
			t.Fatal("the node started with its context cancelled (its catalog replica already in the configuration)")
		}
		if errors.Is(err, ErrCorrupt) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Start cancelled at join: %v; want context.Canceled, not ErrCorrupt", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		n, err := Start(context.Background(), &Config{Name: "c", Transport: testNet{c.net, c}, Join: []string{"a"}, Logger: testLogger(),
			catalogStep: func(step string, h *Heap) {
				if step == "join" {
					h.close()
				}
			}})
		if err == nil {
			n.Close(context.Background())
			t.Fatal("the node started on a closed catalog replica")
		}
		if errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrClosed) {
			t.Fatalf("Start on a catalog replica closed at join: %v; want ErrClosed, not ErrCorrupt", err)
		}
	})
}

// Whatever a step of Start saw of its catalog replica's loss (ErrClosed,
// a commit whose outcome the closure left unknown, a context that ran out
// while the replica no longer answered), Start's error is the loss's
// ErrCorrupt. An error of a replica that runs is left as it is.
func TestCatalogLostWhateverTheStepSaw(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	n, err := Start(ctx, &Config{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	h := n.catalog.Load()
	refused := errors.New("oss: join: refused")
	if got := catalogLost(h, refused); got != refused {
		t.Fatalf("catalogLost on a running replica: %v; want the step's error as it is", got)
	}
	if !loseCatalog(h) {
		t.Fatal("the catalog replica was not lost")
	}
	for _, err := range []error{
		ErrClosed,
		&UnknownOutcomeError{Err: errClosedUndecided},
		context.DeadlineExceeded,
	} {
		wantCatalogCorrupt(t, catalogLost(h, err))
	}
}
