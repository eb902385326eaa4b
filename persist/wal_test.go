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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
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
	// Tests that read a log back and leave it, or cut its power, leave
	// its writer running: it stops when the test ends (Close again is
	// nothing).
	t.Cleanup(func() { w.Close() })
	return w, got, order
}

func TestWALRoundTripAndGroupCommit(t *testing.T) {
	fsys := NewMemFS()
	// The first sync waits until other appends are queued behind it, so
	// that concurrent appends meet a sync under way however the scheduler
	// runs the writers; the next sync must then cover all of them. A
	// first batch of more than one append (all 16 of them, on a loaded
	// machine, and none left to queue) shares its sync already. The rule
	// runs on the log's writer, which owns next and syncedNext.
	ffs := &FaultFS{FS: fsys}
	w, _, _ := collect(t, ffs, "wal", WALOptions{})
	var held sync.Once
	ffs.SetRule(func(op Op, name string) error {
		if op == OpSync {
			held.Do(func() {
				for queued := 0; queued < 2 && w.next-w.syncedNext < 2; time.Sleep(time.Millisecond) {
					w.mu.Lock()
					queued = len(w.queue)
					w.mu.Unlock()
				}
			})
		}
		return nil
	})
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
// that nothing half-written is read back, and that the log goes on: with
// every append synced, and with syncs at an interval (where what was
// acknowledged since the last sync may be lost).
func TestWALCrash(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(modeName(batch), func(t *testing.T) {
			sum := crashSeeds(t, crashMode{batch: batch})
			if sum.seeds >= 100 && (sum.torn == 0 || sum.lost == 0) {
				t.Fatal("no crash tore a record or lost an unacknowledged one: the test does not test recovery")
			}
		})
	}
}

// TestWALCrashAfterFailures is TestWALCrash with failures before the
// crash: syncs that fail (EIO), writes torn by a full disk whose cut-back
// fails, and seals that fail. Every failure is followed by a restart, of
// the machine as the power loss left it and of the process alone: the log
// opens with every record that was acknowledged and synced before, numbered
// without a gap, and no record whose append failed before the log sealed
// it off.
func TestWALCrashAfterFailures(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(modeName(batch), func(t *testing.T) {
			sum := crashSeeds(t, crashMode{batch: batch, faults: true})
			if sum.seeds >= 100 && (sum.sealed == 0 || sum.stopped == 0 || sum.refused == 0 && !batch) {
				t.Fatalf("%+v: the failures did not reach the seal, the stop and the refusal of an append", sum)
			}
		})
	}
}

func modeName(batch bool) string {
	if batch {
		return "batch"
	}
	return "sync"
}

type crashMode struct {
	batch  bool // sync at an interval, not before acknowledging
	faults bool // fail syncs, writes and seals before the crash
}

// crashSum adds up what the crashes of a test did.
type crashSum struct {
	seeds                 int
	torn, lost            int // torn records cut off, unacknowledged ones lost
	sealed, stopped       int // logs that sealed a segment, that stopped
	refused               int // appends that failed, sealed off
	failedSyncs, failedWr int
}

