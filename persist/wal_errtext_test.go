package persist

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// A write or a sync of the log that the operating system refuses names
// the file once: its error (an *fs.PathError) names it already, and the
// log's read "write F: write F: no space left on device". An error that
// names no file (FaultFS's bare ones) still gets the file's name.
func TestWALErrorNamesTheFileOnce(t *testing.T) {
	ffs := &FaultFS{FS: NewMemFS()}
	w, _, _ := collect(t, ffs, "wal", WALOptions{})
	defer w.Close()
	if _, err := w.Append([]byte("one")); err != nil {
		t.Fatal(err)
	}
	for _, fault := range []struct {
		op   Op
		errs string
		err  func(name string) error
	}{
		{OpWrite, "write", func(name string) error { return &fs.PathError{Op: "write", Path: name, Err: syscall.ENOSPC} }},
		{OpSync, "sync", func(name string) error { return &fs.PathError{Op: "sync", Path: name, Err: syscall.EIO} }},
		{OpWrite, "write", func(string) error { return syscall.ENOSPC }},
	} {
		ffs.SetRule(func(op Op, name string) error {
			if op == fault.op {
				return fault.err(name)
			}
			return nil
		})
		_, err := w.Append([]byte("lost"))
		ffs.SetRule(nil)
		if err == nil || !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EIO) {
			t.Fatalf("append while %s fails: %v", fault.op, err)
		}
		if msg := err.Error(); strings.Count(msg, "wal/") != 1 || strings.Count(msg, fault.errs+" ") != 1 {
			t.Errorf("append while %s fails: %q; want the segment and the operation named once", fault.op, msg)
		}
		if _, err := w.Append([]byte("again")); err != nil {
			t.Fatalf("append once %s works again: %v", fault.op, err)
		}
	}
}
