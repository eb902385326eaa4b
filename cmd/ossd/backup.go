package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// streamContext is the context of a backup or restore: no time bound (a
// large heap takes as long as its bytes need), ended by SIGINT or SIGTERM.
func streamContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// backupHeap is "ossd heaps backup NAME --out FILE": the heap's backup
// into a temporary file of its own beside FILE (FILE.tmp and digits, so
// that two backups to one FILE never write into one file), synced, then
// renamed FILE (its directory synced), so that FILE is a whole backup or
// what it was before; "-" writes it to stdout. What it wrote is said on
// notes. A FILE that is a directory is refused before anything is read.
func backupHeap(c *admin.Client, stdout, notes io.Writer, heap, out string, fresh bool) error {
	if out == "" {
		return errors.New("heaps backup: want --out FILE (- for stdout)")
	}
	ctx, cancel := streamContext()
	defer cancel()
	if out == "-" {
		info, err := c.Backup(ctx, heap, stdout, fresh)
		if err != nil {
			return fmt.Errorf("heaps backup: %w (what stdout was given is no whole backup)", err)
		}
		return sayBackup(notes, info, "stdout")
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() || strings.HasSuffix(out, string(filepath.Separator)) {
		return fmt.Errorf("heaps backup: --out %s is a directory: give the name of the file to write in it", out)
	}
	f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".tmp*")
	if err != nil {
		return fmt.Errorf("heaps backup: cannot write %s: %w", out, err)
	}
	tmp := f.Name()
	info, err := c.Backup(ctx, heap, f, fresh)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("heaps backup: %w (%s left as it was)", err, out)
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return fmt.Errorf("heaps backup: %s written, its directory not synced: %w", out, err)
	}
	return sayBackup(notes, info, out)
}

func sayBackup(w io.Writer, info oss.BackupInfo, to string) error {
	_, err := fmt.Fprintf(w, "backed up heap %s at index %d: %s, %s, %s to %s (SHA-256 %x)\n",
		nameSaid(info.Heap), info.Index, count(int(info.Objects), "object"), count(int(info.Roots), "root"), count(int(info.Bytes), "byte"), to, info.SHA256)
	return err
}

// restoreHeap is "ossd heaps restore NAME --in FILE": it checks the
// whole backup in FILE (oss.VerifyBackup) before it sends anything, then
// sends it; "-" sends stdin as it is read, which the node checks.
func restoreHeap(c *admin.Client, stdin io.Reader, w io.Writer, heap, in string, replicas int) error {
	if in == "" {
		return errors.New("heaps restore: want --in FILE (- for stdin)")
	}
	ctx, cancel := streamContext()
	defer cancel()
	src := stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return fmt.Errorf("heaps restore: %w", err)
		}
		defer f.Close()
		if _, err := oss.VerifyBackup(f); err != nil {
			return fmt.Errorf("heaps restore: %s fails its checks, so nothing was sent: %w", in, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("heaps restore: %w", err)
		}
		src = f
	}
	info, err := c.Restore(ctx, heap, src, replicas)
	if err != nil {
		return fmt.Errorf("heaps restore: %w", err)
	}
	_, err = fmt.Fprintf(w, "restored heap %s from the backup of heap %s at index %d: %s, %s in %s\n",
		nameSaid(heap), nameSaid(info.Backup.Heap), info.Backup.Index, count(int(info.Backup.Objects), "object"), count(int(info.Backup.Roots), "root"), count(info.Commits, "commit"))
	return err
}
