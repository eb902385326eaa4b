package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// TestMain makes the directory the demo is built into, once for the
// package (buildDemo), and removes it when the tests end; it fails the
// tests if a goroutine outlives them.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "demo-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	demoBuild.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		// The demo's clusters run in this process in most tests: every
		// goroutine they start stops with them.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines outlived the tests:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// demoBuild is the demo the process tests run, built once: each of the
// three built its own, a link of the demo and the oss packages it holds
// that took 25 to 30 s apiece at load 30 on the 2-core machine.
var demoBuild struct {
	dir  string // made by TestMain
	once sync.Once
	bin  string
	err  error
}

// buildDemo builds the demo on its first call and returns the binary the
// package's tests share (none changes it or writes beside it), and an
// empty directory of the test's for the run's TMPDIR, so a test can see
// what the demo leaves there.
func buildDemo(t *testing.T) (bin, tmp string) {
	t.Helper()
	demoBuild.once.Do(func() {
		bin := filepath.Join(demoBuild.dir, "demo")
		if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			demoBuild.err = fmt.Errorf("go build: %v\n%s", err, b)
			return
		}
		demoBuild.bin = bin
	})
	if demoBuild.err != nil {
		t.Fatal(demoBuild.err)
	}
	return demoBuild.bin, t.TempDir()
}
