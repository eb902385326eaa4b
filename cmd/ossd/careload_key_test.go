package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The CLI warns on stderr, naming the file and the fix, when the admin
// key it reads (--certs DIR --user NAME: DIR/NAME.key) is readable or
// writable by users other than its owner, as ssh does for a private key
// and as "ossd run" does for a node's; the command goes on all the same.
// A key of mode 0600 draws no warning. An operator's world-readable key
// used to be taken silently.
func TestCLIWarnsOfAnOpenAdminKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := ossdBin
	dir := caDir(t)
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "ops", "--role", "admin"}); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "ops.key")
	// Nothing listens there: the command fails after reading the key.
	nobody, err := freeTCP()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o644, true}, {0o640, true}, {0o604, true}} {
		if err := os.Chmod(key, c.mode); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"status"}, {"get", "h", "r"}} {
			cmd := exec.CommandContext(ctx, bin, append(args, "--certs", dir, "--user", "ops", "--http", nobody)...)
			var stderr syncBuffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			out := stderr.String()
			if err == nil || !strings.Contains(out, "no node answers") {
				t.Fatalf("ossd %s with nothing listening: %v, want it to go on to the node; stderr:\n%s", args[0], err, out)
			}
			warned := strings.Contains(out, "warning") && strings.Contains(out, key) && strings.Contains(out, "chmod 600")
			if warned != c.warn {
				t.Errorf("ossd %s, key of mode %#o: warned %v, want %v; stderr:\n%s", args[0], c.mode, warned, c.warn, out)
			}
		}
	}
}

// freeTCP returns a loopback address nothing listens on (a moment ago).
func freeTCP() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
