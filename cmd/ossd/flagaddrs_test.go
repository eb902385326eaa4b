package main

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A --listen that is no HOST:PORT, an --advertise with no --listen and
// more voters than a heap takes are refused by "ossd run" with the
// flag's name, before anything starts. --advertise without --listen was
// taken and ignored; --replicas 10 and --listen bogus were refused only
// by the library, naming Replicas or the transport's listen.
func TestRunRefusesAddressesAndVotersNoNodeWorksWith(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "", "--advertise", "127.0.0.1:7400"}, "--advertise 127.0.0.1:7400 needs --listen"},
		{[]string{"--listen", "bogus"}, `--listen "bogus"`},
		{[]string{"--listen", "127.0.0.1:99999"}, `--listen "127.0.0.1:99999": port "99999"`},
		{[]string{"--listen", "127.0.0.1:x"}, `--listen "127.0.0.1:x"`},
		{[]string{"--replicas", "10"}, "--replicas 10: want 1 to 9"},
	} {
		var f runFlags
		err := f.parse(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q: %v; want an error saying %q", tc.args, err, tc.want)
		}
	}
	for _, args := range [][]string{{"--listen", ""}, {"--listen", "127.0.0.1:0"}, {"--listen", "0.0.0.0:7400", "--advertise", "127.0.0.1:7400"}, {"--replicas", "9"}} {
		var f runFlags
		if err := f.parse(args); err != nil {
			t.Errorf("run %q: %v", args, err)
		}
	}
}

// The process says so on its standard error and exits 1, before it
// reads a certificate: no panic, no node started on a default.
func TestRunAdvertiseWithoutListenExitsNonZero(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ossdBin, "run", "--name", "n1", "--listen", "", "--advertise", "127.0.0.1:7400",
		"--http", "", "--data-dir", t.TempDir())
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("ossd run --listen '' --advertise 127.0.0.1:7400: %v\n%s\nwant exit status 1", err, out)
	}
	if !strings.Contains(string(out), "--advertise 127.0.0.1:7400 needs --listen") || strings.Contains(string(out), "panic") {
		t.Fatalf("ossd run --listen '' --advertise 127.0.0.1:7400 said:\n%s\nwant the flags named, no panic", out)
	}
}
