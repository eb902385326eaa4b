package persist

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
)

// smallDisk is an FS whose files together hold at most free bytes more
// than they held when it was made: a write past that fails with ENOSPC,
// having written what fitted.
type smallDisk struct {
	FS
	free int64
}

func (d *smallDisk) Create(name string) (File, error) {
	f, err := d.FS.Create(name)
	return &smallFile{File: f, disk: d}, err
}

func (d *smallDisk) OpenWrite(name string) (File, error) {
	f, err := d.FS.OpenWrite(name)
	return &smallFile{File: f, disk: d}, err
}

type smallFile struct {
	File
	disk *smallDisk
}

func (f *smallFile) WriteAt(p []byte, off int64) (int, error) {
	size, err := f.Size()
	if err != nil {
		return 0, err
	}
	grow := max(off+int64(len(p))-size, 0)
	if grow <= f.disk.free {
		f.disk.free -= grow
		return f.File.WriteAt(p, off)
	}
	fit := max(int64(len(p))-(grow-f.disk.free), 0)
	n, _ := f.File.WriteAt(p[:fit], off)
	f.disk.free -= max(off+int64(n)-size, 0)
	return n, &pathErr{syscall.ENOSPC}
}

type pathErr struct{ errno syscall.Errno }

func (e *pathErr) Error() string { return "write: " + e.errno.Error() }
func (e *pathErr) Unwrap() error { return e.errno }

// A log on a disk with less free space than it zero-fills ahead of its
// writes (Preallocate) still takes the records that fit, synced and read
// back at the next open; only one that does not fit fails, with ENOSPC.
// Before, the zeros that did not fit failed the write of a record that
// had, so a disk with under 1 MiB free took no record at all: a node
// restarted on it could not elect itself, nor commit.
func TestWALAppendsOnANearlyFullDisk(t *testing.T) {
	mem := NewMemFS()
	disk := &smallDisk{FS: mem, free: 64 << 10}
	w, err := OpenWAL(disk, "/wal", WALOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, 1000)
	var appended int
	for i := range 100 {
		copy(rec, fmt.Sprint(i))
		if _, err := w.Append(rec); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("append %d: %v; want ENOSPC", i, err)
			}
			break
		}
		appended++
	}
	if appended < 60 {
		t.Fatalf("a disk with 64 KiB free took %d records of 1000 bytes", appended)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var replayed int
	w, err = OpenWAL(mem, "/wal", WALOptions{}, func(seq uint64, got []byte) error {
		if want := fmt.Sprint(replayed); string(got[:len(want)]) != want {
			return fmt.Errorf("record %d reads %q", seq, got[:8])
		}
		replayed++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if replayed != appended {
		t.Fatalf("replayed %d records, %d were appended", replayed, appended)
	}
}

// A zero fill cut short for want of space leaves the append it followed
// done and synced: the power failing then leaves a log that opens with
// that record too, the torn zeros after it taken for the end.
func TestWALZeroFillOutOfSpace(t *testing.T) {
	for seed := range uint64(20) {
		mem := NewMemFS()
		ffs := &FaultFS{FS: mem}
		w, _, _ := collect(t, ffs, "wal", WALOptions{Preallocate: 64})
		rec := bytes.Repeat([]byte{'r'}, 100)
		if _, err := w.Append(rec); err != nil {
			t.Fatal(err)
		}
		writes := 0
		ffs.SetRule(func(op Op, name string) error {
			if op == OpWrite {
				if writes++; writes == 2 {
					return &ShortWrite{Err: syscall.ENOSPC}
				}
			}
			return nil
		})
		if _, err := w.Append(rec); err != nil {
			t.Fatalf("append whose zero fill ran out of space: %v", err)
		}
		crashed := mem.Crash(rand.New(rand.NewPCG(seed, 1)))
		w.Close()
		w, got, _ := collect(t, crashed, "wal", WALOptions{Preallocate: 64})
		if len(got) != 2 || !bytes.Equal(got[2], rec) {
			t.Fatalf("seed %d: reopened with %d records, want both", seed, len(got))
		}
		if seq, err := w.Append(rec); err != nil || seq != 3 {
			t.Fatalf("seed %d: append after reopening: %d %v", seed, seq, err)
		}
		w.Close()
	}
}
