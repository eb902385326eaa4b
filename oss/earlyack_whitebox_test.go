package oss

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
)

// A follower acknowledges an append as soon as its log has made it
// durable, from the log's writer, not a turn of its loop later. Here the
// one follower the leader can hear holds its loop right after it hands
// the append to its log (the other follower hears nothing): the commit
// must go through while that loop is still held. Before, the
// acknowledgement waited in the engine for the loop to take the log's
// answer, and the commit waited for the loop.
func TestFollowerAcknowledgesWhileItsLoopIsBusy(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 7)
	deaf := map[string]*atomic.Bool{}
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		return deafHandler{Handler: hd, deaf: deaf[name]}
	}
	for i, name := range []string{"a", "b", "c"} {
		deaf[name] = new(atomic.Bool)
		c.fss[name] = persist.NewMemFS()
		c.add(name, i > 0, func(cfg *Config) { cfg.DataDir = "/data/" + name })
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
	hook := func(ws []engine.Write) {
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
	err := c.heaps[lead].Update(ctx, func(tx *Tx) error { return Put(tx, id, acct{Balance: 2}) })
	select {
	case <-holding:
	default:
		t.Fatalf("the commit (%v) did not reach %s's loop with an append", err, voters[0])
	}
	if err != nil {
		t.Fatalf("a commit whose one reachable follower's loop is held after its log write: %v", err)
	}
	released.Do(func() { close(release) })
}
