package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// TestOssdProcesses runs three ossd nodes as processes, uses the
// CLI on them, kills a voter with SIGKILL and checks that a fourth node
// replaces it.
func TestOssdProcesses(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := ossdBin
	c, err := ossdtest.New(ctx, dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Flags = []string{"--gossip", "loopback", "--replace-after", "1s"}
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.Start(ctx, "n2", n1)
	if err != nil {
		t.Fatal(err)
	}
	n3, err := c.Start(ctx, "n3", n1, n2)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			for _, p := range []*ossdtest.Proc{n1, n2, n3} {
				t.Logf("%s:\n%s", p.Name, p.Tail(30))
			}
		}
	}()

	cli := func(p *ossdtest.Proc, args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, bin, append(args, "--http", p.HTTP, "--certs", c.Certs())...).CombinedOutput()
		if err != nil {
			t.Fatalf("ossd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// The heaps' groups are new, and a loaded machine's elections come at
	// any moment: a put of one value, a fresh read, a heap's creation and
	// drop go again while the node answers that its group was between
	// leaders. After a try whose outcome was unknown, the next finding the
	// heap there (or gone) means that try created (or dropped) it.
	settled := map[string]string{"create": "already exists", "drop": "no such heap"}
	again := func(p *ossdtest.Proc, args ...string) string {
		t.Helper()
		var out []byte
		var err error
		unknown := false
		waitFor(t, "ossd "+strings.Join(args, " "), func() bool {
			out, err = exec.CommandContext(ctx, bin, append(args, "--http", p.HTTP, "--certs", c.Certs())...).CombinedOutput()
			if s := settled[args[1]]; err != nil && unknown && args[0] == "heaps" && s != "" && strings.Contains(string(out), s) {
				err = nil
			}
			unknown = unknown || strings.Contains(string(out), "commit outcome unknown")
			return err == nil || !betweenLeaders(string(out))
		})
		if err != nil {
			t.Fatalf("ossd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	again(n2, "put", "settings", "motd", `{"text": "hello", "n": 7}`)
	if out := again(n3, "get", "settings", "motd", "--fresh"); !strings.Contains(out, `"text": "hello"`) || !strings.Contains(out, `"n": 7`) {
		t.Fatalf("get on another node:\n%s", out)
	}
	again(n1, "heaps", "create", "scratch", "--replicas", "1")
	// n3's catalog replica lists the heap once it has applied its entry.
	var listed string
	waitFor(t, "the creation to reach n3", func() bool {
		listed = cli(n3, "heaps")
		return regexp.MustCompile(`(?m)^scratch +1\b`).MatchString(listed)
	})
	if !strings.Contains(listed, "settings") {
		t.Fatalf("heaps:\n%s", listed)
	}
	if out, err := exec.CommandContext(ctx, bin, "heaps", "create", "scratch", "--http", n2.HTTP, "--certs", c.Certs()).CombinedOutput(); err == nil || !strings.Contains(string(out), "exists") {
		t.Fatalf("creating a heap that exists: %v\n%s", err, out)
	}
	// The admin interface serves only certificates of the cluster's CA,
	// and by default lets client certificates do nothing.
	if out, err := exec.CommandContext(ctx, bin, "get", "settings", "motd", "--http", n1.HTTP, "--certs", c.Certs(), "--user", "nobody").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "ossd cert issue --dir "+c.Certs()+" --name nobody --role admin") {
		t.Fatalf("the CLI without a certificate: %v\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, bin, "cert", "issue", "--dir", c.Certs(), "--name", "alice", "--role", "client").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, bin, "put", "settings", "motd", `"defaced"`, "--http", n1.HTTP, "--certs", c.Certs(), "--user", "alice").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "may not write") {
		t.Fatalf("a client certificate writing: %v\n%s", err, out)
	}
	again(n1, "heaps", "drop", "scratch")
	waitFor(t, "the drop to reach n3", func() bool { return !strings.Contains(cli(n3, "heaps"), "scratch") })
	// Learners become voters once they have caught up, which on a loaded
	// machine can come after everything above.
	waitFor(t, "status to list a heap with the voters n1,n2,n3", func() bool {
		status := cli(n1, "status")
		return strings.Contains(status, "settings") && strings.Contains(status, "n1,n2,n3")
	})

	// A second process on n1's data directory is refused.
	out, err := exec.CommandContext(ctx, bin, "run", "--name", "n1", "--listen", "127.0.0.1:0", "--http", "",
		"--certs", filepath.Join(dir, "certs"), "--data-dir", filepath.Join(dir, "n1")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another process") {
		t.Fatalf("a second process on a data directory: %v\n%s", err, out)
	}
	// A node with a certificate of another CA cannot join.
	other := filepath.Join(dir, "other")
	if out, err := exec.CommandContext(ctx, bin, "ca", "init", "--dir", other).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, bin, "cert", "issue", "--dir", other, "--name", "x").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = exec.CommandContext(ctx, bin, "run", "--name", "x", "--listen", "127.0.0.1:0", "--http", "",
		"--certs", other, "--data-dir", filepath.Join(dir, "x"), "--join", n1.Addr).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "join") {
		t.Fatalf("a node of another CA: %v\n%s", err, out)
	}

	// SIGKILL a voter of "settings"; a fourth node takes its place.
	// Its voters as they stand once settled: on a loaded machine one may
	// be suspected, and the group between configurations, for a moment.
	var voters []string
	waitFor(t, "settings' three voters", func() bool {
		st, err := n1.Status(ctx)
		if err != nil {
			return false
		}
		h := heapStatus(t, st, "settings")
		voters = h.Voters
		return !h.Joint && len(h.Voters) == 3
	})
	victim := map[string]*ossdtest.Proc{"n1": n1, "n2": n2, "n3": n3}[voters[2]]
	victim.Kill()
	n4, err := c.Start(ctx, "n4", n1, n2, n3)
	if err != nil {
		t.Fatal(err)
	}
	var alive *ossdtest.Proc
	for _, p := range []*ossdtest.Proc{n1, n2, n3} {
		if p != victim {
			alive = p
		}
	}
	waitFor(t, "n4 to replace "+victim.Name, func() bool {
		st, err := alive.Status(ctx)
		if err != nil {
			return false
		}
		h := heapStatus(t, st, "settings")
		return !h.Joint && len(h.Voters) == 3 && slices.Contains(h.Voters, "n4") && !slices.Contains(h.Voters, victim.Name)
	})
	if out := again(n4, "get", "settings", "motd", "--fresh"); !strings.Contains(out, `"text": "hello"`) {
		t.Fatalf("get on the replacement:\n%s", out)
	}
	// SIGTERM: the node hands over, leaves and exits 0.
	if err := n4.Stop(30 * time.Second); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, n4.Tail(20))
	}
	if !strings.Contains(n4.Tail(5), "left the cluster") {
		t.Fatalf("n4's log after SIGTERM:\n%s", n4.Tail(10))
	}
}

