package oss

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/persist"
)

// A log write refused as it is encoded (a record that does not marshal,
// a leader's snapshot the store does not take) leaves its Ready to the
// engine, which hands it out again once the log takes the write: every
// commit reaches a watch once, in log order, however many of the writes
// that carry the next entries beside the last ones' commits are refused.
// Carried out the first time too, a Ready's changes reached the watches
// twice.
func TestWriteRefusedAsEncodedDeliversChangesOnce(t *testing.T) {
	c := startTestNodesWith(t, 41, nil)
	c.fss["solo"] = persist.NewMemFS()
	n := c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo" })
	h, err := n.CreateHeapIfNotExists(context.Background(), "bank", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := h.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Every third write that carries entries is refused, each write once:
	// a refusal has every write in flight made again, so with three in
	// flight, refusing by the count alone refused the third of them at
	// every try, and the heap never wrote again (the test hung in a CI
	// run at load 20; the loop was answering nothing for 19 minutes).
	var writes, refused atomic.Int64
	var mu sync.Mutex
	once := map[uint64]bool{}
	fault := func(wr engine.Write) error {
		mu.Lock()
		defer mu.Unlock()
		if len(wr.Entries) > 0 && writes.Add(1)%3 == 0 && !once[wr.Seq] {
			once[wr.Seq] = true
			refused.Add(1)
			return errors.New("test: the record does not marshal")
		}
		return nil
	}
	h.encodeFault.Store(&fault)

	const writers, each = 4, 15
	var wg sync.WaitGroup
	committed := map[uuid.UUID]bool{}
	for range writers {
		wg.Go(func() {
			for done := 0; done < each; {
				id := uuid.New()
				err := update(context.Background(), h, func(tx *Tx) error { return Put(tx, id, ledger{1}) })
				if err == nil {
					mu.Lock()
					committed[id] = true
					mu.Unlock()
					done++
				}
				// A refused commit may have committed (unknown outcome)
				// or not: its object is looked for below either way.
			}
		})
	}
	wg.Wait()
	h.encodeFault.Store(nil)
	if refused.Load() == 0 {
		t.Fatal("no write refused: the test tests nothing")
	}

	var last uint64
	seen := map[uuid.UUID]int{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for found := 0; found < len(committed); {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("%d of %d acknowledged commits seen: %v", found, len(committed), err)
		}
		if ev.Kind != EventChange {
			continue
		}
		if ev.Index <= last {
			t.Fatalf("event of index %d after one of %d: a commit delivered again", ev.Index, last)
		}
		last = ev.Index
		for _, ch := range ev.Objects {
			if seen[ch.ID]++; seen[ch.ID] > 1 {
				t.Fatalf("object %v delivered %d times", ch.ID, seen[ch.ID])
			}
			if committed[ch.ID] {
				found++
			}
		}
	}
	t.Logf("%d writes refused as encoded, %d acknowledged commits each seen once", refused.Load(), len(committed))
}
