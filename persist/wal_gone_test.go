package persist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A log whose segment is removed while it runs (alone, or with its
// directory and everything in it) fails the append whose sync finds it
// gone, and every later one, with ErrFailed and an error that names the
// segment; it acknowledges nothing more. Before, it went on writing and
// syncing into the unlinked file and acknowledged appends that no restart
// found. A directory that is left (the segment alone removed) is marked,
// and the next open refuses the log, naming the mark, rather than replay
// the segments before as a log that ended there (a crash just after a
// rotation reads so).
func TestWALStopsWhenItsSegmentIsGone(t *testing.T) {
	for _, c := range []struct {
		name string
		os   bool
		// gone removes the segment being written, seg, in dir.
		gone func(t *testing.T, fsys FS, dir, seg string)
		// left: the directory is there for the next open.
		left bool
	}{
		{"memfs segment removed", false, func(t *testing.T, fsys FS, dir, seg string) {
			if err := fsys.Remove(seg); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"os segment removed", true, func(t *testing.T, fsys FS, dir, seg string) {
			if err := os.Remove(seg); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"os directory removed", true, func(t *testing.T, fsys FS, dir, seg string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		for _, batch := range []bool{false, true} {
			t.Run(fmt.Sprint(c.name, "/", modeName(batch)), func(t *testing.T) {
				var fsys FS = NewMemFS()
				dir := "wal"
				if c.os {
					fsys, dir = OS{}, filepath.Join(t.TempDir(), "wal")
				}
				opts := WALOptions{SegmentBytes: 4 << 10}
				if batch {
					opts.SyncInterval = time.Millisecond
				}
				w, _, _ := collect(t, fsys, dir, opts)
				defer w.Close()
				// Several segments, so that what is left after the last
				// one is removed is a log that opens.
				for i := range 40 {
					if _, err := w.AppendSync(fmt.Appendf(nil, "%0300d", i)); err != nil {
						t.Fatal(err)
					}
				}
				starts := w.SegmentStarts()
				if len(starts) < 2 {
					t.Fatalf("one segment: %v", starts)
				}
				seg := filepath.Join(dir, segmentName(starts[len(starts)-1]))
				c.gone(t, fsys, dir, seg)
				_, err := w.AppendSync([]byte("after"))
				if !errors.Is(err, ErrFailed) || !errors.Is(err, ErrGone) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), seg) {
					t.Fatalf("an append into a log whose segment %s is gone: %v", seg, err)
				}
				t.Log(err)
				for _, sync := range []bool{false, true} {
					if _, err := w.append(&appendReq{recs: [][]byte{[]byte("later")}, sync: sync, done: make(chan struct{})}); !errors.Is(err, ErrFailed) {
						t.Fatalf("an append once the log is gone (sync %v): %v", sync, err)
					}
				}
				if err := w.Close(); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), seg) {
					t.Fatalf("close of a log that is gone: %v", err)
				}
				if !c.left {
					return
				}
				_, err = OpenWAL(fsys, dir, WALOptions{Logger: quiet()}, nil)
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.File != filepath.Join(dir, lostMark) || !strings.Contains(err.Error(), seg) {
					t.Fatalf("open of a log that found %s gone: %v", seg, err)
				}
			})
		}
	}
}

// A log directory moved away, and another made in its place, while the
// log runs leaves the segment linked (in the directory moved away): the
// log finds it gone by its name at the next sync, and stops. What it
// acknowledged until then is in the directory moved away, whole: moved
// back, it opens with every acknowledged record.
func TestWALStopsWhenItsDirectoryIsReplaced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	w, _, _ := collect(t, OS{}, dir, WALOptions{})
	defer w.Close()
	var acked []string
	for i := range 10 {
		rec := fmt.Sprint("before-", i)
		if _, err := w.Append([]byte(rec)); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, rec)
	}
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := w.Append([]byte("after"))
	seg := filepath.Join(dir, segmentName(1))
	if !errors.Is(err, ErrGone) || !strings.Contains(err.Error(), seg) || !strings.Contains(err.Error(), "replaced") {
		t.Fatalf("the first append into a log whose directory was replaced: %v", err)
	}
	if _, err := w.Append([]byte("later")); !errors.Is(err, ErrFailed) {
		t.Fatalf("an append once the log is gone: %v", err)
	}
	w.Close()
	if _, err := OpenWAL(OS{}, dir, WALOptions{Logger: quiet()}, nil); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, lostMark)) {
		t.Fatalf("open of the directory made in the log's place: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	w, got, order := collect(t, OS{}, dir, WALOptions{})
	defer w.Close()
	var have []string
	for _, seq := range order {
		have = append(have, string(got[seq]))
	}
	// The append that found the log gone is not acknowledged; its
	// record, synced, may be there (ErrFailed: its outcome is unknown).
	if len(have) > len(acked)+1 || !slices.Equal(have[:min(len(have), len(acked))], acked) {
		t.Fatalf("the directory moved back holds %q, want every acknowledged record, %q", have, acked)
	}
}

// noLinkCountFS is a MemFS whose files report a link count of zero, as a
// file system that keeps none may.
type noLinkCountFS struct{ *MemFS }

type noLinkCountFile struct{ File }

func (f noLinkCountFile) Linked() (bool, error) { return false, nil }

func (f noLinkCountFile) Named(name string) (bool, error) { return f.File.(PlacedFile).Named(name) }

func (fsys noLinkCountFS) Create(name string) (File, error) {
	f, err := fsys.MemFS.Create(name)
	return noLinkCountFile{f}, err
}

func (fsys noLinkCountFS) OpenWrite(name string) (File, error) {
	f, err := fsys.MemFS.OpenWrite(name)
	return noLinkCountFile{f}, err
}

// On a file system that reports no link count (zero) for its files the
// log goes on: a zero is confirmed by the segment's name before the log
// takes itself for gone. Its segment removed, it stops as on any other.
func TestWALTakesAFileSystemWithoutLinkCounts(t *testing.T) {
	fsys := noLinkCountFS{NewMemFS()}
	w, _, _ := collect(t, fsys, "wal", WALOptions{SegmentBytes: 4 << 10})
	defer w.Close()
	for i := range 40 {
		if _, err := w.Append(fmt.Appendf(nil, "%0300d", i)); err != nil {
			t.Fatalf("append %d on a file system without link counts: %v", i, err)
		}
	}
	starts := w.SegmentStarts()
	seg := filepath.Join("wal", segmentName(starts[len(starts)-1]))
	if err := fsys.Remove(seg); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append([]byte("after")); !errors.Is(err, ErrGone) {
		t.Fatalf("an append once %s is gone: %v", seg, err)
	}
}
