package oss

import (
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/consistency"
)

// TestReadKeysCountsEveryKeyAgainstMaxGates: a loser takes the gates of
// the keys readKeys returns, and holds at most maxGates. The scan and the
// key it lost on count too: 63 objects read, the scan and another key
// lost on are 65 keys, more than maxGates, so the loser holds the
// lost-on key's gate only. It used to count the objects and roots read
// only, and took 65 gates.
func TestReadKeysCountsEveryKeyAgainstMaxGates(t *testing.T) {
	tx := func(objects int, scanned bool) *Tx {
		st := &txState{scanned: scanned}
		for range objects {
			st.reads = append(st.reads, consistency.Read{ID: uuid.New()})
		}
		return &Tx{txState: st}
	}
	lost := hotKey{root: "lost"}
	for _, c := range []struct {
		objects int
		scanned bool
		want    int
	}{
		{63, true, 1},   // 65 keys: the lost-on key only
		{62, true, 64},  // 64 keys: all of them
		{63, false, 64}, // 64 keys
		{64, false, 1},  // 65 keys
		{64, true, 1},
		{10, true, 12},
	} {
		ks := readKeys(tx(c.objects, c.scanned), lost)
		if len(ks) != c.want {
			t.Errorf("%d objects read, scanned %v, lost on another key: %d keys, want %d", c.objects, c.scanned, len(ks), c.want)
		}
		if len(ks) > maxGates {
			t.Errorf("%d objects read, scanned %v: %d keys, more than maxGates (%d)", c.objects, c.scanned, len(ks), maxGates)
		}
		if !containsKey(ks, lost) {
			t.Errorf("%d objects read, scanned %v: the lost-on key is not among %d keys", c.objects, c.scanned, len(ks))
		}
	}
}

func containsKey(ks []hotKey, k hotKey) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}
