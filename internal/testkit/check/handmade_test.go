package check

import (
	"slices"
	"testing"
)

// Hand-made bad histories, one for each thing the checker claims to
// catch: each must be reported, as its kind.
func TestHandMadeBadHistories(t *testing.T) {
	plain := func(tx Txn) Txn { tx.Realtime = false; return tx }
	status := func(tx Txn, s Status) Txn { tx.Status = s; return tx }
	for _, c := range []struct {
		name string
		h    []Txn
		want string
	}{
		{"lost write, read after the reader's own append", []Txn{
			txn(0, 0, 10, ap(1, 1)),
			txn(1, 20, 30, ap(1, 2), rd(1, 2)),
		}, "stale-read"},
		{"lost write, seen by plain reads past a later append", []Txn{
			txn(0, 0, 10, ap(1, 1)),
			txn(1, 20, 30, ap(1, 2)),
			plain(txn(2, 40, 50, rd(1, 2))),
		}, "lost-write"},
		{"lost write, an unknown later append seen", []Txn{
			txn(0, 0, 10, ap(1, 1)),
			status(txn(1, 20, 30, ap(1, 2)), Info),
			plain(txn(2, 40, 50, rd(1, 2))),
		}, "lost-write"},
		{"stale read of an older version", []Txn{
			txn(0, 0, 10, ap(1, 1)),
			txn(1, 11, 19, ap(1, 2)),
			txn(2, 20, 30, rd(1, 1)),
		}, "stale-read"},
		{"stale read after the reader's own append", []Txn{
			txn(0, 0, 10, ap(1, 1)),
			txn(1, 11, 19, ap(1, 2)),
			txn(2, 20, 30, ap(1, 3), rd(1, 1, 3)),
			txn(3, 40, 50, rd(1, 1, 3)),
		}, "stale-read"},
		{"write skew", []Txn{
			txn(0, 0, 10, rd(1), rd(2), ap(1, 1)),
			txn(1, 0, 10, rd(1), rd(2), ap(2, 1)),
			plain(txn(2, 20, 30, rd(1, 1), rd(2, 1))),
		}, "G2"},
		{"read of an aborted write", []Txn{
			status(txn(0, 0, 10, ap(1, 1)), Fail),
			txn(1, 5, 15, ap(1, 2)),
			plain(txn(2, 20, 30, rd(1, 1, 2))),
		}, "G1a"},
		{"read of an aborted write by a plain view", []Txn{
			status(txn(0, 0, 10, ap(1, 1)), Fail),
			plain(txn(1, 20, 30, rd(1, 1))),
		}, "G1a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := CheckListAppend(c.h)
			if !slices.Contains(kinds(res.Anomalies), c.want) {
				t.Fatalf("reported %v, want %s among them:\n%v", kinds(res.Anomalies), c.want, res.Anomalies)
			}
		})
	}
}
