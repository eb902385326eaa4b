package ossdtest_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// TestOssdOperatorsDay runs an operator's steps, as the README gives
// them, on a cluster under a list-append workload: three nodes grow to
// five (the heap of five gains its voters as they join); a rolling
// restart of every node with SIGTERM, n1 started again as it was first
// started, without --join; a certificate rotated (cert issue --force,
// SIGHUP, cert revoke --serial OLD) and the node kept; a running node's
// certificate revoked: its status says REVOKED, it is stopped and a new
// node takes its place; a restart with changed flags (--durability
// batch); a node whose disk is lost for good (its data directory
// removed) rebuilt with --rebuild-replica --join. After each step the
// heaps settle where placement puts them, as every node's status and
// "ossd status" tell it; at the end every replica holds the same digest
// and no acknowledged append is lost. A run of minutes: OSS_LONG=1.
func TestOssdOperatorsDay(t *testing.T) {
	if os.Getenv("OSS_LONG") == "" {
		t.Log("a run of minutes: run with OSS_LONG=1")
		return
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	ch := startChurn(ctx, t, map[string]int{"three": 3, "five": 5}, "n1", "n2", "n3")
	c := ch.c
	ch.startWorkload(17)
	ch.settle("three nodes")
	for _, name := range []string{"n4", "n5"} {
		p, err := c.Start(ctx, name, ch.live()...)
		if err != nil {
			t.Fatal(err)
		}
		ch.set(p)
		ch.settle(name + " added")
	}
	for _, name := range []string{"n1", "n2", "n3", "n4", "n5"} {
		p := ch.proc(name)
		if err := p.Stop(2 * time.Minute); err != nil {
			t.Errorf("SIGTERM of %s: %v", name, err)
		}
		ch.settle(name + " stopped")
		var join []*ossdtest.Proc
		if name != "n1" {
			join = ch.live()
		}
		np, err := c.Restart(ctx, p, join...)
		if err != nil {
			t.Fatalf("restart %s: %v", name, err)
		}
		ch.set(np)
		if name == "n1" {
			// Started without --join, it answers once it has rejoined
			// the servers of its PEERS: its first status names them.
			ch.knowsAll(np)
		}
		ch.settle(name + " restarted")
	}
	ch.rotate("n2")
	ch.revokeRunning("n3", "n6")
	p := ch.proc("n4")
	if err := p.Stop(2 * time.Minute); err != nil {
		t.Errorf("SIGTERM of n4: %v", err)
	}
	np, err := c.RestartWith(ctx, p, []string{"--durability", "batch"}, ch.live()...)
	if err != nil {
		t.Fatalf("restart n4 with --durability batch: %v", err)
	}
	ch.set(np)
	ch.settle("n4 restarted with --durability batch")
	p = ch.proc("n5")
	p.Kill()
	ch.settle("n5 killed")
	if err := os.RemoveAll(c.DataDir("n5")); err != nil {
		t.Fatal(err)
	}
	np, err = c.RestartWith(ctx, p, []string{"--rebuild-replica"}, ch.live()...)
	if err != nil {
		t.Fatalf("n5 rebuilt with --rebuild-replica --join after its data directory was removed: %v", err)
	}
	ch.set(np)
	ch.settle("n5 rebuilt on an empty disk")
	ch.finish(17)
}

// cli runs ossd with args and returns its output, failing the test if
// it fails.
func (ch *churn) cli(args ...string) string {
	ch.t.Helper()
	out, err := exec.CommandContext(ch.ctx, ch.c.Bin, args...).CombinedOutput()
	if err != nil {
		ch.t.Fatalf("ossd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// rotate gives name a new certificate as the README says (cert issue
// --force, SIGHUP, cert revoke --serial OLD): the node goes on, a member,
// its status not REVOKED.
func (ch *churn) rotate(name string) {
	ch.t.Helper()
	certs := ch.c.Certs()
	out := ch.cli("cert", "issue", "--dir", certs, "--name", name, "--force")
	m := regexp.MustCompile(`--serial ([0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		ch.t.Fatalf("cert issue --force names no serial to revoke:\n%s", out)
	}
	p := ch.proc(name)
	if err := p.Signal(syscall.SIGHUP); err != nil {
		ch.t.Fatal(err)
	}
	waitCond(ch.t, name+" to reload its certificate", func() bool {
		b, _ := os.ReadFile(p.Log)
		return strings.Contains(string(b), "replaces="+m[1])
	})
	ch.cli("cert", "revoke", name, "--serial", m[1], "--http", ch.httpOf(ch.live()...), "--certs", certs)
	ch.settle(name + "'s old certificate revoked")
	for range 10 { // the revocation reaches every node within seconds
		if st := ch.status(p); st.Revoked != "" {
			ch.t.Fatalf("%s, on its new certificate, says it is revoked: %s", name, st.Revoked)
		}
		time.Sleep(time.Second)
	}
	ch.settle(name + " on its new certificate")
}

// revokeRunning revokes every certificate of name while it runs: its
// status says REVOKED and the others go on; it is stopped, and a new
// node, added, takes its place.
func (ch *churn) revokeRunning(name, added string) {
	ch.t.Helper()
	p := ch.proc(name)
	var others []*ossdtest.Proc
	for _, o := range ch.live() {
		if o.Name != name {
			others = append(others, o)
		}
	}
	ch.cli("cert", "revoke", name, "--http", ch.httpOf(others...), "--certs", ch.c.Certs())
	waitCond(ch.t, name+"'s status to say it is revoked", func() bool {
		st, err := ch.statusOnce(p)
		return err == nil && st.Revoked != ""
	})
	if out := ch.cliStatus(p); !strings.HasPrefix(out, "REVOKED:") || strings.Contains(out, "down:") {
		ch.t.Errorf("ossd status of %s, revoked:\n%s", name, out)
	}
	if err := p.Stop(2 * time.Minute); err != nil {
		ch.t.Errorf("SIGTERM of %s, revoked: %v", name, err)
	}
	ch.settle(name + " revoked and stopped")
	np, err := ch.c.Start(ch.ctx, added, others...)
	if err != nil {
		ch.t.Fatal(err)
	}
	ch.set(np)
	ch.settle(added + " added in " + name + "'s place")
}

// httpOf returns the admin addresses of procs, comma-separated.
func (ch *churn) httpOf(procs ...*ossdtest.Proc) string {
	var a []string
	for _, p := range procs {
		a = append(a, p.HTTP)
	}
	return strings.Join(a, ",")
}

// knowsAll fails the test if p's first status does not list every
// running node as a member.
func (ch *churn) knowsAll(p *ossdtest.Proc) {
	ch.t.Helper()
	st := ch.status(p)
	for _, o := range ch.live() {
		if !slices.ContainsFunc(st.Members, func(m oss.Member) bool { return m.Name == o.Name }) {
			ch.t.Errorf("%s, restarted, lists members %v without %s, running:\n%s", p.Name, st.Members, o.Name, ch.cliStatus(p))
		}
	}
}
