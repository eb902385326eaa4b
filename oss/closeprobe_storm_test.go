package oss_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// A node's Close racing every public call in flight on it: Updates in
// their functions, proposing, waiting for outcomes and retrying, Updates
// waiting on ErrRetry, local and Fresh Views, a long-held read-only
// transaction, watches read and not read, heaps created, opened and
// dropped, grants, replication factors, Status. Every call must return,
// each with its own error or ErrClosed (or ErrCommitUnknown for a record
// under way), never panic; every call made after Close has returned must
// fail with ErrClosed; and every Update acknowledged must be found, by
// the other nodes, after the close.

type stormLog struct {
	mu    sync.Mutex // protects following fields
	errs  map[string]map[string]int
	after map[string][]error // calls that started after Close returned
	acked []uuid.UUID
}

func (s *stormLog) note(op string, err error, afterClose bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errs[op] == nil {
		s.errs[op] = map[string]int{}
	}
	key := "nil"
	if err != nil {
		key = err.Error()
		if len(key) > 120 {
			key = key[:120]
		}
	}
	s.errs[op][key]++
	if afterClose {
		s.after[op] = append(s.after[op], err)
	}
}

// TestCloseRacesEveryCall closes a heap's leader (and, in a second run, a
// follower) under the storm.
func TestCloseRacesEveryCall(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	rounds := 1
	if os.Getenv("OSS_LONG") != "" {
		rounds = 5
	}
	for round := range rounds {
		for _, who := range []string{"leader", "follower"} {
			t.Run(fmt.Sprintf("%s/%d", who, round), func(t *testing.T) { stormClose(t, who) })
		}
	}
}

func stormClose(t *testing.T, who string) {
	c := osstest.Start(t, 3, &osstest.Options{Durable: true})
	for _, name := range []string{"n1", "n2", "n3"} {
		c.Heap(name, "test")
	}
	leader := c.WaitLeader("test")
	target := leader
	if who == "follower" {
		for _, name := range []string{"n1", "n2", "n3"} {
			if name != leader {
				target = name
				break
			}
		}
	}
	n := c.Node(target)
	h := c.Heap(target, "test")
	hot := create(t, h, counter{})
	queue := create(t, h, counter{})
	log := &stormLog{errs: map[string]map[string]int{}, after: map[string][]error{}}
	var closed sync.WaitGroup // done once Close has returned
	closed.Add(1)
	closedNow := make(chan struct{})
	isClosed := func() bool {
		select {
		case <-closedNow:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	ctx := context.Background()
	loop := func(op string, f func() error) {
		wg.Go(func() {
			for {
				after := isClosed()
				err := f()
				log.note(op, err, after)
				if after {
					return
				}
			}
		})
	}
	for range 3 {
		loop("Update", func() error {
			id := uuid.New()
			err := h.Update(ctx, func(tx *oss.Tx) error {
				v, err := oss.Get[counter](tx, hot)
				if err != nil {
					return err
				}
				v.N++
				if err := oss.Put(tx, hot, v); err != nil {
					return err
				}
				return oss.Put(tx, id, counter{N: 1})
			})
			if err == nil {
				log.mu.Lock()
				log.acked = append(log.acked, id)
				log.mu.Unlock()
			}
			return err
		})
	}
	loop("Update ErrRetry", func() error {
		return h.Update(ctx, func(tx *oss.Tx) error {
			v, err := oss.Get[counter](tx, queue)
			if err != nil {
				return err
			}
			if v.N == 0 {
				return tx.Retry()
			}
			return nil
		})
	})
	loop("View", func() error {
		return h.View(ctx, func(tx *oss.Tx) error { _, err := oss.Get[counter](tx, hot); return err }, nil)
	})
	loop("Fresh View", func() error {
		return h.View(ctx, func(tx *oss.Tx) error { _, err := oss.Get[counter](tx, hot); return err }, &oss.ViewOptions{Fresh: true})
	})
	loop("Begin ReadOnly held", func() error {
		tx, err := h.Begin(ctx, &oss.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		for !isClosed() {
			if _, err := oss.Get[counter](tx, hot); err != nil {
				tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	})
	loop("Watch read", func() error {
		w, err := h.Watch(nil)
		if err != nil {
			return err
		}
		defer w.Close()
		for {
			if _, err := w.Next(ctx); err != nil {
				return err
			}
		}
	})
	loop("Watch unread", func() error {
		w, err := h.Watch(&oss.WatchOptions{Buffer: 1})
		if err != nil {
			return err
		}
		<-closedNow
		_, err = w.Next(ctx)
		for err == nil {
			_, err = w.Next(ctx)
		}
		w.Close()
		return err
	})
	loop("CreateHeap/DropHeap", func() error {
		name := "h-" + uuid.NewString()[:8]
		if _, err := n.CreateHeap(ctx, name, nil); err != nil {
			return err
		}
		return n.DropHeap(ctx, name)
	})
	loop("Heap", func() error { _, err := n.Heap(ctx, "test"); return err })
	loop("Grant", func() error {
		return n.Grant(ctx, oss.Grant{Who: "someone", Heap: "test", Perm: oss.PermRead})
	})
	loop("SetHeapReplicas", func() error { return n.SetHeapReplicas(ctx, "test", 3) })
	loop("Status", func() error {
		if s := n.Status(ctx); s.Closed {
			return oss.ErrClosed
		}
		return nil
	})
	loop("Watch new", func() error {
		w, err := h.Watch(nil)
		if err == nil {
			w.Close()
		}
		return err
	})
	// Let the storm run: wait for some acknowledged updates.
	c.Wait("updates acknowledged under the storm", func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return len(log.acked) >= 20
	})
	var closeErr error
	within(t, "Close under the storm", func() { closeErr = n.Close(ctx) })
	close(closedNow)
	closed.Done()
	within(t, "every call to return after Close", func() { wg.Wait() })
	if closeErr != nil {
		t.Errorf("Close: %v", closeErr)
	}
	report(t, log)
	checkAcked(t, c, target, log.acked)
}

func report(t *testing.T, log *stormLog) {
	t.Helper()
	ops := make([]string, 0, len(log.errs))
	for op := range log.errs {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		t.Logf("%s: %v", op, log.errs[op])
	}
	for op, errs := range log.after {
		for _, err := range errs {
			if op == "Status" && errors.Is(err, oss.ErrClosed) {
				continue
			}
			if !errors.Is(err, oss.ErrClosed) {
				t.Errorf("%s called after Close returned: %v, want ErrClosed", op, err)
			}
		}
	}
	for op, m := range log.errs {
		for msg := range m {
			if strings.Contains(msg, "panic") {
				t.Errorf("%s: %s", op, msg)
			}
		}
	}
}

// checkAcked checks that a Fresh View on a node other than closed sees
// every acknowledged object.
func checkAcked(t *testing.T, c *osstest.Cluster, closed string, acked []uuid.UUID) {
	t.Helper()
	for _, name := range []string{"n1", "n2", "n3"} {
		if name == closed {
			continue
		}
		h := c.Heap(name, "test")
		err := h.View(context.Background(), func(tx *oss.Tx) error {
			for _, id := range acked {
				if ok, err := tx.Exists(id); err != nil || !ok {
					return fmt.Errorf("acknowledged object %v: exists %v, %v", id, ok, err)
				}
			}
			return nil
		}, &oss.ViewOptions{Fresh: true})
		if err != nil {
			t.Errorf("on %s after %s closed: %v", name, closed, err)
		}
		t.Logf("%d acknowledged objects checked on %s", len(acked), name)
		return
	}
}
