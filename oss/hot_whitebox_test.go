package oss

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestHotTableDecayAndEviction checks the contention table's arithmetic:
// counts halve every HotHalfLife, a full table replaces its coldest key,
// the newcomer inherits its score as an overcount, and scores survive a
// rescale of the landmark.
func TestHotTableDecayAndEviction(t *testing.T) {
	var tb hotTable
	t0 := time.Unix(1_000_000, 0)
	hot := hotKey{id: uuid.New()}
	for range 8 {
		tb.note(hot, t0, uuid.Nil, "")
	}
	if got := tb.lately(hot, t0.Add(HotHalfLife)); math.Abs(got-4) > 1e-9 {
		t.Fatalf("after one half-life: %v, want 4", got)
	}
	// Fill the table with cold keys, then one more: the coldest goes.
	t1 := t0.Add(HotHalfLife)
	var colds []hotKey
	for i := range hotK - 1 {
		k := hotKey{root: string(rune('a' + i))}
		colds = append(colds, k)
		tb.note(k, t1.Add(time.Duration(i)*time.Millisecond), uuid.Nil, "")
	}
	late := hotKey{scan: true}
	now := t1.Add(time.Second)
	tb.note(late, now, uuid.Nil, "")
	rows := tb.snapshot(now, nil)
	if len(rows) != hotK {
		t.Fatalf("%d rows", len(rows))
	}
	if rows[0].ID != hot.id {
		t.Fatalf("hottest: %+v", rows[0])
	}
	if tb.lately(colds[0], now) != 0 {
		t.Fatalf("the coldest (oldest) key was not replaced")
	}
	var scan HotObject
	for _, r := range rows {
		if r.Scan {
			scan = r
		}
	}
	if scan.Conflicts != 1 || scan.Overcount < 0.9 || scan.Lately-scan.Overcount < 0.99 {
		t.Fatalf("newcomer: %+v", scan)
	}
	// Far later: a rescale keeps the ratios.
	far := now.Add(time.Duration(hotRescale+10) * time.Duration(hotTau*float64(time.Second)))
	tb.note(hot, far, uuid.Nil, "")
	if got := tb.lately(hot, far); math.Abs(got-1) > 1e-6 {
		t.Fatalf("after a long quiet: %v, want 1", got)
	}
}

// TestHotTxIDCarriesNode checks that transaction IDs carry their node's
// tag and stay version 7 UUIDs.
func TestHotTxIDCarriesNode(t *testing.T) {
	const node = 0x1234_5678_9abc_def0
	seen := map[uuid.UUID]bool{}
	for range 1000 {
		id, err := newTxID(node)
		if err != nil {
			t.Fatal(err)
		}
		if id.Version() != 7 || id.Variant() != uuid.RFC4122 || uint64(txNodeTag(id)) != node&0xffffffff || seen[id] {
			t.Fatalf("txid %v", id)
		}
		seen[id] = true
	}
}

// TestHotContentionAcrossNodes makes transactions of node b lose
// conflicts on one object: every replica of the heap lists it first, with
// b as the node that lost, and b alone knows the operation.
func TestHotContentionAcrossNodes(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 17, "a", "b", "c")
	ha, hb, hc := c.open("a", "hot"), c.open("b", "hot"), c.open("c", "hot")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := uuid.New()
	if err := ha.Update(ctx, func(tx *Tx) error { return Put(tx, id, 0) }); err != nil {
		t.Fatal(err)
	}
	const losses = 5
	for i := range losses {
		tx, err := hb.Begin(WithOperation(ctx, "withdraw"), &TxOptions{Fresh: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Get[int](tx, id); err != nil {
			t.Fatal(err)
		}
		if err := ha.Update(ctx, func(tx *Tx) error { return Put(tx, id, i+1) }); err != nil {
			t.Fatal(err)
		}
		if err := Put(tx, id, -1); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); !errors.Is(err, ErrConflict) {
			t.Fatalf("b's stale commit: %v", err)
		}
	}
	for _, h := range []*Heap{ha, hb, hc} {
		var top HotObject
		for ctx.Err() == nil {
			if hot := h.Hot(); len(hot) > 0 {
				top = hot[0]
				if top.Conflicts == losses {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		wantOp := ""
		if h == hb {
			wantOp = "withdraw"
		}
		if top.ID != id || top.Conflicts != losses || top.LastNode != "b" || top.LastOp != wantOp {
			t.Errorf("%s: hottest %+v", h.node.cfg.Name, top)
		}
	}
	if s := hb.Stats(); s.Conflicts != losses {
		t.Errorf("b counted %d conflicts", s.Conflicts)
	}
}
