package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The built demo, interrupted with SIGINT (Ctrl-C) once it has started
// its nodes, stops them, says it was interrupted, removes its directory
// and exits 130 (it exited 1, as a tour that failed does).
func TestInterruptedDemoStopsItsNodes(t *testing.T) {
	t.Parallel()
	bin, tmp := buildDemo(t)
	cmd := exec.Command(bin, "-load", "10m")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var out strings.Builder
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "transfer loops run") {
			break
		}
	}
	nodes := children(t, cmd.Process.Pid)
	if len(nodes) != 3 {
		t.Fatalf("%d child processes, want 3 nodes:\n%s%s", len(nodes), out.String(), stderr.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("interrupted demo: %v, want exit status 130 and word of the interrupt:\n%s%s", err, out.String(), stderr.String())
	}
	for _, pid := range nodes {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("node process %d still there (%v) after the demo ended", pid, err)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the demo left %s in its temporary directory", left[0].Name())
	}
}

// children returns the processes whose parent is pid, from /proc.
func children(t *testing.T, pid int) []int {
	t.Helper()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, p := range procs {
		id, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", p.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, id)
		}
	}
	return kids
}
