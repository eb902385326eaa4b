package ossdtest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// TestOssdProbeNetnsCatalogLeaderCut runs five ossd processes
// (replace-after 5 s), the one placement makes the catalog's leader in
// its own network namespace, under the bank, counter and list-append
// workloads. While placement changes (another node killed and, past
// replace-after, replaced; a heap created, another dropped) the
// catalog's leader is cut off in the kernel for 30 s. After the heal and
// the killed node's restart, the catalog and every heap must have their
// configured voters again, no node listed twice, and every workload's
// promises hold.
func TestOssdProbeNetnsCatalogLeaderCut(t *testing.T) {
	if os.Getenv("OSS_NETNS") == "" {
		t.Log("a probe of minutes that needs root and ip(8): run with OSS_NETNS=1")
		return
	}
	ns := newNetns(t)
	if ns == nil {
		t.Fatal("OSS_NETNS=1 but no network namespace can be made here (needs root and ip(8))")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	c, err := ossdtest.New(ctx, t.TempDir(), ossdBin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Flags = []string{"--gossip", "loopback", "--durability", "sync", "--replace-after", "5s"}
	names := []string{"n1", "n2", "n3", "n4", "n5"}
	var ms []engine.Member
	for _, n := range names {
		ms = append(ms, engine.Member{Name: n, Server: true})
	}
	inside := engine.Rank("oss:catalog", ms)[0].Name // the catalog's leader, once placed
	c.Wrap = func(name string, argv []string) []string {
		if name == inside {
			return append([]string{"ip", "netns", "exec", ns.name}, argv...)
		}
		return argv
	}
	ch := newChurn(ctx, t, c, map[string]int{"bank": 3, "ctr": 3, "lists": 3})
	for _, name := range names {
		r, err := c.Reserve(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		host := ns.Host
		if name == inside {
			host = ns.Inside
			_, port, _ := net.SplitHostPort(r.HTTP)
			r.HTTP = net.JoinHostPort(ns.Inside, port)
		}
		rehome(r, host)
		p, err := c.Restart(ctx, r, ch.live()...)
		if err != nil {
			t.Fatal(err)
		}
		ch.set(p)
	}
	ch.startWorkload(33)
	b := newBank(ch, "bank", 8)
	cn := &counters{ch: ch, heap: "ctr", outs: map[int]map[int]outcome{}}
	stop := probeLoad(ch, b, cn, 33)
	mustCreate(ch, ch.live()[0], "doomed")
	ch.heaps["doomed"] = 3
	ch.settle("five nodes")
	delete(ch.heaps, "doomed")
	if l := ch.leaderName("oss:catalog"); l != inside {
		t.Fatalf("the catalog's leader is %s, placement puts it on %s", l, inside)
	}

	for round := range 2 {
		catalogLeaderCut(ch, ns, inside, round)
	}

	stop()
	ch.finish(33)
	p := ch.live()[0]
	b.check(p)
	cn.check(p)
}

// catalogLeaderCut kills a node other than inside, at once cuts inside
// (the catalog's leader) off, creates a heap and drops another through
// the majority, waits out replace-after and the majority's placement,
// heals, restarts the killed node and waits for placement to settle.
func catalogLeaderCut(ch *churn, ns *netns, inside string, round int) {
	ch.t.Helper()
	var victim *ossdtest.Proc
	for _, p := range ch.live() {
		if p.Name != inside && (victim == nil || p.Name > victim.Name) {
			victim = p
		}
	}
	if round == 1 {
		victim = ch.voterOf("bank", false)
		if victim.Name == inside {
			victim = ch.voterOf("bank", true)
		}
	}
	victim.Kill()
	ns.cut(true)
	ch.cut[inside] = true
	what := fmt.Sprintf("round %d: %s, the catalog's leader, cut off, %s killed", round, inside, victim.Name)
	start := time.Now()
	var through *ossdtest.Proc
	for _, p := range ch.live() {
		if p.Name != inside {
			through = p
			break
		}
	}
	// A heap created before the others find inside and the victim gone
	// is placed on them (its first voters are the best-placed of the
	// live set the creator knows): it has no leader until they are back.
	// So the heap is created once the others' membership lists neither.
	waitCond(ch.t, what+": the others to find both gone", func() bool {
		for _, p := range ch.live() {
			if p.Name == inside {
				continue
			}
			sctx, cancel := context.WithTimeout(ch.ctx, 5*time.Second)
			st, err := p.Status(sctx)
			cancel()
			if err != nil || slices.ContainsFunc(st.Members, func(m oss.Member) bool { return m.Name == inside || m.Name == victim.Name }) {
				return false
			}
		}
		return true
	})
	ch.t.Logf("%s: the others found both gone in %v", what, time.Since(start).Round(100*time.Millisecond))
	made := fmt.Sprint("made", round)
	mustCreate(ch, through, made)
	ch.mustDo(what+": a heap dropped", func(p *ossdtest.Proc, ctx context.Context) error {
		err := p.DropHeap(ctx, "doomed")
		if err != nil && strings.Contains(err.Error(), "no heap") {
			return nil
		}
		return err
	}, through)
	ch.heaps[made] = 3
	ch.settle(what)
	if rest := 30*time.Second - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	ns.cut(false)
	delete(ch.cut, inside)
	ch.restart(victim)
	ch.settle(what + ": healed, restarted")
	ch.noDoubles(what + ": healed, restarted")
	ch.statusSays("oss:catalog", func(h oss.HeapStatus, _ string) string {
		if !slices.Contains(h.Voters, inside) || !slices.Contains(h.Voters, victim.Name) {
			return fmt.Sprintf("catalog voters %v lack %s or %s", h.Voters, inside, victim.Name)
		}
		return ""
	})
	// Each round drops doomed: make it again for the next.
	mustCreate(ch, ch.live()[0], "doomed")
	delete(ch.heaps, made) // placed; the next rounds' settles need not list it
}

// mustCreate creates heap (3 replicas) through p, or finds it made.
func mustCreate(ch *churn, p *ossdtest.Proc, heap string) {
	ch.t.Helper()
	ch.mustDo("heap "+heap+" created", func(p *ossdtest.Proc, ctx context.Context) error {
		err := p.CreateHeap(ctx, heap, 3)
		if errors.Is(err, oss.ErrHeapExists) {
			return nil
		}
		return err
	}, p)
}