func crashSeeds(t *testing.T, mode crashMode) crashSum {
	// Batch mode waits for its timer: fewer seeds.
	seeds := 300
	if mode.batch || mode.faults {
		seeds = 150
	}
	if os.Getenv("OSS_LONG") != "" {
		seeds = 5000
	}
	first := uint64(1)
	if *walSeed != 0 {
		first, seeds = *walSeed, 1
	}
	sum := crashSum{seeds: seeds}
	for seed := first; seed < first+uint64(seeds); seed++ {
		if !crashOnce(t, seed, mode, &sum) {
			t.Fatalf("seed %d failed (replay with -run '%s' -wal.seed %d)", seed, t.Name(), seed)
		}
	}
	t.Logf("%d crashes: %+v", seeds, sum)
	return sum
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

func crashOnce(t *testing.T, seed uint64, mode crashMode, sum *crashSum) (ok bool) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	mem := NewMemFS()
	fsys := &FaultFS{FS: mem}
	opts := WALOptions{SegmentBytes: int64(256 + rng.IntN(2048))}
	// Zero-filled ahead a whole segment at a time, 64 bytes at a time
	// (the crash may cut a fill short), or not at all.
	opts.Preallocate = []int64{0, 64, -1}[rng.IntN(3)]
	if mode.batch {
		opts.SyncInterval = 50 * time.Microsecond
	}
	w, _, _ := collect(t, fsys, "wal", opts)
	var mu sync.Mutex
	acked := map[uint64][]byte{}
	written := map[string]bool{}
	// Appends that failed, so are not in the log, before the crash and
	// in all (one in flight at the crash may be in its image).
	refusedBefore, refused := map[string]bool{}, map[string]bool{}
	// durable holds what was acknowledged when the last good sync began:
	// in batch mode, what that sync made durable.
	durable := map[uint64][]byte{}
	clone := func(m map[uint64][]byte) map[uint64][]byte {
		c := make(map[uint64][]byte, len(m))
		for k, v := range m {
			c[k] = v
		}
		return c
	}
	// The power fails just before the k-th sync: what that sync would
	// have made durable is written but not yet synced. Before, the j-th
	// sync may fail, the seal after it too, and a write may be torn with
	// its cut-back failing.
	var must map[uint64][]byte
	var crashed *MemFS
	crashAt, syncs, writes := 1+rng.IntN(200), 0, 0
	failSync, failWrite, failSeal := 0, 0, false
	if mode.faults {
		failSync = 1 + rng.IntN(crashAt)
		if rng.IntN(3) == 0 {
			failWrite, failSync = 1+rng.IntN(crashAt), 0
		}
		failSeal = rng.IntN(3) == 0
	}
	sealing := false
	crash := func() {
		must = clone(acked)
		if mode.batch {
			must = clone(durable)
		}
		// A prefix of the unsynced writes, or any of their pages.
		if rng.IntN(2) == 0 {
			crashed = mem.Crash(rng)
		} else {
			crashed = mem.CrashPages(rng)
		}
	}
	fsys.SetRule(func(op Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case op == OpSync && strings.HasSuffix(name, segmentSuffix):
			if syncs++; syncs == crashAt {
				crash()
			}
			if syncs == failSync {
				sum.failedSyncs++
				sealing = failSeal
				return syscall.EIO
			}
			if crashed == nil {
				durable = clone(acked)
			}
		case op == OpWrite && strings.HasSuffix(name, segmentSuffix):
			if writes++; writes == failWrite {
				sum.failedWr++
				return &ShortWrite{Err: syscall.ENOSPC}
			}
		case op == OpTruncate && writes == failWrite:
			sealing = failSeal
			return syscall.EIO
		case op == OpRename && sealing:
			sealing = false
			return syscall.EIO
		}
		return nil
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopped atomic.Bool
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
				mu.Lock()
				switch {
				case err == nil:
					acked[seq] = rec
				case errors.Is(err, ErrFailed):
					stopped.Store(true)
				case !errors.Is(err, ErrClosed):
					refused[string(rec)] = true
					if crashed == nil {
						refusedBefore[string(rec)] = true
					}
				}
				done := crashed != nil || err != nil && (errors.Is(err, ErrFailed) || errors.Is(err, ErrClosed))
				mu.Unlock()
				if done {
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	mu.Lock()
	if crashed == nil {
		// The log stopped before the k-th sync: the power fails now.
		crash()
	}
	mu.Unlock()
	closeErr := w.Close()
	st := w.Stats()
	if st.Seals > 0 {
		sum.sealed++
	}
	if stopped.Load() || errors.Is(closeErr, ErrFailed) {
		sum.stopped++
	}
	if closeErr != nil && !errors.Is(closeErr, ErrFailed) {
		t.Errorf("seed %d: close: %v", seed, closeErr)
		return false
	}
	mu.Lock()
	sum.refused += len(refused)
	// Restarted with the machine, as the power loss left the disk, and
	// with the process alone, on the disk as it is: without a failure
	// this holds every acknowledged record.
	live := acked
	if closeErr != nil && mode.batch {
		live = durable
	}
	mu.Unlock()
	fsys.SetRule(nil)
	for _, restart := range []struct {
		name    string
		fs      FS
		must    map[uint64][]byte
		refused map[string]bool
	}{{"after the power loss", crashed, must, refusedBefore}, {"after the failure", mem, live, refused}} {
		var cuts int
		opts.Logger = slog.New(countingHandler{Handler: slog.NewTextHandler(io.Discard, nil), n: &cuts, mu: new(sync.Mutex)})
		got := map[uint64][]byte{}
		var order []uint64
		w2, err := OpenWAL(restart.fs, "wal", opts, func(seq uint64, rec []byte) error {
			got[seq] = bytes.Clone(rec)
			order = append(order, seq)
			return nil
		})
		if err != nil {
			t.Errorf("seed %d: reopen %s: %v", seed, restart.name, err)
			return false
		}
		ok = true
		for i, seq := range order {
			if seq != uint64(i+1) {
				t.Errorf("seed %d: %s record %d has seq %d", seed, restart.name, i, seq)
				ok = false
				break
			}
			if !written[string(got[seq])] {
				t.Errorf("seed %d: %s record %d holds %q, which nobody wrote", seed, restart.name, seq, got[seq])
				ok = false
			}
			if restart.refused[string(got[seq])] {
				t.Errorf("seed %d: %s record %d holds %q, whose append failed", seed, restart.name, seq, got[seq])
				ok = false
			}
		}
		for seq, rec := range restart.must {
			if !bytes.Equal(got[seq], rec) {
				t.Errorf("seed %d: %s acknowledged record %d (%q) lost: %q", seed, restart.name, seq, rec, got[seq])
				ok = false
			}
		}
		// The repaired log takes appends and reads them back.
		if seq, err := w2.Append([]byte("after")); err != nil || seq != uint64(len(order)+1) {
			t.Errorf("seed %d: append %s: %d, %v", seed, restart.name, seq, err)
			ok = false
		}
		if err := w2.Close(); err != nil {
			t.Errorf("seed %d: close %s: %v", seed, restart.name, err)
			ok = false
		}
		if !ok {
			return false
		}
		if restart.fs == crashed {
			sum.torn += cuts
			sum.lost += len(written) - len(order)
		}
	}
	return true
}

// The log writes its records over zeros it filled ahead of them, so that
// a sync has only data to flush, not a file that grew; opened again, it
// takes the zeros for the end of its records, not for a torn write (it
// cuts and reports nothing), and writes on over them.
func TestWALWritesOverZeros(t *testing.T) {
	dir := t.TempDir()
	opts := WALOptions{Preallocate: 4096}
	w, _, _ := collect(t, OS{}, dir, opts)
	path := filepath.Join(dir, segmentName(1))
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	for i := range 10 {
		if _, err := w.AppendSync(fmt.Appendf(nil, "record %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	filled := size()
	if filled < 4096 {
		t.Fatalf("segment of %d bytes after 10 small records; want at least the 4096 filled ahead", filled)
	}
	for i := 10; i < 20; i++ {
		if _, err := w.AppendSync(fmt.Appendf(nil, "record %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if size() != filled {
		t.Fatalf("the segment grew from %d to %d bytes for records that fit in its zeros", filled, size())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	end := len(bytes.TrimRight(data, "\x00"))
	var mu sync.Mutex
	repairs := 0
	opts.Logger = slog.New(countingHandler{Handler: slog.NewTextHandler(io.Discard, nil), n: &repairs, mu: &mu})
	var got []string
	w, err := OpenWAL(OS{}, dir, opts, func(seq uint64, rec []byte) error {
		got = append(got, string(rec))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 || repairs != 0 || size() != filled {
		t.Fatalf("reopened: %d records, %d repairs logged, %d bytes; want 20, none, %d", len(got), repairs, size(), filled)
	}
	if seq, err := w.Append([]byte("after")); err != nil || seq != 21 {
		t.Fatalf("append after reopening: %d %v", seq, err)
	}
	w.Close()
	data, _ = os.ReadFile(path)
	if next := len(bytes.TrimRight(data, "\x00")); next != end+frameHeader+len("after") {
		t.Fatalf("the records end at %d after one more; want it written at %d, where they ended", next, end)
	}
	if _, again, _ := collect(t, OS{}, dir, WALOptions{}); len(again) != 21 {
		t.Fatalf("reopened with %d records, want 21", len(again))
	}
}

// A zero fill the disk cuts short with an I/O error fails the append it
// was for; the power failing then leaves a log that opens with every
// record synced before. (One cut short for want of space is no failure:
// TestWALZeroFillOutOfSpace.)
func TestWALTornZeroFill(t *testing.T) {
	for seed := range uint64(20) {
		mem := NewMemFS()
		ffs := &FaultFS{FS: mem}
		// Records of 100 bytes, filled ahead 64 bytes at a time: each
		// append writes its record (write 1), then fills zeros (write 2).
		w, _, _ := collect(t, ffs, "wal", WALOptions{Preallocate: 64})
		rec := bytes.Repeat([]byte{'r'}, 100)
		if _, err := w.Append(rec); err != nil {
			t.Fatal(err)
		}
		writes := 0
		ffs.SetRule(func(op Op, name string) error {
			if op == OpWrite {
				if writes++; writes == 2 {
					return &ShortWrite{Err: syscall.EIO}
				}
			}
			return nil
		})
		if _, err := w.Append(rec); !errors.Is(err, syscall.EIO) {
			t.Fatalf("append whose zero fill was cut short: %v", err)
		}
		crashed := mem.Crash(rand.New(rand.NewPCG(seed, 1)))
		w.Close()
		w, got, _ := collect(t, crashed, "wal", WALOptions{Preallocate: 64})
		if len(got) != 1 || !bytes.Equal(got[1], rec) {
			t.Fatalf("seed %d: reopened with %d records, want the one synced", seed, len(got))
		}
		if seq, err := w.Append(rec); err != nil || seq != 2 {
			t.Fatalf("seed %d: append after reopening: %d %v", seed, seq, err)
		}
		w.Close()
	}
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
	data[len(bytes.TrimRight(data, "\x00"))/2] ^= 0xff // in the records, not in the zeros after them
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
	data, _ := os.ReadFile(path)
	f, _ := os.OpenFile(path, os.O_WRONLY, 0)
	f.WriteAt(appendFrame(nil, 11, []byte("a record cut short"))[:frameHeader+5], int64(len(bytes.TrimRight(data, "\x00"))))
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

// walScript builds a segment from a script: each step is a control byte
// and up to 31 bytes of payload (the control byte's top five bits say how
// many). Bits 0 and 1 spoil the frame: 1 gives it the next record's
// sequence number (a gap), 2 breaks the checksum of its payload, 3 flips a
// bit of its length (which then runs past the end of the file) so that its
// header does not check out. Bit 2 cuts the frame in half and ends the
// segment, as a torn write would. Frames after the first spoilt one keep
// its sequence number. It returns the segment (with its header), the
// payloads replay must return (those before the first bad frame), the
// offset of that frame, and whether it is a torn write, one that no record
// header that checks out follows (-1 and false if there is none).
func walScript(script []byte) (seg []byte, good [][]byte, bad int, torn bool) {
	bad = -1
	next := uint64(1)
	seg = []byte(segmentMagic)
	evidence := false // a whole header that checks out after the bad frame
	for len(script) > 0 {
		ctl := script[0]
		n := min(int(ctl>>3), len(script)-1)
		payload := script[1 : 1+n]
		script = script[1+n:]
		seq := next
		if ctl&3 == 1 {
			seq++
		}
		frame := appendFrameMark(nil, seq, payload, true) // each synced before the next was written
		switch ctl & 3 {
		case 2:
			frame[16] ^= 0xff
		case 3:
			frame[2] ^= 0x40 // 4 MiB more or less
		}
		cut := ctl&4 != 0
		if cut {
			frame = frame[:len(frame)/2]
		}
		switch {
		case bad < 0 && ctl&7 != 0:
			bad = len(seg)
			// A frame whose header is whole and checks out but is not
			// the next record is a gap, not a torn write.
			torn = len(frame) < frameHeader || ctl&3 != 1
		case bad < 0:
			good = append(good, payload)
			next++
		case len(frame) >= frameHeader && ctl&3 != 3:
			evidence = true
		}
		seg = append(seg, frame...)
		if cut {
			break
		}
	}
	return seg, good, bad, bad >= 0 && torn && !evidence
}

// embeddedHeader reports whether seg holds after off a marked frame header
// that checks out and numbers a record from next on: a payload can hold one,
// and replay takes it for a record written after a bad frame at off, so
// refuses the log rather than cut it off (the safe way to be wrong).
func embeddedHeader(seg []byte, off int, next uint64) bool {
	for p := off + 1; p+frameHeader <= len(seg); p++ {
		if _, seq, mark, reason := decodeHeader(seg[p:]); reason == "" && seq >= next && mark {
			return true
		}
	}
	return false
}

// FuzzWALSegment: a segment file's bytes (after its header) are
// untrusted; replay must return records or an error, never panic or loop.
// With scripted, the input is a script of frames (walScript) with valid
// checksums unless it says otherwise: replay returns exactly the frames
// before the first bad one, cuts that one off if it is a torn write (no
// valid header follows it) and refuses the log otherwise (or if a payload
// after the bad frame embeds a header that checks out: embeddedHeader). A log that opens takes a new record, and opens again
// with what it replayed and that record.
func FuzzWALSegment(f *testing.F) {
	var seg []byte
	for i := range 3 {
		seg = appendFrame(seg, uint64(i+1), fmt.Appendf(nil, "record %d", i))
	}
	f.Add(seg, false)
	f.Add(seg[:len(seg)-3], false)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, false)
	f.Add([]byte{3 << 3, 'o', 'n', 'e', 3 << 3, 't', 'w', 'o'}, true)
	f.Add([]byte{3 << 3, 'o', 'n', 'e', 3<<3 | 4, 't', 'w', 'o'}, true)
	f.Add([]byte{3 << 3, 'o', 'n', 'e', 3<<3 | 2, 't', 'w', 'o', 0}, true)
	f.Add([]byte{3 << 3, 'o', 'n', 'e', 3<<3 | 1, 't', 'w', 'o'}, true)
	f.Add([]byte{3<<3 | 1, 'o', 'n', 'e', 3 << 3, 't', 'w', 'o'}, true)
	// A flipped length in the middle is damage; at the end, a torn write.
	f.Add([]byte{3 << 3, 'o', 'n', 'e', 3<<3 | 3, 't', 'w', 'o', 3 << 3, 's', 'i', 'x'}, true)
	f.Add([]byte{3 << 3, 'o', 'n', 'e', 3<<3 | 3, 't', 'w', 'o'}, true)
	f.Add([]byte{3 << 3, 'o', 'n', 'e', 3<<3 | 2, 't', 'w', 'o', 3<<3 | 4, 's', 'i', 'x'}, true)
	f.Fuzz(func(t *testing.T, data []byte, scripted bool) {
		var good [][]byte
		bad, torn := -1, false
		if scripted {
			data, good, bad, torn = walScript(data)
		} else {
			data = append([]byte(segmentMagic), data...)
		}
		fsys := NewMemFS()
		fsys.MkdirAll("wal")
		fl, _ := fsys.Create(filepath.Join("wal", segmentName(1)))
		fl.Write(data)
		fl.Sync()
		fsys.SyncDir("wal")
		var got [][]byte
		open := func() (*WAL, error) {
			got = nil
			return OpenWAL(fsys, "wal", WALOptions{Logger: quiet()}, func(seq uint64, rec []byte) error {
				got = append(got, bytes.Clone(rec))
				if seq != uint64(len(got)) {
					t.Fatalf("record %d has seq %d", len(got), seq)
				}
				return nil
			})
		}
		w, err := open()
		if scripted {
			var ce *CorruptError
			switch {
			case bad >= 0 && !torn:
				if !errors.As(err, &ce) || ce.Offset != int64(bad) {
					t.Fatalf("a bad frame at %d that a valid header follows: %v", bad, err)
				}
			case err != nil && !(errors.As(err, &ce) && ce.Offset == int64(bad) && embeddedHeader(data, bad, uint64(len(good)+1))):
				t.Fatalf("a segment whose only damage is a torn tail (at %d) refused: %v", bad, err)
			}
			if len(got) > len(good) || err == nil && len(got) != len(good) {
				t.Fatalf("replayed %d records, want %d", len(got), len(good))
			}
			for i := range got {
				if !bytes.Equal(got[i], good[i]) {
					t.Fatalf("record %d is %q, want %q", i+1, got[i], good[i])
				}
			}
		}
		if err != nil {
			return
		}
		replayed := got
		seq, err := w.Append([]byte("appended"))
		if err != nil || seq != uint64(len(replayed)+1) {
			t.Fatalf("append after %d records: %d %v", len(replayed), seq, err)
		}
		w.Close()
		w, err = open()
		if err != nil {
			t.Fatalf("the log does not open again: %v", err)
		}
		w.Close()
		if len(got) != len(replayed)+1 || string(got[len(replayed)]) != "appended" {
			t.Fatalf("reopened with %d records, want %d", len(got), len(replayed)+1)
		}
		for i := range replayed {
			if !bytes.Equal(got[i], replayed[i]) {
				t.Fatalf("record %d changed: %q, was %q", i+1, got[i], replayed[i])
			}
		}
	})
}

// syncCounter counts the syncs of a log's segments that a FaultFS rule
// sees, and lets a test wait for one after a given count.
type syncCounter struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    int
}

func newSyncCounter() *syncCounter {
	c := &syncCounter{}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *syncCounter) saw() {
	c.mu.Lock()
	c.n++
	c.cond.Broadcast()
	c.mu.Unlock()
}

func (c *syncCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// waitPast waits until more than n syncs were seen.
func (c *syncCounter) waitPast(n int) {
	c.mu.Lock()
	for c.n <= n {
		c.cond.Wait()
	}
	c.mu.Unlock()
}

// appendAndWaitSync appends rec to a log in batch mode and waits until
// the writer has begun a sync after it.
func appendAndWaitSync(t *testing.T, w *WAL, syncs *syncCounter, rec string) uint64 {
	t.Helper()
	// Counted before the append: the log syncs only what was written
	// since its last sync, and what a sync counted before began was
	// (the caller waited for it), so any sync after this count covers
	// rec. Counted after, a sync that began as the write ended would be
	// missed, and the test would wait for one that never comes.
	n := syncs.count()
	seq, err := w.Append([]byte(rec))
	if err != nil {
		t.Fatalf("append %q: %v", rec, err)
	}
	syncs.waitPast(n)
	return seq
}

// reopenContiguous opens the log again and checks that its records are
// numbered 1, 2, ... and hold want, then that it takes an append.
func reopenContiguous(t *testing.T, fsys FS, opts WALOptions, want ...string) {
	t.Helper()
	w, got, order := collect(t, fsys, "wal", opts)
	defer w.Close()
	var have []string
	for i, seq := range order {
		if seq != uint64(i+1) {
			t.Fatalf("after a restart record %d has seq %d", i+1, seq)
		}
		have = append(have, string(got[seq]))
	}
	if !slices.Equal(have, want) {
		t.Fatalf("after a restart the log holds %q, want %q", have, want)
	}
	if seq, err := w.Append([]byte("after")); err != nil || seq != uint64(len(order)+1) {
		t.Fatalf("append after the restart: %d %v", seq, err)
	}
}

// In batch mode a failed periodic sync leaves in doubt what was
// acknowledged since the last good sync. The log must not cut it off and
// go on numbering records (the next start would find record 4 where 3 was
// due, or take the last synced record for a torn write): it stops, every
// later Append fails even once the disk works again (a second sync is not
// to be trusted), Close reports why, and the next start opens with every
// synced record, numbered without a gap.
func TestWALBatchSyncFailureStopsTheLog(t *testing.T) {
	ffs := &FaultFS{FS: NewMemFS()}
	syncs := newSyncCounter()
	var fail atomic.Bool
	ffs.SetRule(func(op Op, name string) error {
		if op != OpSync || !strings.HasSuffix(name, segmentSuffix) {
			return nil
		}
		failing := fail.Load() // decided before the test learns of the sync
		syncs.saw()
		if failing {
			return syscall.EIO
		}
		return nil
	})
	opts := WALOptions{SyncInterval: time.Millisecond}
	w, _, _ := collect(t, ffs, "wal", opts)
	appendAndWaitSync(t, w, syncs, "one")
	appendAndWaitSync(t, w, syncs, "two")
	fail.Store(true)
	appendAndWaitSync(t, w, syncs, "three") // acknowledged, its sync fails
	fail.Store(false)
	for _, rec := range []string{"four", "five"} {
		if seq, err := w.Append([]byte(rec)); !errors.Is(err, syscall.EIO) {
			t.Fatalf("append %q after a failed sync: %d %v; want the failure", rec, seq, err)
		}
	}
	if err := w.Close(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("close after a failed sync: %v", err)
	}
	reopenContiguous(t, ffs, opts, "one", "two")
}

// A batch whose write or sync failed is cut off the segment; when that
// cut fails too, the batch must not stay in the log under the numbers the
// next records take (the log would not open again, or would drop a
// synced record as a torn tail): the log seals the segment and goes on in
// a new one.
func TestWALFailedCutBackSealsTheSegment(t *testing.T) {
	for _, fault := range []struct {
		name string
		op   Op
		err  error
	}{
		{"sync", OpSync, syscall.EIO},
		{"short write", OpWrite, &ShortWrite{Err: syscall.ENOSPC}},
	} {
		t.Run(fault.name, func(t *testing.T) {
			ffs := &FaultFS{FS: NewMemFS()}
			w, _, _ := collect(t, ffs, "wal", WALOptions{})
			if _, err := w.Append([]byte("one")); err != nil {
				t.Fatal(err)
			}
			ffs.SetRule(func(op Op, name string) error {
				switch op {
				case fault.op:
					return fault.err
				case OpTruncate:
					return syscall.EIO
				}
				return nil
			})
			if _, err := w.Append([]byte("lost")); err == nil {
				t.Fatal("an append whose " + fault.name + " failed succeeded")
			}
			ffs.SetRule(nil)
			for _, rec := range []string{"two", "three"} {
				if _, err := w.Append([]byte(rec)); err != nil {
					t.Fatalf("append %q once the disk works: %v", rec, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			reopenContiguous(t, ffs, WALOptions{}, "one", "two", "three")
		})
	}
}

// Close reports a final sync that failed and a segment that did not close.
func TestWALCloseReturnsErrors(t *testing.T) {
	for _, op := range []Op{OpSync, OpClose} {
		t.Run(string(op), func(t *testing.T) {
			ffs := &FaultFS{FS: NewMemFS()}
			// Batch mode, with no periodic sync before Close.
			opts := WALOptions{SyncInterval: time.Hour}
			w, _, _ := collect(t, ffs, "wal", opts)
			if _, err := w.Append([]byte("one")); err != nil {
				t.Fatal(err)
			}
			ffs.SetRule(func(o Op, name string) error {
				if o == op && strings.HasSuffix(name, segmentSuffix) {
					return syscall.EIO
				}
				return nil
			})
			if err := w.Close(); !errors.Is(err, syscall.EIO) {
				t.Fatalf("close when the segment's %s fails: %v", op, err)
			}
			ffs.SetRule(nil)
			if op == OpSync {
				// "one" was never synced: the log cannot vouch for it.
				reopenContiguous(t, ffs, opts)
			} else {
				reopenContiguous(t, ffs, opts, "one")
			}
		})
	}
}

// WALOptions.MaxRecord caps what Append takes: a record at the cap is
// written, one byte more fails the whole append and writes nothing.
func TestWALMaxRecordOption(t *testing.T) {
	fsys := NewMemFS()
	w, _, _ := collect(t, fsys, "wal", WALOptions{MaxRecord: 1000})
	if _, err := w.Append(make([]byte, 10), make([]byte, 1001)); err == nil {
		t.Fatal("a record over WALOptions.MaxRecord was taken")
	}
	seq, err := w.Append(make([]byte, 1000))
	if err != nil || seq != 1 {
		t.Fatalf("a record at WALOptions.MaxRecord: seq %d, %v", seq, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, got, _ := collect(t, fsys, "wal", WALOptions{})
	defer w.Close()
	if len(got) != 1 || len(got[1]) != 1000 {
		t.Fatalf("replayed %d records", len(got))
	}
}

// Stats say which records are acknowledged and which are durable: the
// same ones when every append is synced, fewer durable with
// SyncInterval until the next sync, which a test can wait for.
func TestWALStatsAckedAndDurable(t *testing.T) {
	for _, interval := range []time.Duration{0, time.Hour} {
		w, _, _ := collect(t, NewMemFS(), "wal", WALOptions{SyncInterval: interval})
		seq, err := w.Append([]byte("a"), []byte("b"))
		if err != nil {
			t.Fatal(err)
		}
		st := w.Stats()
		durable := seq + 1
		if interval > 0 {
			durable = seq - 1 // the log's first record: nothing synced yet
		}
		if st.Acked != seq+1 || st.Durable != durable {
			t.Errorf("SyncInterval %v: after records %d and %d, Acked %d, Durable %d; want %d, %d", interval, seq-1, seq, st.Acked, st.Durable, seq+1, durable)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.Durable != seq+1 {
			t.Errorf("SyncInterval %v: after Close, Durable %d, want %d", interval, st.Durable, seq+1)
		}
	}
}

// AppendSync acknowledges only synced records in a log that syncs at an
// interval, where Append acknowledges them written.
func TestWALAppendSyncInIntervalMode(t *testing.T) {
	fsys := NewMemFS()
	w, _, _ := collect(t, fsys, "wal", WALOptions{SyncInterval: time.Hour})
	defer w.Close()
	seq, err := w.Append([]byte("written"))
	if err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Durable > seq {
		t.Fatalf("an Append with a sync interval of an hour is durable at once: %+v", st)
	}
	seq, err = w.AppendSync([]byte("synced"))
	if err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Durable <= seq {
		t.Fatalf("AppendSync returned before its record was synced: seq %d, %+v", seq, st)
	}
	_, got, _ := collect(t, fsys.Crash(rand.New(rand.NewPCG(1, 1))), "wal", WALOptions{})
	if string(got[seq]) != "synced" || string(got[seq-1]) != "written" {
		t.Fatalf("after a power failure the log holds %q and %q: want both records, synced by the second", got[seq-1], got[seq])
	}
}