// putRoot sets a root's value through p and returns the object's ID. The
// heap's group may be between leaders on a loaded machine: the put goes
// again while the node says so (one value, so a second commit does no
// harm; a retry finds the root the first may have set).
func putRoot(t *testing.T, ctx context.Context, p *ossdtest.Proc, heap, root string, v any) uuid.UUID {
	t.Helper()
	var out admin.Committed
	var err error
	waitFor(t, "put "+root, func() bool {
		out, err = p.PutRoot(ctx, heap, root, v)
		return err == nil || !errors.Is(err, oss.ErrNoQuorum) && !errors.Is(err, oss.ErrCommitUnknown)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.ID
}

// betweenLeaders reports whether the CLI's output says a heap's group had
// no leader to answer: a commit refused for want of one, its outcome not
// learned, or the request's time out while it waited.
func betweenLeaders(out string) bool {
	for _, s := range []string{"no quorum", "commit outcome unknown", "deadline exceeded"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

func heapStatus(t *testing.T, st oss.ClusterStatus, name string) oss.HeapStatus {
	for _, h := range st.Heaps {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no heap %q in the status", name)
	return oss.HeapStatus{}
}

// waitFor polls cond until it holds. It gives up after 5 minutes, as
// oss/osstest.Recv does: a bound against a hang, which a test that
// passes never reaches; its minute before was short at load 40.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCLIErrors(t *testing.T) {
	certs := t.TempDir()
	if err := dispatch([]string{"ca", "init", "--dir", certs}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"cert", "issue", "--dir", t.TempDir(), "--name", "x"}, "ossd ca init"},
		{[]string{"cert", "issue"}, "--name is required"},
		{[]string{"run", "--name", "x"}, "TLS material is required"},
		{[]string{"get", "onlyheap"}, "want HEAP"},
		{[]string{"put", "h", "r", "{not json"}, "not JSON"},
		{[]string{"status", "--http", "127.0.0.1:9", "--http-insecure"}, "no node answers"},
		{[]string{"status", "--http", "127.0.0.1:9", "--certs", t.TempDir()}, "no CA certificate"},
		{[]string{"heaps", "--certs", certs, "--user", "bob"}, "no certificate " + filepath.Join(certs, "bob.crt") + ": issue one with `ossd cert issue --dir " + certs + " --name bob --role admin`"},
	} {
		err := dispatch(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ossd %v: %v, want an error about %q", tc.args, err, tc.want)
		}
	}
	t.Setenv("OSS_REPLICAS", "many")
	if err := dispatch([]string{"run"}); err == nil || !strings.Contains(err.Error(), "OSS_REPLICAS") {
		t.Errorf("a bad environment variable: %v", err)
	}
}

type account struct {
	Balance int64 `json:"balance"`
}

func balanceOf(t *testing.T, o admin.Object) int64 {
	b, _ := json.Marshal(o.Value)
	var a account
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("account %v: %v", o.Value, err)
	}
	return a.Balance
}

// TestOssdSurvivesKillOfEveryNode runs transfers on three durable ossd
// processes, kills all of them with SIGKILL at once, restarts them and
// checks that every acknowledged transfer is there and money is conserved.
func TestOssdSurvivesKillOfEveryNode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := ossdBin
	c, err := ossdtest.New(ctx, dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Flags = []string{"--gossip", "loopback", "--durability", "sync", "--replace-after", "1s"}
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
	var ids []uuid.UUID
	for i := range 6 {
		ids = append(ids, putRoot(t, ctx, procs[0], "bank", fmt.Sprintf("acct-%d", i), account{100}))
	}
	ledgers := map[string]uuid.UUID{}
	for _, p := range procs {
		ledgers[p.Name] = putRoot(t, ctx, procs[0], "bank", "ledger-"+p.Name, account{0})
	}

	// Each transfer also counts itself in its node's ledger.
	var mu sync.Mutex
	acked := map[string]int64{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				from, to := ids[i%6], ids[(i+1)%6]
				var objs []admin.Object
				var err error
				for _, id := range []uuid.UUID{from, to, ledgers[p.Name]} {
					var o admin.Object
					if o, err = p.Object(ctx, "bank", id, false); err != nil {
						break
					}
					objs = append(objs, o)
				}
				if err != nil {
					continue
				}
				vals := []int64{balanceOf(t, objs[0]) - 1, balanceOf(t, objs[1]) + 1, balanceOf(t, objs[2]) + 1}
				txn := &admin.Txn{}
				for k, o := range objs {
					v, _ := json.Marshal(account{vals[k]})
					txn.Reads = append(txn.Reads, admin.Read{ID: o.ID, Version: o.Version})
					txn.Writes = append(txn.Writes, admin.Write{ID: o.ID, Value: v})
				}
				if _, err := p.Commit(ctx, "bank", txn); err == nil {
					mu.Lock()
					acked[p.Name]++
					mu.Unlock()
				}
			}
		})
	}
	// Two seconds of transfers, and on until one is acknowledged: on a
	// loaded machine the first commit can take longer than that.
	begin := time.Now()
	for deadline := begin.Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := acked["n1"] + acked["n2"] + acked["n3"]
		mu.Unlock()
		if n > 0 && time.Since(begin) >= 2*time.Second {
			break
		}
	}
	mu.Lock()
	must := maps.Clone(acked)
	for _, p := range procs { // SIGKILL, one right after the other
		p.Kill()
	}
	mu.Unlock()
	close(stop)
	wg.Wait()
	if must["n1"]+must["n2"]+must["n3"] == 0 {
		t.Fatal("no transfer was acknowledged: the test tests nothing")
	}

	// Restart on the same data directories.
	t1 := time.Now()
	defer func() { t.Logf("restart of all took until %v", time.Since(t1)) }()
	for i, p := range procs {
		if procs[i], err = c.Restart(ctx, p, procs[:i]...); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range procs {
		var sum int64
		for _, id := range ids {
			var o admin.Object
			waitFor(t, p.Name+" to read the bank", func() bool { o, err = p.Object(ctx, "bank", id, true); return err == nil })
			sum += balanceOf(t, o)
		}
		if sum != 600 {
			t.Fatalf("%s holds %d after the restart, want 600", p.Name, sum)
		}
		for name, id := range ledgers {
			var o admin.Object
			waitFor(t, p.Name+" to read "+name+"'s ledger", func() bool { o, err = p.Object(ctx, "bank", id, true); return err == nil })
			if n := balanceOf(t, o); n < must[name] {
				t.Fatalf("%s's ledger counts %d transfers after the restart; %d were acknowledged before the kill", name, n, must[name])
			}
		}
	}
	t.Logf("acknowledged before the kill: %v", must)

	// A node whose log is damaged refuses to start and says how to
	// recover; --rebuild-replica rebuilds it from its peers.
	victim := procs[2]
	victim.Kill()
	walDir := filepath.Join(c.DataDir(victim.Name), "wal")
	segs, _ := os.ReadDir(walDir)
	seg := filepath.Join(walDir, segs[0].Name())
	data, _ := os.ReadFile(seg)
	data[len(bytes.TrimRight(data, "\x00"))/3] ^= 0x5a // in the records, not in the zeros the log fills ahead
	os.WriteFile(seg, data, 0o600)
	if _, err := c.Restart(ctx, victim, procs[:2]...); err == nil || !strings.Contains(err.Error(), "--rebuild-replica") {
		t.Fatalf("a node on a damaged log: %v", err)
	}
	t0 := time.Now()
	rebuilt, err := c.RestartWith(ctx, victim, []string{"--rebuild-replica"}, procs[:2]...)
	if err != nil {
		b, _ := os.ReadFile(victim.Log)
		t.Fatalf("%v\nfull log tail:\n%s", err, b[max(0, len(b)-3000):])
	}
	t.Logf("rebuilt node up after %v", time.Since(t0))
	procs[2] = rebuilt
	var sum int64
	for _, id := range ids {
		var o admin.Object
		waitFor(t, "the rebuilt node to read the bank", func() bool { o, err = rebuilt.Object(ctx, "bank", id, true); return err == nil })
		sum += balanceOf(t, o)
	}
	if sum != 600 {
		t.Fatalf("the rebuilt node holds %d, want 600", sum)
	}
}

