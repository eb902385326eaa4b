package consistency

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// results returns the log's decisions as Results, nil if there are none.
func (d *decisionLog) results() []Result {
	var rs []Result
	for i := range d.len() {
		rs = append(rs, d.result(i))
	}
	return rs
}

// logOf returns a log of the decisions of order.
func logOf(order []Result) *decisionLog {
	var d decisionLog
	for _, r := range order {
		d.push(r)
	}
	return &d
}

// TestDecisionLog: a log pushed to and pruned from across blocks holds
// what a slice of Results does, root conflicts included; a view taken at
// any point keeps what the log held then, however the log goes on; and
// blocks pruned away are no longer referenced by the log.
func TestDecisionLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var d decisionLog
	var want []Result
	type snap struct {
		v    decisionLog
		want []Result
	}
	var snaps []snap
	index := uint64(0)
	for step := range 20000 {
		switch op := rng.IntN(10); {
		case op < 6:
			index += 1 + rng.Uint64N(3)
			r := Result{TxID: randID(rng), Index: index, Outcome: Outcome(1 + rng.IntN(4))}
			switch rng.IntN(5) {
			case 0:
				r.ConflictID = randID(rng)
			case 1:
				r.ConflictRoot = randName(rng)
			case 2:
				r.ConflictScan = true
			}
			d.push(r)
			want = append(want, r)
		case op < 9:
			k := min(len(want), rng.IntN(blockLen/2))
			d.dropFront(k)
			want = want[k:]
		default:
			snaps = append(snaps, snap{d.view(), append([]Result(nil), want...)})
		}
		if step%997 == 0 || step == 19999 {
			if got := d.results(); !reflect.DeepEqual(got, nilIfEmpty(want)) {
				t.Fatalf("step %d: the log holds %d decisions, want %d (or they differ)", step, len(got), len(want))
			}
			if len(d.blocks) > (d.head+d.len())/blockLen+1 {
				t.Fatalf("step %d: %d blocks for %d decisions from %d", step, len(d.blocks), d.len(), d.head)
			}
			for i := range want {
				if j := d.search(want[i].Index); j != i {
					t.Fatalf("step %d: search(%d) = %d, want %d", step, want[i].Index, j, i)
				}
			}
		}
	}
	for i, s := range snaps {
		if got := s.v.results(); !reflect.DeepEqual(got, nilIfEmpty(s.want)) {
			t.Fatalf("view %d changed: %d decisions, want %d (or they differ)", i, len(got), len(s.want))
		}
	}
}

func nilIfEmpty(rs []Result) []Result {
	if len(rs) == 0 {
		return nil
	}
	return rs
}
