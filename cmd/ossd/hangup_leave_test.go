package main

import (
	"github.com/objectsharing/oss/oss/osstest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// A SIGHUP's reload in progress when "ossd run" is told to stop (SIGTERM)
// ends before the node leaves: no reload reaches the node or the admin
// interface after they closed, and no reload line is logged after the
// leave's. Before, the reload's goroutine had no owner: run left, closed
// the node and logged "left the cluster", and the reload went on against
// the closed node and logged "CA bundle reloaded" after it. Each round
// holds a reload until the reloads end (or run has returned), and sends
// SIGTERM while it is held, or right after the SIGHUP.
func TestHangupReloadEndsBeforeTheLeave(t *testing.T) {
	certs := probeCerts(t)
	// Caught here too for the whole test, so that a signal that comes
	// when run no longer catches it does not end the test binary.
	safety := make(chan os.Signal, 16)
	signal.Notify(safety, syscall.SIGHUP, syscall.SIGTERM)
	defer signal.Stop(safety)
	stderr := os.Stderr
	defer func() { os.Stderr = stderr }()
	defer func(h func(<-chan struct{}, func())) { reloadHook = h }(reloadHook)
	for round := range 8 {
		logFile := filepath.Join(t.TempDir(), "stderr")
		f, err := os.Create(logFile)
		if err != nil {
			t.Fatal(err)
		}
		os.Stderr = f
		logged := func() string {
			b, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		var started, finished atomic.Int64
		held, left := make(chan struct{}, 1), make(chan struct{})
		reloadHook = func(quit <-chan struct{}, reload func()) {
			started.Add(1)
			select {
			case held <- struct{}{}:
			default:
			}
			select {
			case <-quit:
			case <-left:
			}
			reload()
			finished.Add(1)
		}
		done := make(chan error, 1)
		go func() {
			done <- dispatch([]string{"run", "--name", "n1", "--listen", "127.0.0.1:0", "--http", "", "--certs", certs, "--durability", "memory", "--gossip", "loopback"})
		}()
		waitFor(t, "the node to run", func() bool { return strings.Contains(logged(), "node running") })
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if round%2 == 0 {
			osstest.Recv(t, held, "the reload to be held")
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := osstest.Recv(t, done, "ossd run to return"); err != nil {
			t.Fatalf("round %d: ossd run: %v", round, err)
		}
		s, e := started.Load(), finished.Load()
		close(left)
		if s != e {
			t.Fatalf("round %d: ossd run returned with a reload in progress (%d started, %d finished)", round, s, e)
		}
		f.Close()
		out := logged()
		leave := strings.Index(out, "leaving")
		if leave < 0 {
			t.Fatalf("round %d: no leave logged:\n%s", round, out)
		}
		if round%2 == 0 && !strings.Contains(out[:leave], "CA bundle reloaded") {
			t.Fatalf("round %d: the reload held at SIGTERM did not run before the leave:\n%s", round, out)
		}
		for _, line := range strings.Split(out[leave:], "\n") {
			if strings.Contains(line, "reloaded") || strings.Contains(line, "SIGHUP") {
				t.Fatalf("round %d: a reload logged after the leave began: %q\n%s", round, line, out)
			}
		}
	}
}
