package oss_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// A consumer that watched a heap on one node resumes on another, which
// was cut off and catches up from its leader's snapshot: a checkpoint older
// than the version the consumer saw. The watch delivers every commit
// after that version once, and goes back to none it saw.
func TestLib2WatchResumedOnANodeBehindItsVersion(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, &osstest.Options{Durable: true, Configure: func(_ string, cfg *oss.Config) {
		cfg.Logger = quietLogger()
		cfg.CheckpointEvery = 50
		cfg.KeepEntries = 4
	}})
	id := uuid.New()
	h1 := c.Heap("n1", "r")
	h3 := c.Heap("n3", "r")
	bump(t, h1, id)
	c.WaitConverged("r")
	c.Partition([]string{"n1", "n2"}, []string{"n3"})
	w1, err := h1.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w1.Close()
	l := &watchLog{t: t, id: id}
	l.take(nextWithin(t, w1))
	for range 120 {
		bump(t, h1, id)
		l.take(nextWithin(t, w1))
	}
	st := h1.Stats()
	t.Logf("n1 at %d, seen %d (%d)", st.Applied, l.index, l.last)
	w3, err := h3.Watch(&oss.WatchOptions{From: l.index, Incarnation: l.inc})
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Close()
	t.Logf("n3 at %d", h3.Stats().Applied)
	c.Heal()
	bump(t, h1, id)
	var want counter
	h1.View(context.Background(), func(tx *oss.Tx) error { want, err = oss.Get[counter](tx, id); return err }, nil)
	for l.last < want.N {
		ev := nextWithin(t, w3)
		t.Logf("n3: %v at %d", ev.Kind, ev.Index)
		l.take(ev)
	}
}
