package ossdtest_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// TestNodesDieWithTheirStarter runs a process (this test binary again)
// that starts an ossd node and is then killed with SIGKILL, as go test's
// -timeout or a kill -9 of the demo ends one, and finds the node gone
// too. It used to run on, orphaned, holding its ports.
func TestNodesDieWithTheirStarter(t *testing.T) {
	if dir := os.Getenv(starterEnv); dir != "" {
		beStarter(t, dir)
		return
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNodesDieWithTheirStarter$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), starterEnv+"="+dir, "OSSDTEST_BIN="+ossdBin, "TMPDIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	started := false
	for sc := bufio.NewScanner(out); !started && sc.Scan(); {
		started = sc.Text() == "started"
	}
	nodes := nodesIn(dir)
	t.Cleanup(func() { // whatever happens, no node of this test stays
		for _, pid := range nodesIn(dir) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if !started || len(nodes) == 0 {
		t.Fatalf("the starter did not start a node (said started: %v; nodes running %v)", started, nodes)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(2 * time.Minute); len(nodesIn(dir)) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("two minutes after its starter was killed, ossd %v still runs", nodesIn(dir))
		}
	}
}

// beStarter starts a node in dir, prints "started" and waits to be
// killed.
func beStarter(t *testing.T, dir string) {
	ctx := context.Background()
	c, err := ossdtest.New(ctx, dir, ossdBin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	fmt.Println("started")
	select {}
}

// nodesIn returns the pids of the running processes whose command line
// names dir (a zombie's is empty).
func nodesIn(dir string) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(dir)) || !bytes.HasPrefix(b, []byte(ossdBin)) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