// TestRunRefusesInsecureAdminOffLoopback: issue 14, row 5. "--http
// 0.0.0.0:PORT" bound every interface with no authentication. Plain HTTP
// (--http-insecure) is now refused off loopback before the node starts;
// the default, HTTPS with client certificates, may listen anywhere.
func TestRunRefusesInsecureAdminOffLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:7480", ":7480", "[::]:7480", "192.0.2.1:7480", "example.com:7480"} {
		err := dispatch([]string{"run", "--name", "x", "--http-insecure", "--http", addr})
		if err == nil || !strings.Contains(err.Error(), "only on loopback") {
			t.Errorf("--http-insecure --http %s: %v", addr, err)
		}
	}
	if err := dispatch([]string{"run", "--name", "x", "--http-max-body", "0"}); err == nil || !strings.Contains(err.Error(), "--http-max-body") {
		t.Errorf("--http-max-body 0: %v", err)
	}
	// Loopback passes these checks and fails later, for want of certificates.
	for _, addr := range []string{"127.0.0.1:7480", "localhost:7480", "[::1]:7480"} {
		err := dispatch([]string{"run", "--name", "x", "--http-insecure", "--http", addr})
		if err == nil || !strings.Contains(err.Error(), "TLS material is required") {
			t.Errorf("--http-insecure --http %s: %v", addr, err)
		}
	}
}
