package oss_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

type cell struct {
	Seq int64
}

// committedTx is what one committed transaction observed and did.
type committedTx struct {
	index  uint64
	reads  map[int]int64 // object number -> Seq read, -1 absent
	writes map[int]int64 // object number -> Seq written, -1 deleted
}

type viewObs struct {
	index uint64
	vals  []int64
}

// TestConcurrentHistoryIsSerializable runs random transactions from many
// goroutines and checks the history: replaying the committed transactions
// serially in log order gives every read they made, and every View saw the
// state after some log index.
func TestConcurrentHistoryIsSerializable(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("OSS_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (replay with OSS_SEED=%d)", seed, seed)
	defer func() {
		if t.Failed() {
			t.Logf("failed with seed %d: replay with OSS_SEED=%d go test ./oss -run TestConcurrentHistoryIsSerializable", seed, seed)
		}
	}()
	_, h := openHeap(t, nil)
	ctx := context.Background()
	const objects, workers = 8, 8
	perWorker := 150
	switch {
	case testing.Short():
		perWorker = 40
	case os.Getenv("OSS_LONG") != "":
		perWorker = 5000
	}
	ids := make([]uuid.UUID, objects)
	for i := range ids {
		ids[i] = uuid.New()
	}
	var seq atomic.Int64
	var mu sync.Mutex
	var history []committedTx
	var views []viewObs
	stop := make(chan struct{})
	var viewers sync.WaitGroup
	viewers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			obs := viewObs{vals: make([]int64, objects)}
			err := h.View(ctx, func(tx *oss.Tx) error {
				obs.index = tx.Index()
				for i, id := range ids {
					c, err := oss.Get[cell](tx, id)
					switch {
					case errors.Is(err, oss.ErrNotFound):
						obs.vals[i] = -1
					case err != nil:
						return err
					default:
						obs.vals[i] = c.Seq
					}
				}
				return nil
			}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			views = append(views, obs)
			mu.Unlock()
		}
	})
	var wg sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for range perWorker {
				nr, nw := rng.IntN(4), rng.IntN(3)
				readSet := rng.Perm(objects)[:nr]
				writeSet := rng.Perm(objects)[:nw]
				del := rng.IntN(6) == 0
				err := h.Update(ctx, func(tx *oss.Tx) error {
					obs := committedTx{reads: map[int]int64{}, writes: map[int]int64{}}
					for _, i := range readSet {
						c, err := oss.Get[cell](tx, ids[i])
						switch {
						case errors.Is(err, oss.ErrNotFound):
							obs.reads[i] = -1
						case err != nil:
							return err
						default:
							obs.reads[i] = c.Seq
						}
					}
					for k, i := range writeSet {
						if del && k == 0 {
							obs.writes[i] = -1
							if err := tx.Delete(ids[i]); err != nil {
								return err
							}
							continue
						}
						s := seq.Add(1)
						obs.writes[i] = s
						if err := oss.Put(tx, ids[i], cell{s}); err != nil {
							return err
						}
					}
					tx.OnCommit(func() {
						obs.index = tx.Index()
						mu.Lock()
						history = append(history, obs)
						mu.Unlock()
					})
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	viewers.Wait()

	slices.SortFunc(history, func(a, b committedTx) int { return int(a.index) - int(b.index) })
	model := make([]int64, objects)
	for i := range model {
		model[i] = -1
	}
	states := map[uint64][]int64{0: slices.Clone(model)}
	var indexes []uint64
	var last uint64
	for _, c := range history {
		if len(c.reads) == 0 && len(c.writes) == 0 {
			continue // an empty transaction commits without a log entry
		}
		if c.index == last {
			t.Fatalf("two transactions committed at index %d", c.index)
		}
		last = c.index
		for i, v := range c.reads {
			if model[i] != v {
				t.Fatalf("transaction at %d read %d of object %d; serial order has %d", c.index, v, i, model[i])
			}
		}
		for i, v := range c.writes {
			model[i] = v
		}
		states[c.index] = slices.Clone(model)
		indexes = append(indexes, c.index)
	}
	for _, v := range views {
		k, _ := slices.BinarySearch(indexes, v.index+1)
		var at uint64
		if k > 0 {
			at = indexes[k-1]
		}
		if !slices.Equal(states[at], v.vals) {
			t.Fatalf("view at index %d saw %v; the state after index %d is %v", v.index, v.vals, at, states[at])
		}
	}
	final := viewObs{vals: make([]int64, objects)}
	h.View(ctx, func(tx *oss.Tx) error {
		for i, id := range ids {
			c, err := oss.Get[cell](tx, id)
			final.vals[i] = c.Seq
			if err != nil {
				final.vals[i] = -1
			}
		}
		return nil
	}, nil)
	if !slices.Equal(final.vals, model) {
		t.Fatalf("final state %v, serial replay %v", final.vals, model)
	}
	if len(history) < workers*perWorker || len(views) == 0 {
		t.Fatalf("%d commits and %d views checked", len(history), len(views))
	}
	t.Logf("%d committed transactions and %d views checked; %+v", len(history), len(views), h.Stats())
}
