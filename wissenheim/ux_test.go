package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUnmendableStartEnds runs the client headless where what it must
// start cannot start, whatever the retries: its port held by another
// process, its data directory another process's, the player's --listen
// address taken. The process ends by itself, non-zero, naming the flag
// to change, instead of waiting for a retry that cannot help.
func TestUnmendableStartEnds(t *testing.T) {
	t.Parallel()
	bin := buildClient(t)
	ctx := context.Background()

	t.Run("port", func(t *testing.T) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		port := pc.LocalAddr().(*net.UDPAddr).Port
		runEnds(t, bin, "--port", "--headless", "--nodes", "1", "--bots", "0", "--port", strconv.Itoa(port))
	})
	t.Run("data-dir", func(t *testing.T) {
		dir := t.TempDir()
		l, err := startLocal(ctx, localOptions{nodes: 1, dataDir: dir, port: freePorts(t, 1), logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close(ctx)
		runEnds(t, bin, "--data-dir", "--headless", "--nodes", "1", "--bots", "0",
			"--data-dir", dir, "--port", strconv.Itoa(freePorts(t, 1)))
	})
	t.Run("listen", func(t *testing.T) {
		l, err := startLocal(ctx, localOptions{nodes: 1, dataDir: t.TempDir(), port: freePorts(t, 1),
			guests: []string{"player2"}, logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close(ctx)
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		runEnds(t, bin, "--listen", "--headless", "--bots", "1", "--join", l.addrs()[0], "--certs", l.certs,
			"--name", "player2", "--listen", pc.LocalAddr().String())
	})
}

// runEnds runs the client with args and wants it to end by itself with a
// non-zero exit code, its error naming flag.
func runEnds(t *testing.T, bin, flag string, args ...string) {
	t.Helper()
	// A bound against a hang: a start that fails ends in seconds, and the
	// machine at load 40 may take a minute to give it them.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("still running after 5 minutes; stderr:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("exit: %v, want a non-zero exit code; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), flag) {
		t.Fatalf("stderr does not name %s:\n%s", flag, stderr.String())
	}
}
