package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A debug bundle holds the cluster's logs, addresses and names: it is
// written with mode 0600, also over an existing file of another mode,
// and leaves no temporary file beside it.
func TestDebugBundleIsPrivate(t *testing.T) {
	ctx := context.Background()
	logs := admin.NewLogRing(0, 0)
	n, err := oss.Start(ctx, &oss.Config{Name: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	dir := t.TempDir()
	out := filepath.Join(dir, "bundle.tar.gz")
	if err := os.WriteFile(out, []byte("an older bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := debugBundle([]string{"--http", srv.Addr(), "--http-insecure", "--out", out, "--cpu", "1s"}, &stdout); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("the bundle's mode is %v, want 0600", mode)
	}
	readArchive(t, out) // a whole archive, not the older file
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("the bundle's directory holds %d files, want the bundle alone", len(entries))
	}
}

// A bundle's --out that is no regular file (a symbolic link, as
// /dev/stdout is, or a pipe) is written through, not replaced by a file
// renamed over it.
func TestDebugBundleWritesThroughALink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := saveBundle(link, func(w io.Writer) error { _, err := io.WriteString(w, "bundle"); return err }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "bundle" {
		t.Fatalf("the link's target holds %q (%v), want the bundle", b, err)
	}
}
