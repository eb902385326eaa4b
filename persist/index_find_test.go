package persist

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// find gives what slices.BinarySearchFunc with compareIDs gives, for IDs
// present, absent, before the first and after the last, in arrays of
// every small length and a large one, with IDs sharing their first word.
func TestIndexFindMatchesBinarySearch(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 3))
	id := func() [16]byte {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], rng.Uint64N(8)) // few first words: the second decides often
		binary.BigEndian.PutUint64(b[8:], rng.Uint64())
		return b
	}
	for _, n := range []int{0, 1, 2, 3, 7, 8, 31, 100, 5000} {
		var es []idxEntry
		seen := map[[16]byte]bool{}
		for len(es) < n {
			if k := id(); !seen[k] {
				seen[k] = true
				es = append(es, idxEntry{id: k})
			}
		}
		x := indexOf(es)
		probes := [][16]byte{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		for _, e := range x.sorted {
			probes = append(probes, e.id)
		}
		for range 200 {
			probes = append(probes, id())
		}
		for _, p := range probes {
			gi, gok := x.find(p)
			wi, wok := slices.BinarySearchFunc(x.sorted, p, func(e idxEntry, id [16]byte) int { return compareIDs(&e.id, &id) })
			if gi != wi || gok != wok {
				t.Fatalf("seed %d, %d entries, id %x: find %d %v, BinarySearchFunc %d %v", seed, n, p, gi, gok, wi, wok)
			}
		}
	}
}
