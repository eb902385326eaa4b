package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The built demo, interrupted with SIGINT while it builds ossd, leaves
// nothing in its temporary directory: the build was killed (SIGKILL, as
// exec.CommandContext does; go build dies at once of SIGINT too), and go
// left its work directory (go-build…) in TMPDIR. GOFLAGS=-a makes the
// build long enough to be interrupted once its work directory is there.
func TestDemoInterruptedWhileBuildingLeavesNothing(t *testing.T) {
	t.Parallel()
	bin, tmp := buildDemo(t)
	cmd := exec.Command(bin, "-load", "10m")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "GOFLAGS=-a")
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
		if strings.Contains(lines.Text(), "building ossd") {
			break
		}
	}
	// Interrupt it once go build has made its work directory.
	deadline := time.Now().Add(5 * time.Minute)
	for !hasGoBuildDir(tmp) {
		if time.Now().After(deadline) {
			t.Fatalf("no go build began in %s:\n%s%s", tmp, out.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("demo interrupted while building: %v, want exit status 130:\n%s%s", err, out.String(), stderr.String())
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the demo interrupted while building left %s in its temporary directory:\n%s%s", left[0].Name(), out.String(), stderr.String())
	}
}

// hasGoBuildDir reports whether dir, or a directory in it, holds a go
// command's work directory.
func hasGoBuildDir(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "go-build") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}
