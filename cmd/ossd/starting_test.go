package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// A node that waits to join answers on its admin interface that it is
// starting: `ossd status` against it used to hang in the TLS handshake
// until the client gave up, then said no node answered.
func TestRunAnswersWhileItWaitsToJoin(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx)
	nobody, err := c.Reserve(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.Reserve(ctx, "n2")
	if err != nil {
		t.Fatal(err)
	}
	cmd, _, done := runWaitingToJoin(t, ctx, c, "n2", n2.Addr, n2.HTTP, nobody.Addr)
	defer func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}()
	cl, err := admin.NewClient(n2.HTTP, &admin.ClientOptions{CertDir: c.Certs(), Name: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	_, err = cl.Status(sctx)
	if err == nil || !strings.Contains(err.Error(), `node "n2" is starting`) {
		t.Fatalf("status of a node waiting to join: %v; want it to say the node is starting", err)
	}
	// A client without a certificate is still refused at the handshake.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get("https://" + n2.HTTP + "/v1/status")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate got %s from a starting node", resp.Status)
	}
}

// runWaitingToJoin starts "ossd run" of name, listening on listen (and
// its admin interface on http, "" for none), joining through join where
// no member answers, and returns once it says it waits to join: the
// process, its output, and the channel its exit comes on.
func runWaitingToJoin(t *testing.T, ctx context.Context, c *ossdtest.Cluster, name, listen, http, join string) (*exec.Cmd, *syncBuffer, chan error) {
	t.Helper()
	cmd, out, done := startRun(t, ctx, c, name, listen, http, join)
	waitFor(t, "the node to say it waits", func() bool {
		select {
		case err := <-done:
			t.Fatalf("ossd run ended while no member was up: %v\n%s", err, out.String())
		default:
		}
		return strings.Contains(out.String(), "cannot join the cluster yet")
	})
	return cmd, out, done
}

// startRun starts "ossd run" of node name of c with --join join, its
// output in out; done receives the end of the process.
func startRun(t *testing.T, ctx context.Context, c *ossdtest.Cluster, name, listen, http, join string) (cmd *exec.Cmd, out *syncBuffer, done chan error) {
	t.Helper()
	cmd = exec.CommandContext(ctx, c.Bin, "run", "--name", name, "--listen", listen, "--http", http,
		"--certs", c.Certs(), "--data-dir", c.DataDir(name), "--gossip", "loopback", "--join", join)
	out = new(syncBuffer)
	cmd.Stderr, cmd.Stdout = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, out, done
}
