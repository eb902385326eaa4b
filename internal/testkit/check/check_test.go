package check

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func ap(k, v int) Mop           { return Mop{Kind: Append, Key: k, Value: v} }
func rd(k int, list ...int) Mop { return Mop{Kind: Read, Key: k, List: list} }

// txn builds a committed, real-time transaction over [start, end].
func txn(id int, start, end int64, mops ...Mop) Txn {
	return Txn{ID: id, Process: id, Mops: mops, Status: OK, Realtime: true, Start: start, End: end}
}

func kinds(as []Anomaly) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Kind)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestListAppendAnomalies(t *testing.T) {
	plain := func(tx Txn) Txn { tx.Realtime = false; return tx }
	status := func(tx Txn, s Status) Txn { tx.Status = s; return tx }
	for _, c := range []struct {
		name  string
		h     []Txn
		want  []string // kinds reported, sorted
		cycle int      // the length of the cycle reported, if any
	}{
		{"serial", []Txn{
			txn(0, 0, 1, ap(1, 1)),
			txn(1, 2, 3, rd(1, 1), ap(1, 2), rd(1, 1, 2)),
			txn(2, 4, 5, rd(1, 1, 2), rd(2)),
		}, nil, 0},
		{"concurrent and consistent", []Txn{
			txn(0, 0, 10, ap(1, 1), ap(2, 1)),
			txn(1, 5, 15, ap(1, 2)),
			txn(2, 1, 20, rd(1, 1, 2), rd(2, 1)),
		}, nil, 0},
		{"G0: write cycle", []Txn{
			txn(0, 0, 10, ap(1, 1), ap(2, 2)),
			txn(1, 0, 10, ap(1, 2), ap(2, 1)),
			txn(2, 20, 30, rd(1, 1, 2), rd(2, 1, 2)),
		}, []string{"G0"}, 2},
		{"G1a: aborted read", []Txn{
			status(txn(0, 0, 10, ap(1, 1)), Fail),
			txn(1, 20, 30, rd(1, 1)),
		}, []string{"G1a"}, 0},
		{"G1b: intermediate read", []Txn{
			txn(0, 0, 10, ap(1, 1), ap(1, 2)),
			plain(txn(1, 20, 30, rd(1, 1))),
			txn(2, 20, 30, rd(1, 1, 2)),
		}, []string{"G-single", "G1b"}, 0},
		{"G1c: circular information flow", []Txn{
			txn(0, 0, 10, ap(1, 1), rd(2, 1)),
			txn(1, 0, 10, ap(2, 1), rd(1, 1)),
		}, []string{"G1c"}, 2},
		{"G-single: read skew", []Txn{
			txn(0, 0, 10, ap(1, 1), ap(2, 1)),
			plain(txn(1, 0, 10, rd(1), rd(2, 1))),
			txn(2, 20, 30, rd(1, 1)),
		}, []string{"G-single"}, 2},
		{"G2: write skew", []Txn{
			txn(0, 0, 10, rd(1), rd(2), ap(1, 1)),
			txn(1, 0, 10, rd(1), rd(2), ap(2, 1)),
			txn(2, 20, 30, rd(1, 1), rd(2, 1)),
		}, []string{"G2"}, 2},
		{"lost update", []Txn{
			txn(0, 0, 10, rd(1), ap(1, 1)),
			txn(1, 0, 10, rd(1), ap(1, 2)),
			txn(2, 20, 30, rd(1, 1, 2)),
		}, []string{"G-single", "lost-update"}, 2},
		{"stale Fresh read", []Txn{
			txn(0, 0, 10, ap(1, 1)),
			txn(1, 20, 30, rd(1)),
			plain(txn(2, 40, 50, rd(1, 1))),
		}, []string{"G-single-realtime", "stale-read"}, 2},
		{"stale plain view is allowed", []Txn{
			txn(0, 0, 10, ap(1, 1)),
			plain(txn(1, 20, 30, rd(1))),
			txn(2, 40, 50, rd(1, 1)),
		}, nil, 0},
		{"unknown outcome seen", []Txn{
			status(txn(0, 0, 10, ap(1, 1)), Info),
			txn(1, 20, 30, rd(1, 1)),
		}, nil, 0},
		{"incompatible order", []Txn{
			txn(0, 0, 10, ap(1, 1)),
			txn(1, 0, 10, ap(1, 2)),
			txn(2, 20, 30, rd(1, 1, 2)),
			txn(3, 20, 30, rd(1, 2, 1)),
		}, []string{"incompatible-order"}, 0},
		{"duplicate append", []Txn{
			txn(0, 0, 10, ap(1, 1)),
			txn(1, 20, 30, rd(1, 1, 1)),
		}, []string{"duplicate"}, 0},
		{"garbage", []Txn{
			txn(0, 20, 30, rd(1, 7)),
		}, []string{"garbage-read"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := CheckListAppend(c.h)
			if got := kinds(res.Anomalies); !slices.Equal(got, c.want) {
				t.Fatalf("reported %v, want %v:\n%v", got, c.want, res.Anomalies)
			}
			for _, a := range res.Anomalies {
				if a.Explain == "" || len(a.Txns) == 0 {
					t.Fatalf("%s without the transactions that show it", a.Kind)
				}
				if c.cycle > 0 && strings.HasPrefix(a.Kind, "G") && a.Kind != "G1a" && a.Kind != "G1b" && len(a.Txns) != c.cycle {
					t.Fatalf("%s: a cycle of %d, want the smallest, %d: %s", a.Kind, len(a.Txns), c.cycle, a.Explain)
				}
			}
		})
	}
}

