package persist

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// A MemFS file's durable bytes are its bytes as of its last Sync, whatever
// was appended, overwritten, written past its end or cut off before and
// after: what a power loss that keeps nothing unsynced leaves (Crash with
// no randomness), checked after every step of a seeded sequence against
// a copy taken at each Sync.
func TestMemFSSyncKeepsWhatWasSynced(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m := NewMemFS()
	f, err := m.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	var data, synced []byte // the file as written, and as of its last Sync
	chunk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(1 + rng.IntN(255))
		}
		return b
	}
	for step := range 3000 {
		switch op := rng.IntN(4); op {
		case 0:
			p := chunk(rng.IntN(300))
			_, err = f.Write(p)
			data = append(data, p...)
		case 1:
			off, p := rng.IntN(len(data)+100), chunk(rng.IntN(200))
			_, err = f.WriteAt(p, int64(off))
			if end := off + len(p); end > len(data) {
				data = append(data, make([]byte, end-len(data))...)
			}
			copy(data[off:], p)
		case 2:
			size := rng.IntN(len(data) + 50)
			err = f.Truncate(int64(size))
			data = data[:min(size, len(data))]
		case 3:
			err = f.Sync()
			synced = slices.Clone(data)
		}
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if got := readMem(t, m, "f"); !bytes.Equal(got, data) {
			t.Fatalf("step %d: the file holds %d bytes, not the %d written", step, len(got), len(data))
		}
		if got := readMem(t, m.Crash(nil), "f"); !bytes.Equal(got, synced) {
			t.Fatalf("step %d: after a power loss the file holds %d bytes, not the %d synced", step, len(got), len(synced))
		}
	}
}
