package persist

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The tests of this file run a sequence of the log's or the store's
// operations on a RecFS, then, for a power loss after every operation of
// it (every create, write, sync, truncate, rename, removal, new directory
// and directory sync), in every way the disk could be left (RecFS.
// CrashAt), open the log or the store again on what is left and check
// what it holds against what had been acknowledged by then.

// crashEnum calls check on the file systems a power loss after each of
// rec's operations leaves, each once per tag: unsynced data lost, kept
// or torn, names not synced lost or kept; with OSS_LONG set, also the
// unsynced data's new size kept with zeros, and every prefix of the
// unsynced names kept. It returns the number of file systems checked.
func crashEnum(t *testing.T, rec *RecFS, check func(fsys *MemFS, tag int64) error) int {
	t.Helper()
	long := os.Getenv("OSS_LONG") != ""
	modes := []CrashData{DataLost, DataKept, DataTorn}
	if long {
		modes = CrashDataModes
	}
	seen := map[[2]uint64]bool{}
	checked := 0
	for k := range rec.Points() {
		op, tag := rec.Point(k)
		names := []int{NamesLost, NamesKept}
		if long {
			for n := 1; n < rec.Pending(k); n++ {
				names = append(names, n)
			}
		}
		for _, mode := range modes {
			for _, nm := range names {
				fsys, sum := rec.CrashAt(k, mode, nm)
				if seen[[2]uint64{sum, uint64(tag)}] {
					continue
				}
				seen[[2]uint64{sum, uint64(tag)}] = true
				checked++
				if err := check(fsys, tag); err != nil {
					t.Fatalf("power loss after operation %d (%s), %v, names %s: %v", k, op, mode, namesMode(nm), err)
				}
			}
		}
	}
	return checked
}

func namesMode(n int) string {
	switch n {
	case NamesLost:
		return "lost"
	case NamesKept:
		return "kept"
	}
	return fmt.Sprintf("kept up to %d", n)
}

// enumRecord is the record the enumerated log holds at seq.
func enumRecord(seq uint64) []byte {
	return []byte(fmt.Sprintf("record %d %s", seq, strings.Repeat("x", int(seq*137%700))))
}

// walEnumTag packs what the log had acknowledged (its last record
// acknowledged as synced) and the bound of its last truncation (records
// before it may be gone) into a crash point's tag.
func walEnumTag(acked, cut uint64) int64 { return int64(acked | cut<<32) }

// TestWALCrashEnumerated runs a log through appends synced one by one and
// in batches, over segments small enough to rotate every few records (so
// through new segments, their renames and the mark of the last one),
// truncations after a checkpoint would allow them, a close, an open that
// replays it, and more of the same; and checks, for a power loss after
// every operation, that the log opens with every record acknowledged as
// synced and not truncated away, each as appended, numbered without a
// gap, nothing that was not appended, and takes the next append. Once in
// Sync durability, once with a SyncInterval too long to tick, where only
// AppendSync syncs and Append leaves its records unsynced.
func TestWALCrashEnumerated(t *testing.T) {
	t.Parallel()
	for _, interval := range []time.Duration{0, time.Hour} {
		rec := NewRecFS()
		var acked, cut atomic.Uint64
		rec.Tag = func() int64 { return walEnumTag(acked.Load(), cut.Load()) }
		opts := WALOptions{SegmentBytes: 2048, Preallocate: 1024, SyncInterval: interval, Logger: quiet()}
		const dir = "node/wal"
		next := uint64(1)
		for range 3 {
			next = walEnumRound(t, rec, dir, opts, next, &acked, &cut)
		}
		n := crashEnum(t, rec, func(fsys *MemFS, tag int64) error {
			return checkWALImage(fsys, dir, opts, uint64(tag)&(1<<32-1), uint64(tag)>>32, next-1)
		})
		t.Logf("sync interval %v: %d operations, %d file systems checked", interval, rec.Points(), n)
	}
}

// walEnumRound opens the log, appends to it from record next on, truncates
// it now and then, closes it, and returns the next record's number.
func walEnumRound(t *testing.T, rec *RecFS, dir string, opts WALOptions, next uint64, acked, cut *atomic.Uint64) uint64 {
	t.Helper()
	w, err := OpenWAL(rec, dir, opts, func(uint64, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 24 {
		recs := [][]byte{enumRecord(next)}
		if i%4 == 3 { // a batch of three
			recs = append(recs, enumRecord(next+1), enumRecord(next+2))
		}
		// Every AppendSync that returned is acknowledged; an Append only
		// with every append synced.
		synced := i%2 == 0 || opts.SyncInterval == 0
		var last uint64
		if i%2 == 0 {
			last, err = w.AppendSync(recs...)
		} else {
			last, err = w.Append(recs...)
		}
		if err != nil || last != next+uint64(len(recs))-1 {
			t.Fatalf("append: %d %v, want %d", last, err, next+uint64(len(recs))-1)
		}
		next = last + 1
		if synced {
			acked.Store(last)
		}
		if i%6 == 5 && acked.Load() > 3 {
			// A checkpoint covers all but the last few records synced.
			cut.Store(acked.Load() - 3)
			if err := w.TruncateBefore(acked.Load() - 3); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Close synced what was written.
	acked.Store(next - 1)
	return next
}

// checkWALImage opens the log in dir of fsys and checks that it holds
// every record from cut (or its first) to acked, each as appended,
// without a gap, nothing past appended, and takes one more.
func checkWALImage(fsys FS, dir string, opts WALOptions, acked, cut, appended uint64) error {
	var got []uint64
	var bad error
	w, err := OpenWAL(fsys, dir, opts, func(seq uint64, rec []byte) error {
		if !bytes.Equal(rec, enumRecord(seq)) && bad == nil {
			bad = fmt.Errorf("record %d reads %q", seq, rec)
		}
		got = append(got, seq)
		return nil
	})
	if err != nil {
		return fmt.Errorf("the log does not open (acknowledged up to record %d): %w", acked, err)
	}
	defer w.Close()
	if bad != nil {
		return bad
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			return fmt.Errorf("records %d then %d", got[i-1], got[i])
		}
	}
	first, last := uint64(0), uint64(0)
	if len(got) > 0 {
		first, last = got[0], got[len(got)-1]
	}
	if acked > 0 && (last < acked || first > max(cut, 1)) {
		return fmt.Errorf("the log holds records %d to %d, acknowledged %d to %d (%d records replayed)", first, last, max(cut, 1), acked, len(got))
	}
	if last > appended {
		return fmt.Errorf("the log holds record %d, appended only up to %d", last, appended)
	}
	seq, err := w.AppendSync([]byte("after"))
	if err != nil {
		return fmt.Errorf("append after the open: %w", err)
	}
	if len(got) > 0 && seq != last+1 {
		return fmt.Errorf("the append after the open is record %d, want %d", seq, last+1)
	}
	return errors.Join(w.Close())
}