// The smallest cycle is reported even when a component holds longer ones.
func TestListAppendReportsTheShortestCycle(t *testing.T) {
	// A ring of 6 write-write edges over keys 1..6 plus a 2-cycle between
	// T0 and T1 on key 7.
	var h []Txn
	for i := range 6 {
		h = append(h, txn(i, 0, 10, ap(i+1, 100+i), ap((i+1)%6+1, 200+i)))
	}
	var final []Mop
	for k := 1; k <= 6; k++ {
		// Key k: appended by T(k-1) (100+k-1) after T(k-2 mod 6)'s 200+ value.
		prev := (k + 4) % 6
		final = append(final, rd(k, 200+prev, 100+k-1))
	}
	h[0].Mops = append(h[0].Mops, ap(7, 1))
	h[1].Mops = append(h[1].Mops, ap(7, 2))
	h[0].Mops = append(h[0].Mops, ap(8, 2))
	h[1].Mops = append(h[1].Mops, ap(8, 1))
	final = append(final, rd(7, 1, 2), rd(8, 1, 2))
	h = append(h, txn(6, 20, 30, final...))
	res := CheckListAppend(h)
	if len(res.Anomalies) != 1 || res.Anomalies[0].Kind != "G0" || len(res.Anomalies[0].Txns) != 2 {
		t.Fatalf("want one G0 cycle of 2, got %v", res.Anomalies)
	}
}

// histories simulates clients of a store over keys: a correct one runs
// each transaction atomically at a point within its interval; a broken one
// reads at the start and writes at the end without checking its reads.
func histories(seed uint64, broken bool, n int) []Txn {
	rng := rand.New(rand.NewPCG(seed, 1))
	lists := map[int][]int{}
	next := map[int]int{}
	type pending struct {
		tx       Txn
		snapshot map[int][]int
		at       int64 // commit point
	}
	var out []Txn
	var clock int64
	var inflight []pending
	flush := func(p pending) {
		t := p.tx
		own := map[int][]int{}
		for i, m := range t.Mops {
			switch m.Kind {
			case Read:
				src := lists
				if broken {
					src = p.snapshot
				}
				t.Mops[i].List = append(append([]int(nil), src[m.Key]...), own[m.Key]...)
			case Append:
				own[m.Key] = append(own[m.Key], m.Value)
			}
		}
		for k, vs := range own {
			lists[k] = append(lists[k], vs...)
		}
		out = append(out, t)
	}
	for i := range n {
		clock += int64(rng.IntN(3))
		var mops []Mop
		for range 1 + rng.IntN(4) {
			k := rng.IntN(4)
			if rng.IntN(2) == 0 {
				next[k]++
				mops = append(mops, ap(k, next[k]))
			} else {
				mops = append(mops, rd(k))
			}
		}
		snap := map[int][]int{}
		for k, v := range lists {
			snap[k] = append([]int(nil), v...)
		}
		tx := Txn{ID: i, Process: i % 5, Mops: mops, Status: OK, Realtime: true, Start: clock}
		inflight = append(inflight, pending{tx: tx, snapshot: snap, at: clock + int64(rng.IntN(20))})
		// Commit what is due, in commit-point order.
		slices.SortFunc(inflight, func(a, b pending) int { return int(a.at - b.at) })
		for len(inflight) > 0 && inflight[0].at <= clock {
			p := inflight[0]
			inflight = inflight[1:]
			flush(p)
			out[len(out)-1].End = clock + int64(rng.IntN(3))
		}
	}
	for _, p := range inflight {
		flush(p)
		out[len(out)-1].End = p.at + 1
	}
	// A final read of every key orders every append.
	var final []Mop
	for k := range 4 {
		final = append(final, Mop{Kind: Read, Key: k, List: lists[k]})
	}
	out = append(out, Txn{ID: n, Process: 99, Mops: final, Status: OK, Realtime: true, Start: clock + 100, End: clock + 101})
	return out
}

