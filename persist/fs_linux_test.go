package persist

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// stampedAfterCheck writes to a new file n times, each time: a write, the
// check, the time now, a write, and a stat of the file. It returns how
// many of those last writes stamped the file with a time taken after the
// clock was read, which on a file system with multigrain timestamps only
// a write after a look at the file's times does; without one the write
// leaves the time the write before it set.
func stampedAfterCheck(t *testing.T, n int, check func(f *osFile, name string)) int {
	t.Helper()
	name := filepath.Join(t.TempDir(), "seg")
	f := createPlaced(t, name)
	stamped := 0
	for range n {
		if _, err := f.Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
		check(f, name)
		before := time.Now()
		if _, err := f.Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		m := st.Sys().(*syscall.Stat_t).Mtim
		if !time.Unix(m.Sec, m.Nsec).Before(before) {
			stamped++
		}
	}
	return stamped
}

// The log checks that its segment is in place after every sync. The check
// must not look at the segment's times: on a file system with multigrain
// timestamps (ext4 and others since Linux 6.13) every write after such a
// look takes a fine-grained time of its own and dirties the inode,
// which made every commit slower.
func TestPlacedChecksDoNotStampEveryWrite(t *testing.T) {
	const n = 500
	stat := stampedAfterCheck(t, n, func(f *osFile, _ string) {
		if _, err := f.Stat(); err != nil {
			t.Fatal(err)
		}
	})
	checks := stampedAfterCheck(t, n, func(f *osFile, name string) {
		wantPlaced(t, f, name, "a file in place", true, true)
	})
	t.Logf("writes after a check stamped with a new time, of %d: %d after fstat, %d after the log's checks", n, stat, checks)
	if stat < n/2 {
		t.Logf("this file system has no multigrain timestamps: fstat does not stamp each write either")
		return
	}
	if checks >= n/2 {
		t.Fatalf("%d of %d writes after the log's checks stamped a new time, as after fstat (%d): the checks look at the file's times", checks, n, stat)
	}
}

// Where statx is refused (an old kernel, or a seccomp filter that does
// not know it), the checks ask with fstat and still tell a removed
// segment, rather than stop the log on the refusal.
func TestPlacedChecksWhereStatxIsRefused(t *testing.T) {
	for _, refusal := range []error{unix.ENOSYS, unix.EPERM} {
		t.Run(refusal.Error(), func(t *testing.T) {
			calls := 0
			statx = func(int, string, int, int, *unix.Statx_t) error { calls++; return refusal }
			t.Cleanup(func() { statx = unix.Statx; statxRefused.Store(false) })
			name := filepath.Join(t.TempDir(), "seg")
			f := createPlaced(t, name)
			wantPlaced(t, f, name, "a file in place", true, true)
			if err := os.Remove(name); err != nil {
				t.Fatal(err)
			}
			wantPlaced(t, f, name, "a removed file", false, false)
			if calls != 1 {
				t.Errorf("statx was asked %d times; once refused it should not be asked again", calls)
			}
		})
	}
}

// A file system may answer statx without a field it was asked for (the
// mask says which it filled). The checks then ask with fstat rather than
// read the empty field: a removed segment has a link count of zero, and a
// name renamed over names another inode, whatever statx left out.
func TestPlacedChecksWhereStatxLeavesFieldsOut(t *testing.T) {
	statx = func(dirfd int, path string, flags, mask int, st *unix.Statx_t) error {
		if err := unix.Statx(dirfd, path, flags, mask, st); err != nil {
			return err
		}
		*st = unix.Statx_t{} // answered, with no field filled
		return nil
	}
	t.Cleanup(func() { statx = unix.Statx })
	dir := t.TempDir()
	name := filepath.Join(dir, "seg")
	f := createPlaced(t, name)
	wantPlaced(t, f, name, "a file in place", true, true)
	// Another file renamed over the name: the name is no longer f's.
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, name); err != nil {
		t.Fatal(err)
	}
	wantPlaced(t, f, name, "a file another was renamed over (no name left)", false, false)
	if statxRefused.Load() {
		t.Errorf("an answer without a field was taken as statx refused")
	}
}

// createPlaced creates the file name for the checks to look at, closed
// when the test ends.
func createPlaced(t *testing.T, name string) *osFile {
	t.Helper()
	file, err := OS{}.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	return file.(*osFile)
}

// wantPlaced fails the test unless Linked and Named of f say linked and
// named; what describes the file's state in the message.
func wantPlaced(t *testing.T, f *osFile, name, what string, linked, named bool) {
	t.Helper()
	if ok, err := f.Linked(); err != nil || ok != linked {
		t.Fatalf("Linked of %s = %v, %v; want %v, nil", what, ok, err, linked)
	}
	if ok, err := f.Named(name); err != nil || ok != named {
		t.Fatalf("Named of %s = %v, %v; want %v, nil", what, ok, err, named)
	}
}

// The log asks after every sync whether its segment's path still names
// the file it writes. The open file's device and inode do not change, so
// they are asked once; each later check looks up only the path, and
// still tells the path renamed over, removed, and put back.
func TestNamedAsksTheOpenFileOnce(t *testing.T) {
	var paths, files int
	statx = func(dirfd int, path string, flags, mask int, st *unix.Statx_t) error {
		if path == "" {
			files++
		} else {
			paths++
		}
		return unix.Statx(dirfd, path, flags, mask, st)
	}
	t.Cleanup(func() { statx = unix.Statx })
	dir := t.TempDir()
	name := filepath.Join(dir, "seg")
	f := createPlaced(t, name)
	for range 100 {
		if ok, err := f.Named(name); err != nil || !ok {
			t.Fatalf("Named of a file in place = %v, %v", ok, err)
		}
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(name, filepath.Join(dir, "aside")); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.Named(name); err != nil || ok {
		t.Fatalf("Named of a file moved aside = %v, %v; want false", ok, err)
	}
	if err := os.Rename(other, name); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.Named(name); err != nil || ok {
		t.Fatalf("Named of a path another file was renamed over = %v, %v; want false", ok, err)
	}
	if err := os.Rename(filepath.Join(dir, "aside"), name); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.Named(name); err != nil || !ok {
		t.Fatalf("Named of the file put back = %v, %v; want true", ok, err)
	}
	if files != 1 || paths != 103 {
		t.Errorf("103 checks asked statx of the open file %d times and of the path %d; want once and 103", files, paths)
	}
}
