package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// buildDemo builds the demo into a directory of the test's and returns
// the binary and an empty directory beside it for the run's TMPDIR, so a
// test can see what the demo leaves there.
func buildDemo(t *testing.T) (bin, tmp string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "demo")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	tmp = filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, tmp
}
