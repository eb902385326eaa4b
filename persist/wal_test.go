package persist

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

var walSeed = flag.Uint64("wal.seed", 0, "run the WAL crash test with this seed only")

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func collect(t *testing.T, fsys FS, dir string, opts WALOptions) (*WAL, map[uint64][]byte, []uint64) {
	t.Helper()
	got := map[uint64][]byte{}
	var order []uint64
	opts.Logger = quiet()
	w, err := OpenWAL(fsys, dir, opts, func(seq uint64, rec []byte) error {
		got[seq] = bytes.Clone(rec)
		order = append(order, seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return w, got, order
}

func TestWALRoundTripAndGroupCommit(t *testing.T) {
	fsys := NewMemFS()
	w, _, _ := collect(t, fsys, "wal", WALOptions{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[uint64][]byte{}
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				rec := fmt.Appendf(nil, "g%d-%d", g, i)
				seq, err := w.Append(rec)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[seq] = rec
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st := w.Stats()
	w.Close()
	if st.Appends != 800 || st.Syncs >= st.Appends {
		t.Fatalf("16 writers: %+v; want one sync shared by concurrent appends", st)
	}
	_, got, order := collect(t, fsys, "wal", WALOptions{})
	if len(got) != 800 {
		t.Fatalf("replayed %d records, want 800", len(got))
	}
	for i, seq := range order {
		if seq != uint64(i+1) || !bytes.Equal(got[seq], acked[seq]) {
			t.Fatalf("record %d: seq %d %q, want %q", i, seq, got[seq], acked[seq])
		}
	}
}

func TestWALSegmentsAndTruncation(t *testing.T) {
	fsys := NewMemFS()
	w, _, _ := collect(t, fsys, "wal", WALOptions{SegmentBytes: 1024})
	for i := range 200 {
		if _, err := w.Append(fmt.Appendf(nil, "record-%03d-%s", i, bytes.Repeat([]byte{'x'}, 40))); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := fsys.ReadDir("wal")
	if len(names) < 5 {
		t.Fatalf("%d segments for 200 records of 1 KiB segments", len(names))
	}
	if err := w.TruncateBefore(150); err != nil {
		t.Fatal(err)
	}
	w.Close()
	_, got, order := collect(t, fsys, "wal", WALOptions{SegmentBytes: 1024})
	if order[0] > 150 || order[len(order)-1] != 200 || len(got) != int(200-order[0]+1) {
		t.Fatalf("after truncation replayed %d..%d (%d records)", order[0], order[len(order)-1], len(got))
	}
}

// TestWALCrash appends from several goroutines, cuts the power at a random
// moment, and checks that every acknowledged record survives, in order,
// that nothing half-written is read back, and that the log goes on.
func TestWALCrash(t *testing.T) {
	seeds := 300
	if os.Getenv("OSS_LONG") != "" {
		seeds = 5000
	}
	first := uint64(1)
	if *walSeed != 0 {
		first, seeds = *walSeed, 1
	}
	var torn, lost int
	for seed := first; seed < first+uint64(seeds); seed++ {
		ok, cut, unacked := crashOnce(t, seed)
		if !ok {
			t.Fatalf("seed %d failed (replay with -wal.seed %d)", seed, seed)
		}
		torn += cut
		lost += unacked
	}
	t.Logf("%d crashes: %d torn records cut off, %d unacknowledged records lost", seeds, torn, lost)
	if seeds >= 100 && (torn == 0 || lost == 0) {
		t.Fatal("no crash tore a record or lost an unacknowledged one: the test does not test recovery")
	}
}

// countingHandler counts the log lines of a WAL's repairs.
type countingHandler struct {
	slog.Handler
	n  *int
	mu *sync.Mutex
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.n++
	h.mu.Unlock()
	return nil
}

func crashOnce(t *testing.T, seed uint64) (ok bool, torn, unacked int) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	mem := NewMemFS()
	fsys := &FaultFS{FS: mem}
	opts := WALOptions{SegmentBytes: int64(256 + rng.IntN(2048))}
	w, _, _ := collect(t, fsys, "wal", opts)
	var mu sync.Mutex
	acked := map[uint64][]byte{}
	written := map[string]bool{}
	// The power fails just before the k-th sync: what that sync would
	// have made durable is written but not yet synced.
	var must map[uint64][]byte
	var crashed *MemFS
	crashAt, syncs := 1+rng.IntN(200), 0
	fsys.SetRule(func(op Op, name string) error {
		if op != OpSync {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if syncs++; syncs == crashAt {
			must = make(map[uint64][]byte, len(acked))
			for k, v := range acked {
				must[k] = v
			}
			crashed = mem.Crash(rng)
		}
		return nil
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rec := fmt.Appendf(nil, "s%d-g%d-%d-%s", seed, g, i, bytes.Repeat([]byte{'y'}, i%50))
				mu.Lock()
				written[string(rec)] = true
				mu.Unlock()
				seq, err := w.Append(rec)
				if err != nil {
					return
				}
				mu.Lock()
				acked[seq] = rec
				done := crashed != nil
				mu.Unlock()
				if done {
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	w.Close()

	var cuts int
	opts.Logger = slog.New(countingHandler{Handler: slog.NewTextHandler(io.Discard, nil), n: &cuts, mu: new(sync.Mutex)})
	got := map[uint64][]byte{}
	var order []uint64
	w2, err := OpenWAL(crashed, "wal", opts, func(seq uint64, rec []byte) error {
		got[seq] = bytes.Clone(rec)
		order = append(order, seq)
		return nil
	})
	if err != nil {
		t.Errorf("seed %d: reopen after the crash: %v", seed, err)
		return false, 0, 0
	}
	ok = true
	for i, seq := range order {
		if seq != uint64(i+1) {
			t.Errorf("seed %d: record %d has seq %d", seed, i, seq)
			ok = false
			break
		}
		if !written[string(got[seq])] {
			t.Errorf("seed %d: record %d holds %q, which nobody wrote", seed, seq, got[seq])
			ok = false
		}
	}
	for seq, rec := range must {
		if !bytes.Equal(got[seq], rec) {
			t.Errorf("seed %d: acknowledged record %d (%q) lost: %q", seed, seq, rec, got[seq])
			ok = false
		}
	}
	// The repaired log takes appends and reads them back.
	if seq, err := w2.Append([]byte("after")); err != nil || seq != uint64(len(order)+1) {
		t.Errorf("seed %d: append after recovery: %d, %v", seed, seq, err)
		ok = false
	}
	w2.Close()
	mu.Lock()
	unacked = len(written) - len(order)
	mu.Unlock()
	return ok, cuts, unacked
}

func TestWALCorruptionInTheMiddleIsRefused(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := collect(t, OS{}, dir, WALOptions{})
	for i := range 100 {
		if _, err := w.Append(fmt.Appendf(nil, "record %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	path := filepath.Join(dir, segmentName(1))
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 0xff
	os.WriteFile(path, data, 0o600)
	_, err := OpenWAL(OS{}, dir, WALOptions{Logger: quiet()}, nil)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != path || ce.Offset <= 0 || ce.Offset >= int64(len(data)) {
		t.Fatalf("a corrupt record in the middle: %v", err)
	}
}

func TestWALTornTailIsCutOff(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := collect(t, OS{}, dir, WALOptions{})
	for i := range 10 {
		w.Append(fmt.Appendf(nil, "record %d", i))
	}
	w.Close()
	path := filepath.Join(dir, segmentName(1))
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(appendFrame(nil, 11, []byte("a record cut short"))[:20])
	f.Close()
	w, got, _ := collect(t, OS{}, dir, WALOptions{})
	if len(got) != 10 {
		t.Fatalf("replayed %d records, want the 10 whole ones", len(got))
	}
	if seq, err := w.Append([]byte("next")); err != nil || seq != 11 {
		t.Fatalf("append after cutting the tail: %d %v", seq, err)
	}
	w.Close()
	if _, got, _ := collect(t, OS{}, dir, WALOptions{}); string(got[11]) != "next" {
		t.Fatalf("record 11 after reopening: %q", got[11])
	}
}

func TestWALDiskFull(t *testing.T) {
	ffs := &FaultFS{FS: NewMemFS()}
	w, _, _ := collect(t, ffs, "wal", WALOptions{})
	if _, err := w.Append([]byte("one")); err != nil {
		t.Fatal(err)
	}
	for _, fault := range []struct {
		op  Op
		err error
	}{{OpWrite, syscall.ENOSPC}, {OpSync, syscall.EIO}} {
		ffs.SetRule(func(op Op, name string) error {
			if op == fault.op {
				return fault.err
			}
			return nil
		})
		if _, err := w.Append([]byte("lost")); !errors.Is(err, fault.err) {
			t.Fatalf("append while %s fails: %v", fault.op, err)
		}
		ffs.SetRule(nil)
		if _, err := w.Append([]byte("again")); err != nil {
			t.Fatalf("append once %s works again: %v", fault.op, err)
		}
	}
	w.Close()
	_, got, order := collect(t, ffs, "wal", WALOptions{})
	want := []string{"one", "again", "again"}
	if len(order) != len(want) {
		t.Fatalf("replayed %d records: %v", len(order), got)
	}
	for i, seq := range order {
		if seq != uint64(i+1) || string(got[seq]) != want[i] {
			t.Fatalf("record %d: %d %q, want %q", i, seq, got[seq], want[i])
		}
	}
}

// FuzzWALSegment: a segment file's bytes are untrusted; replay must
// return records or an error, never panic or loop.
func FuzzWALSegment(f *testing.F) {
	var seg []byte
	for i := range 3 {
		seg = appendFrame(seg, uint64(i+1), fmt.Appendf(nil, "record %d", i))
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := NewMemFS()
		fsys.MkdirAll("wal")
		fl, _ := fsys.Create(filepath.Join("wal", segmentName(1)))
		fl.Write(data)
		fl.Sync()
		fsys.SyncDir("wal")
		n := 0
		w, err := OpenWAL(fsys, "wal", WALOptions{Logger: quiet()}, func(seq uint64, rec []byte) error {
			n++
			if seq != uint64(n) {
				t.Fatalf("record %d has seq %d", n, seq)
			}
			return nil
		})
		if err == nil {
			w.Close()
		}
	})
}
