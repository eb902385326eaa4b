package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// A member stopped, its certificate revoked (README: "To remove a node
// for good, stop it so and revoke its certificate"), and started again
// on its data directory with --join of a running member exits 1 at once,
// as README promises of "a member that refuses its certificate". Beside
// --join it dials the servers it last saw (PEERS); when the member of
// --join refused its handshake and one of those finished its own (under
// TLS 1.3 the client finishes before the server checks its certificate)
// and refused it at the join's first exchange, the node took the
// failed join for members not answering yet and tried again, logging
// "cannot join the cluster yet ... start a member it names", until an
// attempt happened to see the --join member's refusal alone.
func TestRestartOfARevokedMemberFailsAtOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx)
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.Start(ctx, "n2", n1)
	if err != nil {
		t.Fatal(err)
	}
	n3, err := c.Start(ctx, "n3", n1)
	if err != nil {
		t.Fatal(err)
	}
	peers := filepath.Join(c.DataDir("n3"), "PEERS")
	waitFor(t, "n3 to record the servers it sees", func() bool {
		b, _ := os.ReadFile(peers)
		return strings.Contains(string(b), n1.Addr) && strings.Contains(string(b), n2.Addr)
	})
	if err := n3.Stop(time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := dispatch([]string{"cert", "revoke", "n3", "--http", n1.HTTP, "--certs", c.Certs()}); err != nil {
		t.Fatal(err)
	}
	// Every node enforces the revocation within seconds: wait until n2
	// has it too, so that the known address refuses as the --join one.
	waitFor(t, "n2 to hold n3's certificate revoked", func() bool {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		rs, err := n2.Revocations(rctx)
		return err == nil && len(rs) > 0
	})
	// Which of the two refusals a start sees first is a race: start it
	// several times, each of which must fail at once.
	for i := range 6 {
		restartRevoked(t, ctx, c, i, n3.Addr, n3.HTTP, n1.Addr)
	}
	for _, p := range []interface{ Stop(time.Duration) error }{n2, n1} {
		if err := p.Stop(time.Minute); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// restartRevoked starts "ossd run" of the revoked n3 of c, joining
// through join, and fails t unless it exits 1 at once, naming join as
// the member that refused its certificate.
func restartRevoked(t *testing.T, ctx context.Context, c *ossdtest.Cluster, attempt int, listen, http, join string) {
	t.Helper()
	cmd, out, done := startRun(t, ctx, c, "n3", listen, http, join)
	var exit error
	ended := false
	waitFor(t, "ossd run of a revoked member to end or to wait", func() bool {
		select {
		case exit = <-done:
			ended = true
			return true
		default:
		}
		return strings.Contains(out.String(), "cannot join the cluster yet")
	})
	if !ended {
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatalf("start %d: a member whose certificate is revoked waits to join, as if no member answered:\n%s", attempt+1, out.String())
	}
	var ee *exec.ExitError
	if !errors.As(exit, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("start %d: ossd run of a revoked member: %v, want exit status 1\n%s", attempt+1, exit, out.String())
	}
	if s := out.String(); !strings.Contains(s, join+" refused this node's certificate") {
		t.Errorf("start %d: ossd run of a revoked member says:\n%s\nwant %q", attempt+1, s, join+" refused this node's certificate")
	}
}
