package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// ossdBin is ossd, built once by TestMain for the tests that run it as
// processes.
//
// Tests that start nodes (processes, or in this process on ports of
// their own) and touch nothing of the process's (signals sent to it,
// os.Stderr, the environment, package variables, the CPU profiler) run
// in parallel, four at once (ossdtest.ProcessTestsInParallel): they mostly
// wait for their nodes. The others run first, one at a time, as go test
// runs tests that do not call t.Parallel.
var ossdBin string

// TestMain builds ossd before any test's deadline starts, and fails the
// package's tests if any of them wrote into the source tree (tests write
// only under t.TempDir()) or left a goroutine running.
func TestMain(m *testing.M) {
	before, err := treeFiles(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ossdtest.ProcessTestsInParallel(4)
	bin, remove, err := ossdtest.BuildForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ossdBin = bin
	code := m.Run()
	remove()
	if code == 0 {
		// Every goroutine a test started in this process (nodes run
		// here, the admin server, the SIGHUP reloader) stops with it.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines outlived the tests:", err)
			code = 1
		}
	}
	after, err := treeFiles(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, f := range after {
		if !slices.Contains(before, f) {
			fmt.Fprintf(os.Stderr, "a test wrote %s into the source tree; tests write only under t.TempDir()\n", f)
			code = 1
		}
	}
	os.Exit(code)
}

func treeFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		files = append(files, path)
		return nil
	})
	return files, err
}
