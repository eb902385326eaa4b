package persist

import (
	"math/rand/v2"
	"testing"
)

// The index answers as a map would through sets, replacements and
// deletions of IDs, across the merges of its added IDs into its array
// and the rebuilds that drop deleted ones.
func TestIDIndexIsAMap(t *testing.T) {
	t.Parallel()
	const seed = 7
	rng := rand.New(rand.NewPCG(seed, seed))
	x, want := newIDIndex(), map[[16]byte]loc{}
	ids := make([][16]byte, 20_000)
	for i := range ids {
		for k := range ids[i] {
			ids[i][k] = byte(rng.Uint32())
		}
	}
	for op := range 200_000 {
		id := ids[rng.IntN(len(ids))]
		if rng.IntN(4) == 0 {
			x.delete(id)
			delete(want, id)
		} else {
			l := loc{seg: uint32(op), size: uint32(1 + rng.IntN(100)), off: int64(op)}
			x.set(id, l)
			want[id] = l
		}
		if op%10_000 == 0 || op == 199_999 {
			if x.Len() != len(want) {
				t.Fatalf("seed %d, op %d: Len %d, want %d", seed, op, x.Len(), len(want))
			}
			n := 0
			x.each(func(loc) { n++ })
			if n != len(want) {
				t.Fatalf("seed %d, op %d: each visits %d, want %d", seed, op, n, len(want))
			}
			for _, id := range ids {
				got, ok := x.get(id)
				w, wok := want[id]
				if ok != wok || got != w {
					t.Fatalf("seed %d, op %d: get(%x) = %v, %v; want %v, %v", seed, op, id, got, ok, w, wok)
				}
			}
		}
	}
	x.update(func(l *loc) { l.off = -l.off })
	for id, w := range want {
		if got, _ := x.get(id); got.off != -w.off {
			t.Fatalf("seed %d: after update, get(%x).off = %d, want %d", seed, id, got.off, -w.off)
		}
	}
}
