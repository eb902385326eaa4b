package persist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// A log opened again after an open that made its directories but failed
// to sync their parents keeps a record acknowledged in it through a power
// loss: the second open syncs the parents of directories that exist too
// (it left them as they were, and the record was lost with the directory
// names).
func TestMakeDirRetryAfterFailedSync(t *testing.T) {
	rec := NewRecFS()
	ff := &FaultFS{FS: rec}
	ff.SetRule(func(op Op, name string) error {
		if op == OpSyncDir && name == "." {
			return errors.New("injected EIO")
		}
		return nil
	})
	if _, err := OpenWAL(ff, "node/wal", WALOptions{Logger: quiet()}, func(uint64, []byte) error { return nil }); err == nil {
		t.Fatal("the first open did not fail")
	}
	ff.SetRule(nil)
	w, err := OpenWAL(ff, "node/wal", WALOptions{Logger: quiet()}, func(uint64, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AppendSync(enumRecord(1)); err != nil {
		t.Fatal(err)
	}
	img, _ := rec.CrashAt(rec.Points()-1, DataLost, NamesLost)
	w.Close()
	if err := checkWALImage(img, "node/wal", WALOptions{Logger: quiet()}, 1, 0, 1); err != nil {
		t.Fatal(err)
	}
}

// The same after a process killed between making the directories and
// syncing their parents (MkdirAll alone).
func TestMakeDirAfterKilledMkdir(t *testing.T) {
	rec := NewRecFS()
	if err := rec.MkdirAll("node/wal"); err != nil {
		t.Fatal(err)
	}
	w, err := OpenWAL(rec, "node/wal", WALOptions{Logger: quiet()}, func(uint64, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AppendSync(enumRecord(1)); err != nil {
		t.Fatal(err)
	}
	img, _ := rec.CrashAt(rec.Points()-1, DataLost, NamesLost)
	w.Close()
	if err := checkWALImage(img, "node/wal", WALOptions{Logger: quiet()}, 1, 0, 1); err != nil {
		t.Fatal(err)
	}
}

// dirLog is the OS, recording the directories synced and failing
// ReadDir (MakeDir needs no listing) and the syncs fail says.
type dirLog struct {
	OS
	mu    sync.Mutex
	syncs []string
	fail  func(dir string) error
}

func (s *dirLog) SyncDir(d string) error {
	s.mu.Lock()
	s.syncs = append(s.syncs, d)
	s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(d); err != nil {
			return err
		}
	}
	return s.OS.SyncDir(d)
}

func (s *dirLog) ReadDir(d string) ([]string, error) {
	return nil, fmt.Errorf("ReadDir(%s) asked", d)
}

// Every call syncs the parent of every directory on the path, those that
// existed before too, without listing any directory.
func TestMakeDirSyncsEveryParent(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	for range 2 {
		s := &dirLog{}
		if err := MakeDir(s, filepath.Join("a", "b", "c")); err != nil {
			t.Fatal(err)
		}
		if want := []string{".", "a", filepath.Join("a", "b")}; !slices.Equal(s.syncs, want) {
			t.Errorf("synced %q, want %q", s.syncs, want)
		}
	}
	s := &dirLog{}
	abs := filepath.Join(root, "a", "b")
	if err := MakeDir(s, abs+string(filepath.Separator)); err != nil {
		t.Fatal(err)
	}
	if len(s.syncs) == 0 || s.syncs[0] != string(filepath.Separator) || s.syncs[len(s.syncs)-1] != filepath.Join(root, "a") {
		t.Errorf("synced %q for %s: want every parent from / to %s", s.syncs, abs, filepath.Join(root, "a"))
	}
}

// "link/../x" is made where it is synced: as cleaned, "x" in the working
// directory (filepath.Join, which persist names its files with, cleans
// it so too), not next to link's target while "." is synced.
func TestMakeDirSymlinkDotDot(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"elsewhere/sub", "cwd"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "elsewhere", "sub"), filepath.Join(root, "cwd", "link")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(root, "cwd"))
	s := &dirLog{}
	if err := MakeDir(s, "link/../x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "elsewhere", "x")); err == nil {
		t.Errorf("made elsewhere/x, synced %q", s.syncs)
	}
	if _, err := os.Stat(filepath.Join(root, "cwd", "x")); err != nil {
		t.Errorf("x not made in the working directory: %v", err)
	}
	if !slices.Equal(s.syncs, []string{"."}) {
		t.Errorf("synced %q, want [.]", s.syncs)
	}
}

// A parent that cannot be opened to be synced fails MakeDir, with a
// message naming it, at the first call and at a retry alike (the retry
// found the directory made and synced nothing), unless the process may
// not write in it either: then it is not this process's to keep durable.
func TestMakeDirUnsyncableParent(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "p")
	denied := &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	s := &dirLog{fail: func(d string) error {
		if d == p {
			return denied
		}
		return nil
	}}
	for i := range 2 {
		err := MakeDir(s, filepath.Join(p, "data"))
		if err == nil || !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "let the process read "+p) {
			t.Fatalf("call %d: %v, want permission denied on %s and what to do", i, err, p)
		}
	}
	old := mayWrite
	t.Cleanup(func() { mayWrite = old })
	mayWrite = func(d string) bool { return d != p }
	if err := MakeDir(s, filepath.Join(p, "data")); err != nil {
		t.Errorf("with %s not writable either: %v", p, err)
	}
}

// The same on the OS, a parent of mode 0300 (writable, not readable);
// run as root, who may read it, both calls pass.
func TestMakeDirUnreadableParentOS(t *testing.T) {
	p := filepath.Join(t.TempDir(), "p")
	if err := os.Mkdir(p, 0o300); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(p, 0o700) })
	var errs [2]error
	for i := range errs {
		errs[i] = MakeDir(OS{}, filepath.Join(p, "data"))
	}
	if (errs[0] == nil) != (errs[1] == nil) {
		t.Errorf("first call: %v; retry: %v; want the same", errs[0], errs[1])
	}
	if os.Geteuid() != 0 && errs[1] == nil {
		t.Errorf("retry passed without syncing %s", p)
	}
}
