package main

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A node whose certificate is revoked, started with --join of a running
// member, exits 1 at once saying the member refused its certificate, as
// README promises, and why it likely did. Its dial finished (under TLS 1.3 the client finishes
// before the server checks its certificate) and the refusal came at the
// join's first exchange, which the node took for a member not answering
// yet: it tried again for ever, logging "cannot join the cluster yet ...
// start a member it names".
func TestRunWithARevokedCertificateFailsAtOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx)
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.Reserve(ctx, "n2")
	if err != nil {
		t.Fatal(err)
	}
	if err := dispatch([]string{"cert", "revoke", "n2", "--http", n1.HTTP, "--certs", c.Certs()}); err != nil {
		t.Fatal(err)
	}
	cmd, out, done := startRun(t, ctx, c, "n2", n2.Addr, n2.HTTP, n1.Addr)
	var exit error
	ended := false
	waitFor(t, "ossd run of a revoked node to end or to wait", func() bool {
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
		t.Fatalf("a node whose certificate is revoked waits to join, as if no member answered:\n%s", out.String())
	}
	var ee *exec.ExitError
	if !errors.As(exit, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("ossd run of a revoked node: %v, want exit status 1\n%s", exit, out.String())
	}
	// It names the member and the likely cause: the certificate has not
	// expired, so that member holds it revoked (or trusts another CA),
	// with the serial to look for in `ossd cert revocations`. It said
	// "revoked, expired, or of another CA?", three causes for a user to
	// tell apart in another node's log.
	s := out.String()
	for _, want := range []string{
		n1.Addr + " refused this node's certificate",
		`this node's certificate of "n2" (serial `,
		"has not expired, so that node holds it revoked",
		"ossd cert revocations",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("ossd run of a revoked node says:\n%s\nwant %q", s, want)
		}
	}
	if strings.Contains(s, "revoked, expired, or of another CA?") {
		t.Errorf("ossd run of a revoked node still lists expiry as a cause of a certificate that has not expired:\n%s", s)
	}
	if err := n1.Stop(time.Minute); err != nil {
		t.Errorf("n1: %v", err)
	}
}
