package oss

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
)

// A follower acknowledges an append as soon as its log has made it
// durable, from the log's writer, not a turn of its loop later. Here the
// one follower the leader can hear (of three voters) holds its loop right
// after it hands the append to its log (the other follower hears
// nothing): the commit must go through while that loop is still held. Before, the
// acknowledgement waited in the engine for the loop to take the log's
// answer, and the commit waited for the loop.
func TestFollowerAcknowledgesWhileItsLoopIsBusy(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 7)
	deaf := map[string]*atomic.Bool{}
	ffs := map[string]*persist.FaultFS{}
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		return deafHandler{Handler: hd, deaf: deaf[name]}
	}
	for i, name := range []string{"a", "b", "c"} {
		deaf[name] = new(atomic.Bool)
		ffs[name] = &persist.FaultFS{FS: persist.NewMemFS()}
		c.fss[name] = ffs[name]
		c.add(name, i > 0, func(cfg *Config) {
			cfg.DataDir = "/data/" + name
			// While the follower's loop is held it answers no
			// heartbeat, and a leader that hears from no quorum for an
			// election timeout (10 ticks) steps down: ticks long enough
			// that the commit, once acknowledged, is in well before,
			// however loaded the machine. The deaf one is not replaced.
			cfg.TickInterval = 250 * time.Millisecond
			cfg.ReplaceAfter = await.Deadline
		})
	}
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	id := uuid.New()
	var lead string
	var voters []string
	waitCond(t, "a leader of bank with both followers caught up", func() bool {
		lead = c.leader()
		if lead == "" || update(ctx, c.heaps[lead], func(tx *Tx) error { return Put(tx, id, acct{Balance: 1}) }) != nil {
			return false
		}
		if cs := c.heaps[lead].conf.Load(); cs == nil || len(cs.Voters) != 3 {
			return false // a replica still a learner: the leader's commits wait for neither
		}
		voters = voters[:0]
		for name, h := range c.heaps {
			if name != lead && h.Stats().Applied >= c.heaps[lead].Stats().Applied {
				voters = append(voters, name)
			}
		}
		return len(voters) == 2
	})
	held, other := c.heaps[voters[0]], voters[1]
	deaf[other].Store(true)
	defer deaf[other].Store(false)
	var once sync.Once
	holding, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	hook := func(ws []engine.Write) {
		calls.Add(1)
		for _, w := range ws {
			if len(w.Entries) > 0 {
				once.Do(func() {
					close(holding)
					<-release
				})
				return
			}
		}
	}
	held.wroteHook.Store(&hook)
	defer held.wroteHook.Store(nil)
	var released sync.Once
	defer released.Do(func() { close(release) })
	// The follower's log syncs only once its loop is held: the commit
	// cannot come from a loop that ran on before it was held.
	ffs[voters[0]].SetRule(func(op persist.Op, _ string) error {
		if op == persist.OpSync {
			select {
			case <-holding:
			case <-release:
			}
		}
		return nil
	})
	defer ffs[voters[0]].SetRule(nil)
	err := c.heaps[lead].Update(ctx, func(tx *Tx) error { return Put(tx, id, acct{Balance: 2}) })
	select {
	case <-holding:
	default:
		var st []string
		for name, h := range c.heaps {
			s := h.Stats()
			st = append(st, fmt.Sprintf("%s: applied %d term %d leads %v conf %v same %v", name, s.Applied, s.Term, h.leaderIs(h.self), h.conf.Load(), c.nodes[name].replicaOf("bank") == h))
		}
		t.Fatalf("the commit (%v) through %s did not reach %s's loop with an append (%s deaf; hook called %d times): %v", err, lead, voters[0], other, calls.Load(), st)
	}
	if err != nil {
		t.Fatalf("a commit whose one reachable follower's loop is held after its log write: %v", err)
	}
	released.Do(func() { close(release) })
}
