package oss_test

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
)

// TestNestedUpdatesAmongTransfers: on one node, 8 clients move 1 between
// random pairs of 10 hot accounts, and 2 more do the same but read one
// more account and call, inside their function, an Update of their own
// that reads that account and writes a cold key. A caller that lost holds
// the gates of the accounts it read while its function runs again; its
// nested Update waits for one of them, its caller's, until the caller has
// run its function for its patience (docs/design.md, "Nested Updates wait
// a floor"), and the transfers waiting for those gates wait as long, then
// go on without them. The test asserts what holds whatever the timing:
// every Update returns, with nil or ErrConflict (counted: keys whose
// holder outlasts its patience have no bound), the nested Updates
// commit, and the accounts keep their sum. It logs the counts that
// measure the wait (done a group, commits/s, most runs).
func TestNestedUpdatesAmongTransfers(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	_, heaps := starveCluster(t, 1, false)
	h := heaps[0]
	ids := starveAccounts(t, h, 10, 1000)
	audit := starveAccounts(t, h, 1, 0)[0]
	var inner atomic.Int64
	groups := []starveGroup{
		{name: "transfer", clients: 8, txn: stTransfer(ids)},
		{name: "nested", clients: 2, txn: stNestedTransfer(h, ids, audit, &inner)},
	}
	res, elapsed := runStarve(t, heaps, groups, starveFor())
	for _, r := range res {
		t.Logf("%s: %d done (%.0f/s), %d ErrConflict, %d unknown, most runs %d, p99 %d",
			r.name, r.done, float64(r.done)/elapsed.Seconds(), r.conflicts, r.unknown, r.maxRuns(), r.p99Runs())
	}
	t.Logf("nested Updates committed: %d", inner.Load())
	if inner.Load() == 0 {
		t.Errorf("no nested Update committed")
	}
	unknown := res[0].unknown + res[1].unknown
	if got, want := starveSum(t, h, ids), int64(1000*len(ids)); unknown == 0 && got != want {
		t.Errorf("the accounts add up to %d, want %d", got, want)
	}
}

// stNestedTransfer moves 1 between two of ids, drawn with rng, and, in
// its function, reads one more of ids and calls an Update of h that
// reads that one and writes it to audit, counting those in inner.
func stNestedTransfer(h *oss.Heap, ids []uuid.UUID, audit uuid.UUID, inner *atomic.Int64) func(rng *rand.Rand) func(*oss.Tx) error {
	transfer := stTransfer(ids)
	return func(rng *rand.Rand) func(*oss.Tx) error {
		from := ids[rng.IntN(len(ids))]
		move := transfer(rng)
		return func(tx *oss.Tx) error {
			if _, err := oss.Get[int64](tx, from); err != nil {
				return err
			}
			err := h.Update(context.Background(), func(tx *oss.Tx) error {
				v, err := oss.Get[int64](tx, from)
				if err != nil {
					return err
				}
				return oss.Put(tx, audit, v)
			})
			if err != nil {
				return err
			}
			inner.Add(1)
			return move(tx)
		}
	}
}
