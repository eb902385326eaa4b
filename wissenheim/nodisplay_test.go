package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A player without a display (an ssh session, a server, a container)
// runs go run ./wissenheim as the README says: it ends with status 1
// and says what to do, run it under Xvfb or with --headless, where it
// said only "ui: no window system is available: fbdev: failed to open
// /dev/fb0", and leaves no temporary certificates behind.
func TestNoDisplaySaysWhatToDo(t *testing.T) {
	bin := buildClient(t)
	tmp := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--nodes", "1", "--bots", "0")
	cmd.Dir = t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "WAYLAND_DISPLAY=") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("wissenheim without a display: %v, want exit status 1:\n%s", err, out)
	}
	for _, want := range []string{"no display", "xvfb-run", "--headless"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("wissenheim without a display does not say %q:\n%s", want, out)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("wissenheim without a display left %s in its temporary directory", left[0].Name())
	}
}
