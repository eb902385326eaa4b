package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A client killed with SIGKILL, run without --data-dir, cannot remove its
// temporary certificate directory. What it leaves holds no CA key, and
// the next local cluster's start removes it, while the directory of a
// cluster that still runs stays, however old.
func TestKilledClientsCertificatesAreSweptAtNextStart(t *testing.T) {
	bin := buildClient(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // for this process's clusters below, and the child's

	// A live cluster of this process, old enough to be swept were it dead.
	ctx := context.Background()
	live, err := startLocal(ctx, localOptions{nodes: 1, logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close(ctx)
	age(t, live.certs)

	cmd := exec.Command(bin, "--headless", "--nodes", "1", "--bots", "0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	killed := ""
	for sc := bufio.NewScanner(out); killed == "" && sc.Scan(); {
		if m := certsLine.FindStringSubmatch(sc.Text()); m != nil {
			killed = m[1]
		}
	}
	if killed == "" {
		t.Fatal("the headless client never said where its certificates are")
	}
	if _, err := os.Stat(filepath.Join(killed, "ca.crt")); err != nil {
		t.Fatalf("the client's certificate directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(killed, "ca.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary certificate directory holds the CA's key (%v): nothing reads it there", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(killed); err != nil {
		t.Fatalf("after SIGKILL the directory is gone already (%v): the test kills nothing that could clean up", err)
	}
	age(t, killed)

	next, err := startLocal(ctx, localOptions{nodes: 1, logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close(ctx)
	if _, err := os.Stat(killed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed client's certificates %s are still there after the next start (%v)", killed, err)
	}
	for _, l := range []*local{live, next} {
		if _, err := os.Stat(filepath.Join(l.certs, "ca.crt")); err != nil {
			t.Errorf("a running cluster's certificates %s were swept: %v", l.certs, err)
		}
	}
}

// age dates every file of dir two minutes back, past the grace a new
// directory is given before its lock counts.
func age(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-2 * time.Minute)
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(dir, e.Name()), then, then); err != nil {
			t.Fatal(err)
		}
	}
}
