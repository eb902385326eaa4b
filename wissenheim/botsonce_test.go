package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// Headless bots joined to a cluster that refuses them (a client without
// a grant on the world's heap) end the process with the reason, which
// main prints; the bots' start printed it as well, so the same line
// showed twice. Not parallel: it takes os.Stderr for its run.
func TestJoinedBotsRefusedSayItOnce(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	ctx := context.Background()
	l, err := startLocal(ctx, localOptions{nodes: 1, dataDir: t.TempDir(), guests: []string{"carol"}, logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	if err := l.nodes[0].RevokeGrant(ctx, oss.Grant{Who: "carol", Heap: "*", Perm: oss.PermAdmin}); err != nil {
		t.Fatal(err)
	}

	errFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	stderr := os.Stderr
	os.Stderr = errFile
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"--headless", "--join", strings.Join(l.addrs(), ","), "--certs", l.certs,
			"--name", "carol", "--listen", "127.0.0.1:0", "--bots", "1"}, io.Discard)
	}()
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute):
		os.Stderr = stderr
		t.Fatal("wissenheim --headless --join as a client without a grant did not end within 5 minutes")
	}
	os.Stderr = stderr
	if err == nil || !strings.Contains(err.Error(), "cannot start the bots") || !strings.Contains(err.Error(), "carol") {
		t.Fatalf("wissenheim --headless --join as a client without a grant: %v, want the bots' refusal", err)
	}
	printed, err := os.ReadFile(errFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(printed), "cannot start the bots") {
		t.Errorf("the run printed the error it ends with (main prints it again):\n%s", printed)
	}
}
