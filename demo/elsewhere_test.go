package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The built demo run outside the repository (it builds ossd from the
// module it runs in) says to run it there, and leaves nothing behind: it
// said "ossdtest: not inside the oss module" and "logs and certificates
// are in /tmp/oss-demo-…", an empty directory it kept.
func TestDemoOutsideTheModuleSaysWhereToRunIt(t *testing.T) {
	t.Parallel()
	bin, tmp := buildDemo(t)
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "go run ./demo") {
		t.Fatalf("demo outside the module: %v, want status 1 and where to run it:\n%s", err, out)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the demo outside the module left %s in its temporary directory:\n%s", left[0].Name(), out)
	}
}
