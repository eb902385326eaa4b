package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// TestOssdHeapsSetReplicas runs three ossd nodes as processes and changes
// a heap's replication factor with "ossd heaps set-replicas": 1 to 3
// grows it to three voters, which "ossd heaps" and "ossd status" show; 5
// on three servers says it keeps three for now; --json prints the
// node's answer; 1 again takes it back to one voter. A missing heap, a
// number out of 1..9 and a client certificate are refused, with what to
// do, and change nothing.
func TestOssdHeapsSetReplicas(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bin := ossdBin
	c, err := ossdtest.New(ctx, t.TempDir(), bin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Flags = []string{"--gossip", "loopback", "--replace-after", "1s"}
	var procs []*ossdtest.Proc
	for _, name := range []string{"n1", "n2", "n3"} {
		p, err := c.Start(ctx, name, procs...)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	defer func() {
		if t.Failed() {
			for _, p := range procs {
				t.Logf("%s:\n%s", p.Name, p.Tail(30))
			}
		}
	}()
	n1, n2 := procs[0], procs[1]
	run := func(p *ossdtest.Proc, args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, bin, append(args, "--http", p.HTTP, "--certs", c.Certs())...).CombinedOutput()
		return string(out), err
	}
	// Tried again while the node answers that a group was between
	// leaders: setting a factor twice does no harm.
	again := func(p *ossdtest.Proc, args ...string) string {
		t.Helper()
		var out string
		var err error
		waitFor(t, "ossd "+strings.Join(args, " "), func() bool {
			out, err = run(p, args...)
			return err == nil || !betweenLeaders(out)
		})
		if err != nil {
			t.Fatalf("ossd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	heap := func(p *ossdtest.Proc) oss.HeapStatus {
		t.Helper()
		var hs []oss.HeapStatus
		out := again(p, "heaps", "--json")
		if err := json.Unmarshal([]byte(out), &hs); err != nil {
			t.Fatalf("heaps --json: %v\n%s", err, out)
		}
		for _, h := range hs {
			if h.Name == "scratch" {
				return h
			}
		}
		return oss.HeapStatus{}
	}
	again(n1, "heaps", "create", "scratch", "--replicas", "1")
	waitFor(t, "scratch with one voter", func() bool { h := heap(n1); return h.Replicas == 1 && len(h.Voters) == 1 })

	if out := again(n2, "heaps", "set-replicas", "scratch", "3"); !strings.Contains(out, `heap "scratch" keeps 3 voters`) {
		t.Fatalf("set-replicas 3:\n%s", out)
	}
	waitFor(t, "scratch with three voters", func() bool { h := heap(n1); return h.Replicas == 3 && len(h.Voters) == 3 && !h.Joint })
	waitFor(t, "status to show scratch with 3 replicas on n1,n2,n3", func() bool {
		out, err := run(n2, "status")
		return err == nil && strings.Contains(out, "scratch") && strings.Contains(out, "n1,n2,n3")
	})
	if out := again(n1, "heaps", "set-replicas", "scratch", "5"); !strings.Contains(out, "keeps 5 voters, 3 for now: the cluster has 3 servers") {
		t.Fatalf("set-replicas 5 on three servers:\n%s", out)
	}
	var ans admin.Replicas
	out := again(n1, "heaps", "set-replicas", "scratch", "1", "--json")
	if err := json.Unmarshal([]byte(out), &ans); err != nil || ans != (admin.Replicas{Heap: "scratch", Replicas: 1}) {
		t.Fatalf("set-replicas --json: %v, %+v\n%s", err, ans, out)
	}
	waitFor(t, "scratch with one voter again", func() bool { h := heap(n2); return h.Replicas == 1 && len(h.Voters) == 1 && !h.Joint })

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"heaps", "set-replicas", "nope", "3"}, `the cluster has no heap "nope", so nothing was changed`},
		{[]string{"heaps", "set-replicas", "scratch", "0"}, `"0" is no number of voters: want one from 1 to 9`},
		{[]string{"heaps", "set-replicas", "scratch", "10"}, `"10" is no number of voters`},
		{[]string{"heaps", "set-replicas", "scratch", "three"}, `"three" is no number of voters`},
		{[]string{"heaps", "set-replicas", "scratch"}, `"set-replicas NAME N"`},
	} {
		if out, err := run(n1, c.args...); err == nil || !strings.Contains(out, c.want) {
			t.Errorf("ossd %s: %v, want %q:\n%s", strings.Join(c.args, " "), err, c.want, out)
		}
	}
	if out, err := exec.CommandContext(ctx, bin, "cert", "issue", "--dir", c.Certs(), "--name", "bob", "--role", "client").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := run(n1, "heaps", "set-replicas", "scratch", "3", "--user", "bob"); err == nil || !strings.Contains(out, `"bob" may not`) {
		t.Errorf("a client certificate changing the factor: %v\n%s", err, out)
	}
	if h := heap(n1); h.Replicas != 1 {
		t.Errorf("scratch's factor %d after the refusals, want 1", h.Replicas)
	}
}
