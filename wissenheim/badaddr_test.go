package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// An address no node can use is refused at start, naming its flag, in
// every mode. Headless, `--listen 300.1.1.1:0` used to run on without a
// word (no node of a local cluster's headless run uses it), and with
// --join the bots' node failed to start and the process then waited for
// an interrupt, doing nothing.
func TestBadAddressesAreRefusedAtOnce(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // where a local cluster started by mistake would keep its certificates
	certs := certDir(t, "ada", "ada", pki.RoleClient)
	join := func(addr string, more ...string) []string {
		return append([]string{"--join", addr, "--certs", certs, "--name", "ada"}, more...)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--headless", "--listen", "300.1.1.1:0"}, `--listen "300.1.1.1:0"`},
		{[]string{"--headless", "--listen", "nonsense"}, `--listen "nonsense"`},
		{[]string{"--listen", "127.0.0.1:99999"}, `--listen "127.0.0.1:99999"`},
		{join("127.0.0.1:7401", "--headless", "--bots", "1", "--listen", "300.1.1.1:0"), `--listen "300.1.1.1:0"`},
		{join("127.0.0.1:7401", "--listen", "127.0.0.1:-1"), `--listen "127.0.0.1:-1"`},
		{join("127.0.0.1:99999", "--headless", "--bots", "1"), `--join "127.0.0.1:99999"`},
		{join("127.0.0.1:7401,127.0.0.1:0"), `--join "127.0.0.1:7401,127.0.0.1:0"`},
	} {
		done := make(chan error, 1)
		go func() { done <- run(c.args, io.Discard) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("wissenheim %s: %v, want an error saying %q", strings.Join(c.args, " "), err, c.want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("wissenheim %s did not return", strings.Join(c.args, " "))
		}
	}
}

// Headless bots joined to a cluster that is not up yet keep trying, as a
// window's player does, and start once it is: the process no longer
// gives up on the first try and then waits, doing nothing, to be
// interrupted.
func TestHeadlessBotsWaitForTheirCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := localOptions{nodes: 1, dataDir: t.TempDir(), port: freePorts(t, 1), guests: []string{"ada"}, logger: quiet}
	l, err := startLocal(ctx, o) // makes the certificates, then stops
	if err != nil {
		t.Fatal(err)
	}
	addrs, certs := l.addrs(), l.certs
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}

	a := newApp(config{join: addrs, certs: certs, name: "ada", listen: "127.0.0.1:0", heap: "wissenheim",
		world: "wissenheim", nodes: 1, bots: 2, botRate: 5, seed: 1, logger: quiet, out: io.Discard})
	defer a.Close()
	started := make(chan struct{})
	go func() { defer close(started); a.start(true) }()
	waitStatus(t, a, "attempt 2")

	l, err = startLocal(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	select {
	case <-started:
	case <-a.dead:
		t.Fatalf("the headless bots gave up: %v", a.Fatal())
	case <-time.After(5 * time.Minute):
		_, _, status := a.Status()
		t.Fatalf("the headless bots did not start within 5 minutes of their cluster: %q", status)
	}
	a.mu.Lock()
	swarms := len(a.swarms)
	a.mu.Unlock()
	if _, _, status := a.Status(); swarms != 1 || status != "" {
		t.Fatalf("after the start: %d swarms, status %q; want the bots running", swarms, status)
	}
}

// waitStatus waits, for up to five minutes, until a's status holds want.
func waitStatus(t *testing.T, a *app, want string) {
	t.Helper()
	var status string
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, _, status = a.Status(); strings.Contains(status, want) {
			return
		}
	}
	t.Fatalf("the status never said %q; it says %q", want, status)
}