// A correct store's histories check clean; a store that does not validate
// reads is caught, on every seed.
func TestListAppendSimulatedStores(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		if res := CheckListAppend(histories(seed, false, 300)); len(res.Anomalies) > 0 {
			t.Fatalf("seed %d: a correct store reported: %v", seed, res.Anomalies[0])
		}
		res := CheckListAppend(histories(seed, true, 300))
		if len(res.Anomalies) == 0 {
			t.Fatalf("seed %d: a store without read validation passed", seed)
		}
	}
}

func TestBank(t *testing.T) {
	good := BankRead{Balances: map[int]int64{0: 50, 1: 50}}
	torn := BankRead{Balances: map[int]int64{0: 40, 1: 50}}
	missing := BankRead{Balances: map[int]int64{0: 100}}
	if a := CheckBank([]BankRead{good, good}, 2, 100); len(a) != 0 {
		t.Fatalf("a conserved bank reported: %v", a)
	}
	a := CheckBank([]BankRead{good, torn, missing}, 2, 100)
	if len(a) != 2 || a[0].Txns[0] != 1 || a[1].Txns[0] != 2 || !strings.Contains(a[0].Explain, "0:40") {
		t.Fatalf("a torn and a partial snapshot: %v", a)
	}
}

func TestRegisters(t *testing.T) {
	w := func(p, k, v int, s, e int64) RegisterOp {
		return RegisterOp{Process: p, Key: k, Write: true, Value: v, Start: s, End: e}
	}
	r := func(p, k, v int, s, e int64) RegisterOp {
		return RegisterOp{Process: p, Key: k, Value: v, Start: s, End: e}
	}
	ok := []RegisterOp{
		w(0, 1, 1, 0, 10), r(1, 1, 1, 20, 30), w(0, 1, 2, 25, 35), r(1, 1, 2, 31, 40), r(2, 1, 1, 26, 32),
		w(0, 2, 5, 0, 10), r(1, 2, 0, 1, 2),
	}
	if a := CheckRegisters(ok, 5*time.Second); len(a) != 0 {
		t.Fatalf("a linearizable history reported: %v", a)
	}
	// An unknown write may take effect late, or never.
	unknown := []RegisterOp{{Process: 0, Key: 1, Write: true, Value: 3, Unknown: true, Start: 0}, r(1, 1, 0, 5, 6), r(1, 1, 3, 10, 11)}
	if a := CheckRegisters(unknown, 5*time.Second); len(a) != 0 {
		t.Fatalf("an unknown write that landed late reported: %v", a)
	}
	// A stale read: 2 was acknowledged before the read began.
	bad := append([]RegisterOp{}, ok...)
	bad = append(bad, w(3, 1, 7, 50, 60), r(4, 1, 2, 70, 80))
	a := CheckRegisters(bad, 5*time.Second)
	if len(a) != 1 || a[0].Kind != "nonlinearizable" || !strings.Contains(a[0].Explain, "key 1") {
		t.Fatalf("a stale register read: %v", a)
	}
	// The history shown is cut down to what shows it.
	if n := strings.Count(a[0].Explain, "\n"); n != 3 || !strings.Contains(a[0].Explain, "write(1, 7)") {
		t.Fatalf("the history shown has %d operations, not the few that show it:\n%s", n, a[0].Explain)
	}
}
