package ossdtest_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/check"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// settleWait bounds each wait for placement to settle: generous, since
// a replacement waits --replace-after and a learner's catch-up, and the
// machine is loaded.
const settleWait = 4 * time.Minute

// churn is a cluster of ossd processes under a list-append workload on
// several heaps, for tests that kill, restart, add and remove nodes.
type churn struct {
	t     *testing.T
	ctx   context.Context
	c     *ossdtest.Cluster
	heaps map[string]int // name -> replicas
	// stuck names heaps that lost their quorum: settle waits for none of
	// them.
	stuck map[string]bool
	// cut names nodes cut off from the others: statusSays asks the
	// others.
	cut map[string]bool

	mu    sync.Mutex
	procs map[string]*ossdtest.Proc // the current process of each node, running or not

	recs map[string]*check.Recorder
	ids  map[string][]uuid.UUID
	stop func()
}

func (ch *churn) proc(name string) *ossdtest.Proc {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.procs[name]
}

func (ch *churn) set(p *ossdtest.Proc) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.procs[p.Name] = p
}

// live returns the processes running, by name.
func (ch *churn) live() []*ossdtest.Proc {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	var out []*ossdtest.Proc
	for _, name := range slices.Sorted(maps.Keys(ch.procs)) {
		if p := ch.procs[name]; !p.Exited() {
			out = append(out, p)
		}
	}
	return out
}

// anyLive returns a running process picked by rng, or nil.
func (ch *churn) anyLive(rng *rand.Rand) *ossdtest.Proc {
	l := ch.live()
	if len(l) == 0 {
		return nil
	}
	return l[rng.IntN(len(l))]
}

// startWorkload creates the heaps, 4 lists in each, and runs 3 clients a
// heap, each on a running process picked at random for every
// transaction.
func (ch *churn) startWorkload(seed uint64) {
	ch.recs, ch.ids = map[string]*check.Recorder{}, map[string][]uuid.UUID{}
	first := ch.live()[0]
	for heap, r := range ch.heaps {
		waitCond(ch.t, "heap "+heap+" created", func() bool {
			cctx, cancel := context.WithTimeout(ch.ctx, 10*time.Second)
			defer cancel()
			err := first.CreateHeap(cctx, heap, r)
			return err == nil || strings.Contains(err.Error(), "exists")
		})
		ids := make([]uuid.UUID, 4)
		for k := range ids {
			waitCond(ch.t, "list made", func() bool {
				cctx, cancel := context.WithTimeout(ch.ctx, 10*time.Second)
				defer cancel()
				out, err := first.PutRoot(cctx, heap, fmt.Sprint("list-", k), []int{})
				ids[k] = out.ID
				return err == nil
			})
		}
		ch.recs[heap], ch.ids[heap] = check.NewRecorder(), ids
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	n := 0
	for _, heap := range slices.Sorted(maps.Keys(ch.heaps)) {
		next := new([4]atomic.Int64)
		for range 3 {
			n++
			w := n // the worker's number, fixed before it starts
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(seed, uint64(w)))
				for {
					select {
					case <-done:
						return
					case <-ch.ctx.Done():
						return
					default:
					}
					if p := ch.anyLive(rng); p != nil {
						listTxnOn(ch.ctx, heap, p, w, rng, ch.ids[heap], next, ch.recs[heap])
					} else {
						time.Sleep(50 * time.Millisecond)
					}
				}
			})
		}
	}
	var once sync.Once
	ch.stop = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
	ch.t.Cleanup(ch.stop)
}

// waitCond waits up to settleWait for cond, failing the test naming what.
func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(settleWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", settleWait, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tolerance is how many more voters a group of n voters, live of them
// live, can lose and still commit.
func tolerance(n, live int) int { return live - (n/2 + 1) }

// odd rounds n down to an odd number.
func odd(n int) int {
	if n%2 == 0 {
		return n - 1
	}
	return n
}

// placed says whether a heap's group, as a status reports it, is where
// placement puts it given the live servers: a leader that is live, not
// joint, as many live voters as the heap's replicas allow (odd, at most
// the live servers), and a dead voter only where no live server could
// take its place and removing it would not let the group survive more
// failures (a shrink). It returns why not.
func placed(h oss.HeapStatus, replicas int, live []string) string {
	want := odd(min(replicas, len(live)))
	var liveVoters, dead []string
	for _, v := range h.Voters {
		if slices.Contains(live, v) {
			liveVoters = append(liveVoters, v)
		} else {
			dead = append(dead, v)
		}
	}
	spare := len(live) - len(liveVoters)
	switch {
	case h.Leader == "" || !slices.Contains(live, h.Leader):
		return fmt.Sprintf("leader %q is no live member", h.Leader)
	case h.Joint:
		return "joint"
	case len(liveVoters) < want:
		return fmt.Sprintf("%d live voters (%v), want %d", len(liveVoters), h.Voters, want)
	case slices.ContainsFunc(h.Learners, func(l string) bool { return !slices.Contains(live, l) }):
		return fmt.Sprintf("learners %v include one that is no live member", h.Learners)
	case len(dead) > 0 && spare > 0:
		return fmt.Sprintf("dead voters %v while %d live servers are no voter", dead, spare)
	case len(dead) > 0 && tolerance(len(h.Voters), len(liveVoters)) < tolerance(odd(len(liveVoters)), odd(len(liveVoters))):
		return fmt.Sprintf("dead voters %v: a shrink would survive more failures", dead)
	case len(dead) > 0:
		return ""
	}
	// Every voter live: the voters are the best-placed live servers, and
	// the best-placed of them leads.
	var ms []engine.Member
	for _, n := range live {
		ms = append(ms, engine.Member{Name: n, Server: true})
	}
	var best []string
	for _, m := range engine.Rank(h.Name, ms)[:want] {
		best = append(best, m.Name)
	}
	voters := slices.Sorted(slices.Values(h.Voters))
	if !slices.Equal(voters, slices.Sorted(slices.Values(best))) {
		return fmt.Sprintf("voters %v, placement wants %v", voters, best)
	}
	if h.Leader != best[0] {
		return fmt.Sprintf("leader %s, placement wants %s", h.Leader, best[0])
	}
	return ""
}

// settle waits until every heap (the catalog too) is placed as placed
// says, in the status of every running node, and every node agrees on
// each group.
func (ch *churn) settle(what string) {
	ch.t.Helper()
	start := time.Now()
	var why string
	deadline := time.Now().Add(settleWait)
	for {
		if why = ch.placement(); why == "" {
			break
		}
		if time.Now().After(deadline) {
			ch.t.Fatalf("%s: placement did not settle within %v: %s", what, settleWait, why)
		}
		time.Sleep(300 * time.Millisecond)
	}
	ch.t.Logf("%s: settled in %v", what, time.Since(start).Round(100*time.Millisecond))
}

// placement returns why the heaps are not settled, or "", as the running
// nodes that are not cut off see them.
func (ch *churn) placement() string {
	var procs []*ossdtest.Proc
	for _, p := range ch.live() {
		if !ch.cut[p.Name] {
			procs = append(procs, p)
		}
	}
	var live []string
	for _, p := range procs {
		live = append(live, p.Name)
	}
	heaps := map[string]int{"oss:catalog": 5}
	for h, r := range ch.heaps {
		heaps[h] = r
	}
	var first map[string]string
	for _, p := range procs {
		sctx, cancel := context.WithTimeout(ch.ctx, 5*time.Second)
		st, err := p.Status(sctx)
		cancel()
		if err != nil {
			return p.Name + ": " + err.Error()
		}
		var members []string
		for _, m := range st.Members {
			members = append(members, m.Name)
			if q := ch.proc(m.Name); q != nil && m.Addr != q.Peer {
				return fmt.Sprintf("%s lists %s at %s, it runs at %s", p.Name, m.Name, m.Addr, q.Peer)
			}
		}
		slices.Sort(members)
		if !slices.Equal(members, live) {
			return fmt.Sprintf("%s sees members %v, running %v", p.Name, members, live)
		}
		if len(st.Unreachable) > 0 {
			return fmt.Sprintf("%s: unreachable %v", p.Name, st.Unreachable)
		}
		groups := map[string]string{}
		for _, h := range st.Heaps {
			r, ok := heaps[h.Name]
			if !ok || ch.stuck[h.Name] {
				delete(heaps, h.Name)
				continue
			}
			if why := placed(h, r, live); why != "" {
				return fmt.Sprintf("%s says of %s: %s", p.Name, h.Name, why)
			}
			groups[h.Name] = fmt.Sprintf("leader %s voters %v learners %v", h.Leader, h.Voters, h.Learners)
		}
		if len(groups) != len(heaps) {
			return fmt.Sprintf("%s lists %d of the %d heaps", p.Name, len(groups), len(heaps))
		}
		if why := leadsAgree(st, heaps); why != "" {
			return p.Name + ": " + why
		}
		if first == nil {
			first = groups
		} else {
			for h, g := range groups {
				if first[h] != g {
					return fmt.Sprintf("of %s, %s says %s, %s says %s", h, procs[0].Name, first[h], p.Name, g)
				}
			}
		}
	}
	return ch.cliTruth(procs[0], live)
}

// leadsAgree returns how the members' LEADS disagree with the heaps'
// leaders in st, of the heaps given, or "". Node.Status names them from
// its heaps since 2026-12-06 (they were membership's metadata, late).
func leadsAgree(st oss.ClusterStatus, heaps map[string]int) string {
	for _, h := range st.Heaps {
		if _, ok := heaps[h.Name]; !ok {
			continue
		}
		for _, m := range st.Members {
			if leads := slices.Contains(m.Leads, h.Name); leads != (m.Name == h.Leader) {
				return fmt.Sprintf("member %s leads %v, the leader of %s is %q", m.Name, m.Leads, h.Name, h.Leader)
			}
		}
	}
	return ""
}

// cliTruth returns what "ossd status" against p says that is not so,
// once placement settled: only a voter that is no running node may be
// "down:", and each such voter must be; nothing is unreachable, lost or
// a learner that is not live.
func (ch *churn) cliTruth(p *ossdtest.Proc, live []string) string {
	sctx, cancel := context.WithTimeout(ch.ctx, 5*time.Second)
	st, err := p.Status(sctx)
	cancel()
	if err != nil {
		return err.Error()
	}
	out := ch.cliStatus(p)
	for _, w := range []string{"ossd status:", "not live:", "unreachable:", "lost:"} {
		if w == "not live:" && len(ch.stuck) > 0 {
			continue // a group without its quorum removes no learner
		}
		if strings.Contains(out, w) {
			return fmt.Sprintf("placed, but ossd status against %s says %q:\n%s", p.Name, w, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, "down: "); ok {
			name, _, _ = strings.Cut(name, ",")
			if slices.Contains(live, name) {
				return fmt.Sprintf("ossd status against %s says %s, running, is down:\n%s", p.Name, name, out)
			}
		}
	}
	for _, h := range st.Heaps {
		for _, v := range h.Voters {
			if !slices.Contains(live, v) && !strings.Contains(out, "down: "+v+",") {
				return fmt.Sprintf("ossd status against %s has no down: line for %s, a voter of %s:\n%s", p.Name, v, h.Name, out)
			}
		}
	}
	return ""
}

// twoVoters returns the running processes of two voters of heap, its
// leader first. It waits until the first running node's status names a
// leader and a second voter: between leaders (an election or a transfer
// of leadership at load) it names none.
func (ch *churn) twoVoters(heap string) (*ossdtest.Proc, *ossdtest.Proc) {
	ch.t.Helper()
	var l, f string
	var last []oss.HeapStatus
	defer func() {
		if l == "" {
			ch.t.Logf("no two voters of %s in %+v", heap, last)
		}
	}()
	waitCond(ch.t, "a leader and another voter of "+heap, func() bool {
		st, err := ch.statusOnce(ch.live()[0])
		if err != nil {
			return false
		}
		last = st.Heaps
		for _, h := range st.Heaps {
			if h.Name == heap && len(h.Voters) >= 2 && h.Leader != "" && ch.proc(h.Leader) != nil {
				i := slices.IndexFunc(h.Voters, func(v string) bool { return v != h.Leader })
				if ch.proc(h.Voters[i]) != nil {
					l, f = h.Leader, h.Voters[i]
					return true
				}
			}
		}
		return false
	})
	return ch.proc(l), ch.proc(f)
}

// statusOnce asks p for its status, bounded by 5 s.
func (ch *churn) statusOnce(p *ossdtest.Proc) (oss.ClusterStatus, error) {
	sctx, cancel := context.WithTimeout(ch.ctx, 5*time.Second)
	defer cancel()
	return p.Status(sctx)
}

// status asks p for its status until it answers: one request may run out
// of its 5 s at load.
func (ch *churn) status(p *ossdtest.Proc) oss.ClusterStatus {
	ch.t.Helper()
	var st oss.ClusterStatus
	var err error
	waitCond(ch.t, p.Name+"'s status", func() bool {
		st, err = ch.statusOnce(p)
		if err != nil {
			ch.t.Logf("%s's status: %v", p.Name, err)
		}
		return err == nil
	})
	return st
}

// statusSays waits until ok, given heap's status and the output of
// "ossd status", returns "" for the status every running node gives.
func (ch *churn) statusSays(heap string, ok func(h oss.HeapStatus, out string) string) {
	ch.t.Helper()
	var why string
	defer func() {
		if ch.t.Failed() {
			ch.t.Logf("the status of %s: %s", heap, why)
		}
	}()
	waitCond(ch.t, "the status of "+heap, func() bool {
		why = ch.statusWhyNot(heap, ok)
		return why == ""
	})
}

// statusHolds is statusSays, and then ok must hold for n more rounds of
// every running node's status: once the cluster has settled, what the
// status says must not depend on which replica answered first. A round
// in which a node's status, or "ossd status" against it, does not
// answer is asked again (until settleWait): at load 20 to 75 a status
// ran out of its 5 s ("no node answers ... context deadline exceeded"),
// which is no answer, not one that disagrees. A status that answers and
// disagrees fails the test.
func (ch *churn) statusHolds(heap string, n int, ok func(h oss.HeapStatus, out string) string) {
	ch.t.Helper()
	ch.statusSays(heap, ok)
	for i := range n {
		var why string
		waitCond(ch.t, fmt.Sprintf("every status of %s to answer, round %d after it first held", heap, i+1), func() bool {
			var answered bool
			why, answered = ch.statusAnswers(heap, ok)
			if !answered {
				ch.t.Logf("the status of %s, round %d after it first held: %s; again", heap, i+1, why)
			}
			return answered
		})
		if why != "" {
			ch.t.Errorf("the status of %s, round %d after it first held: %s", heap, i+1, why)
			return
		}
	}
}

// statusWhyNot returns why ok does not hold for heap in the status of
// every running node not cut off, or "".
func (ch *churn) statusWhyNot(heap string, ok func(h oss.HeapStatus, out string) string) string {
	why, _ := ch.statusAnswers(heap, ok)
	return why
}

// statusAnswers is statusWhyNot, and whether every node answered: if
// answered is false, why says which did not.
func (ch *churn) statusAnswers(heap string, ok func(h oss.HeapStatus, out string) string) (why string, answered bool) {
	for _, p := range ch.live() {
		if ch.cut[p.Name] {
			continue
		}
		st, err := ch.statusOnce(p)
		if err != nil {
			return err.Error(), false
		}
		out, err := ch.cliStatusErr(p)
		if isNoAnswer(err, out) {
			return fmt.Sprintf("ossd status against %s: %v: %s", p.Name, err, out), false
		}
		if err != nil {
			out = fmt.Sprintf("ossd status: %v: %s", err, out)
		}
		for _, h := range st.Heaps {
			if h.Name == heap {
				if w := ok(h, out); w != "" {
					return p.Name + "'s " + w + ":\n" + out, true
				}
			}
		}
	}
	return "", true
}

// isNoAnswer reports whether "ossd status" failed for want of an answer
// in time (err its exit, out what it printed), not with a status.
func isNoAnswer(err error, out string) bool {
	return err != nil && strings.Contains(out, "no node answers")
}

// cliStatus returns what "ossd status" prints against p.
func (ch *churn) cliStatus(p *ossdtest.Proc) string {
	out, err := ch.cliStatusErr(p)
	if err != nil {
		return fmt.Sprintf("ossd status: %v: %s", err, out)
	}
	return out
}

// cliStatusErr returns what "ossd status" prints against p, and how it
// exited.
func (ch *churn) cliStatusErr(p *ossdtest.Proc) (string, error) {
	out, err := exec.CommandContext(ch.ctx, ch.c.Bin, "status", "--http", p.HTTP, "--certs", ch.c.Certs()).CombinedOutput()
	return string(out), err
}

// freeUDP returns a loopback UDP address free a moment ago, handed out
// for no other node of this test binary (ossdtest.FreeUDP).
func freeUDP(t *testing.T) string {
	addr, err := ossdtest.FreeUDP()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// restart starts a killed node again, joining through the running ones.
func (ch *churn) restart(p *ossdtest.Proc) *ossdtest.Proc {
	ch.t.Helper()
	np, err := ch.c.Restart(ch.ctx, p, ch.live()...)
	if err != nil {
		ch.t.Fatalf("restart %s: %v", p.Name, err)
	}
	ch.set(np)
	return np
}

// leaderName returns the leader of heap as the first running node's
// status reports it, once it names one: between leaders it names none.
func (ch *churn) leaderName(heap string) string {
	ch.t.Helper()
	var lead string
	waitCond(ch.t, "a leader of "+heap, func() bool {
		st, err := ch.statusOnce(ch.live()[0])
		if err != nil {
			return false
		}
		for _, h := range st.Heaps {
			if h.Name == heap && ch.proc(h.Leader) != nil {
				lead = h.Leader
			}
		}
		return lead != ""
	})
	return lead
}

// TestOssdPlacementThroughChurn runs five ossd processes with three
// heaps (3 replicas, 5 replicas and the catalog) under a list-append
// workload on every heap, and in turn: kills two voters of the heap of
// three at once (it has no quorum until one is back) and restarts them
// on their data directories; kills the catalog's leader and starts it
// again on an empty data directory (same name and certificate); kills
// one and adds a sixth node while it is dead, then restarts it on a new
// address; stops the leader of the heap of three with SIGTERM (a
// graceful leave) while the heaps are written, and starts it again.
// After each step every heap must settle where placement puts it, as
// every node's status and "ossd status" tell it; at the end every heap
// has its configured voters, all live, every replica the same digest at
// the same index, and the histories no anomaly and no acknowledged
// append lost. With OSS_LONG the steps run five rounds.
func TestOssdPlacementThroughChurn(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Minute)
	defer cancel()
	ch := startChurn(ctx, t, map[string]int{"three": 3, "five": 5}, "n1", "n2", "n3", "n4", "n5")
	c := ch.c
	ch.startWorkload(11)
	ch.settle("five nodes")
	rounds := 1
	if os.Getenv("OSS_LONG") != "" {
		rounds = 5
	}
	for r := range rounds {
		ch.killTwoVoters("three")
		ch.emptyRestart(ch.proc(ch.leaderName("oss:catalog")))
		if r == 0 {
			d := ch.proc("n3")
			d.Kill()
			p6, err := c.Start(ctx, "n6", ch.live()...)
			if err != nil {
				t.Fatal(err)
			}
			ch.set(p6)
			ch.settle("n3 killed, n6 added")
			ch.moveRestart(d)
		} else {
			d := ch.proc(ch.leaderName("five"))
			d.Kill()
			ch.settle(d.Name + ", the leader of five, killed")
			ch.moveRestart(d)
		}
		// A graceful leave while the heaps are written.
		e := ch.proc(ch.leaderName("three"))
		if err := e.Stop(time.Minute); err != nil {
			t.Errorf("SIGTERM of %s: %v", e.Name, err)
		}
		ch.settle(e.Name + " left")
		ch.restart(e)
		ch.settle(e.Name + " back")
		ch.leaveWhileOneIsDead()
	}
	ch.finish(11)
}

// killTwoVoters kills two voters of heap at once: it has lost its quorum
// until one is back, the other heaps settle among the live nodes. The
// status says both are down and names no dead leader. Then both are
// restarted on their data directories.
func (ch *churn) killTwoVoters(heap string) {
	ch.t.Helper()
	a, b := ch.twoVoters(heap)
	a.Kill()
	b.Kill()
	ch.stuck[heap] = true
	ch.settle(a.Name + " and " + b.Name + ", voters of " + heap + ", killed")
	ch.statusHolds(heap, 10, func(h oss.HeapStatus, out string) string {
		switch {
		case h.Leader == a.Name || h.Leader == b.Name:
			return "names " + h.Leader + ", killed, the leader"
		case !strings.Contains(out, "down: "+a.Name) || !strings.Contains(out, "down: "+b.Name):
			return "has no down: line for both"
		}
		return ""
	})
	ch.restart(a)
	ch.restart(b)
	delete(ch.stuck, heap)
	ch.settle(a.Name + " and " + b.Name + " restarted")
}

// emptyRestart kills p and starts it again on an empty data directory,
// under its name and certificate: a new member, which takes its former
// incarnation's places.
func (ch *churn) emptyRestart(p *ossdtest.Proc) {
	ch.t.Helper()
	p.Kill()
	ch.settle(p.Name + " killed")
	if err := os.RemoveAll(ch.c.DataDir(p.Name)); err != nil {
		ch.t.Fatal(err)
	}
	ch.restart(p)
	ch.settle(p.Name + " back on an empty data directory")
}

// leaveWhileOneIsDead kills one node and at once stops another with
// SIGTERM, before the dead one is replaced: the leaving node's voters of
// the heap of five have nowhere to go and a peer is dead. The leave
// must still end, exit 0, and the heaps settle; then both come back.
func (ch *churn) leaveWhileOneIsDead() {
	ch.t.Helper()
	l := ch.live()
	dead, leaving := l[0], l[len(l)-1]
	dead.Kill()
	start := time.Now()
	if err := leaving.Stop(2 * time.Minute); err != nil {
		ch.t.Errorf("SIGTERM of %s while %s is dead: %v", leaving.Name, dead.Name, err)
	}
	ch.t.Logf("%s stopped in %v while %s was dead", leaving.Name, time.Since(start).Round(100*time.Millisecond), dead.Name)
	ch.settle(dead.Name + " killed, " + leaving.Name + " left")
	ch.restart(dead)
	ch.restart(leaving)
	ch.settle(dead.Name + " and " + leaving.Name + " back")
}

// moveRestart restarts the killed p on its data directory at a new
// address.
func (ch *churn) moveRestart(p *ossdtest.Proc) {
	ch.t.Helper()
	moved := *p
	moved.Addr = freeUDP(ch.t)
	moved.Peer = moved.Addr
	ch.restart(&moved)
	ch.settle(p.Name + " back on a new address")
}

// converged waits until the writes are over and every heap has its
// configured voters, all live, and every running node's replica of it
// the same digest at the same index, which the status reports as each
// node's applied index.
func (ch *churn) converged() {
	ch.t.Helper()
	ch.settle("the writes stopped")
	procs := ch.live()
	for heap, r := range ch.heaps {
		var last string
		done := false
		defer func() {
			if !done {
				ch.t.Logf("%s: %s", heap, last)
			}
		}()
		waitCond(ch.t, "the replicas of "+heap+" to converge", func() bool {
			var ds []string
			idx := map[string]uint64{}
			for _, p := range procs {
				dctx, cancel := context.WithTimeout(ch.ctx, 5*time.Second)
				d, err := p.Digest(dctx, heap)
				cancel()
				if err != nil {
					last = p.Name + ": " + err.Error()
					return false
				}
				ds = append(ds, fmt.Sprintf("%d/%s", d.Index, d.Digest))
				idx[p.Name] = d.Index
			}
			last = fmt.Sprint(ds)
			for _, d := range ds {
				if d != ds[0] {
					return false
				}
			}
			sctx, cancel := context.WithTimeout(ch.ctx, 5*time.Second)
			st, err := procs[0].Status(sctx)
			cancel()
			if err != nil {
				return false
			}
			for _, h := range st.Heaps {
				if h.Name != heap {
					continue
				}
				if len(h.Voters) != r || len(h.Voters)+len(h.Learners) != len(procs) {
					last += fmt.Sprintf("; voters %v learners %v", h.Voters, h.Learners)
					return false
				}
				for name, i := range idx {
					if h.ReplicaApplied[name] != i {
						last += fmt.Sprintf("; status says %s applied %d, its digest is at %d", name, h.ReplicaApplied[name], i)
						return false
					}
				}
				return true
			}
			return false
		})
		done = true // waitCond ends the test's goroutine if it fails
	}
}

// proxiedChurn starts names as ossd processes whose peers reach each
// other through proxies (startProxied), as a churn.
func proxiedChurn(ctx context.Context, t *testing.T, heaps map[string]int, names ...string) (*churn, *proxied) {
	c, px, procs := startProxied(ctx, t, "3s", names...)
	t.Cleanup(px.close)
	t.Cleanup(c.Close)
	ch := newChurn(ctx, t, c, heaps)
	for _, p := range procs {
		ch.set(p)
	}
	return ch, px
}

// startChurn starts an ossd cluster of the nodes names, one after the
// other, as a churn of heaps; it is closed when the test ends.
func startChurn(ctx context.Context, t *testing.T, heaps map[string]int, names ...string) *churn {
	c, err := ossdtest.New(ctx, t.TempDir(), ossdBin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Flags = []string{"--gossip", "loopback", "--durability", "sync", "--replace-after", "3s"}
	ch := newChurn(ctx, t, c, heaps)
	for _, name := range names {
		p, err := c.Start(ctx, name, ch.live()...)
		if err != nil {
			t.Fatal(err)
		}
		ch.set(p)
	}
	return ch
}

// newChurn is a churn of heaps over c; if the test fails, the last lines
// of every node's log are logged.
func newChurn(ctx context.Context, t *testing.T, c *ossdtest.Cluster, heaps map[string]int) *churn {
	ch := &churn{t: t, ctx: ctx, c: c, heaps: heaps, procs: map[string]*ossdtest.Proc{}, stuck: map[string]bool{}, cut: map[string]bool{}}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range ch.procs {
				t.Logf("%s:\n%s", p.Name, p.Tail(30))
			}
		}
	})
	return ch
}

// finish stops the workload, waits until every replica holds the same
// state, and checks every heap's history (seed names it in the log).
func (ch *churn) finish(seed uint64) {
	ch.stop()
	ch.converged()
	for _, heap := range slices.Sorted(maps.Keys(ch.heaps)) {
		procs := ch.live()
		checkListsOn(ch.ctx, ch.t, heap, seed, ch.recs[heap], ch.ids[heap], func(i int) *ossdtest.Proc { return procs[i%len(procs)] }, nil)
	}
}

// reconfigurations counts the configuration changes the nodes' logs
// show proposed.
func (ch *churn) reconfigurations() int {
	n := 0
	for _, p := range ch.live() {
		b, _ := os.ReadFile(p.Log)
		n += strings.Count(string(b), "msg=reconfigure")
	}
	return n
}

// groups returns every heap's voters as the first running node's status
// gives them.
func (ch *churn) groups() map[string]string {
	p := ch.live()[0]
	sctx, cancel := context.WithTimeout(ch.ctx, 5*time.Second)
	defer cancel()
	st, err := p.Status(sctx)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, h := range st.Heaps {
		out[h.Name] = fmt.Sprint(h.Voters)
	}
	return out
}

// steady watches the groups while the workload runs for 10 s after
// placement settled, and fails the test if a heap's voters change more
// than twice: a placement that flaps moves voters back and forth, while
// a node that a loaded machine's failure detector took for dead once
// is replaced and placed back, twice.
func (ch *churn) steady(what string) {
	ch.t.Helper()
	before, last := ch.reconfigurations(), ch.groups()
	moves := map[string][]string{}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		g := ch.groups()
		for h, v := range g {
			if last[h] != "" && v != last[h] {
				moves[h] = append(moves[h], v)
				last[h] = v
			}
		}
	}
	ch.t.Logf("%s: %d configuration changes in the 10 s after placement settled; voters %v", what, ch.reconfigurations()-before, last)
	for h, m := range moves {
		if len(m) > 2 {
			ch.t.Errorf("%s: the voters of %s moved %d times after placement settled: %v", what, h, len(m), m)
		}
	}
}

// cutAndHeal cuts the nodes cut off from the others for longer than it
// takes the others to settle without them (replaced where a server can
// take their places, groups shrunk where that survives more failures),
// checks that a cut-off node that is no majority of a group names no
// leader of it, heals, and waits for placement to settle with them back
// and stay. A heap of which the cut nodes hold a majority of voters is
// left to them until the heal.
func (ch *churn) cutAndHeal(px *proxied, names []string, cut ...string) {
	ch.t.Helper()
	st := ch.status(ch.live()[0])
	minority := map[string]bool{} // heaps the cut-off side cannot lead
	for _, h := range st.Heaps {
		in := 0
		for _, v := range h.Voters {
			if slices.Contains(cut, v) {
				in++
			}
		}
		if 2*in > len(h.Voters) {
			ch.stuck[h.Name] = true
		} else {
			minority[h.Name] = true
		}
	}
	var rest []string
	for _, n := range names {
		if !slices.Contains(cut, n) {
			rest = append(rest, n)
		}
	}
	what := strings.Join(cut, " and ")
	px.partition(cut, rest)
	for _, x := range cut {
		ch.cut[x] = true
	}
	ch.settle(what + " cut off")
	for _, x := range cut {
		ch.cutOffSaysNoLeader(x, minority)
	}
	px.heal()
	clear(ch.cut)
	clear(ch.stuck)
	ch.settle(what + " healed")
	ch.steady(what + " healed")
}

// cutOffSaysNoLeader waits until the status that the cut-off node x
// gives names no leader of any heap, and every other node down: x hears
// from none.
func (ch *churn) cutOffSaysNoLeader(x string, heaps map[string]bool) {
	ch.t.Helper()
	p := ch.proc(x)
	var why string
	defer func() {
		if ch.t.Failed() {
			ch.t.Logf("%s's status: %s", x, why)
		}
	}()
	waitCond(ch.t, x+", cut off, to name no leader", func() bool {
		sctx, cancel := context.WithTimeout(ch.ctx, 5*time.Second)
		st, err := p.Status(sctx)
		cancel()
		if err != nil {
			why = err.Error()
			return false
		}
		for _, h := range st.Heaps {
			if heaps[h.Name] && h.Leader != "" {
				why = fmt.Sprintf("%s's leader %s", h.Name, h.Leader)
				return false
			}
		}
		return true
	})
}

// TestOssdPartitionedReplicaComesBack cuts one of five ossd processes
// off (the leader of a heap of three, a voter of a heap of five and of
// the catalog) for longer than --replace-after, while every heap is
// written: its voter of "three" is replaced, the others keep four live
// voters of five. Once healed, it is back in every group (a learner, then
// a voter where placement wants it), placement settles and stays, and
// every replica holds the same state at the same index; no anomaly, no
// acknowledged append lost. Then the same with the cut node on the
// minority side of a 2-3 split.
func TestOssdPartitionedReplicaComesBack(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	names := []string{"n1", "n2", "n3", "n4", "n5"}
	ch, px := proxiedChurn(ctx, t, map[string]int{"three": 3, "five": 5}, names...)
	ch.startWorkload(12)
	ch.settle("five nodes")
	others := func(cut ...string) []string {
		var out []string
		for _, n := range names {
			if !slices.Contains(cut, n) {
				out = append(out, n)
			}
		}
		return out
	}

	x := ch.leaderName("three")
	px.partition([]string{x}, others(x))
	ch.cut[x] = true
	ch.statusSays("three", func(h oss.HeapStatus, _ string) string {
		if slices.Contains(h.Voters, x) || slices.Contains(h.Learners, x) {
			return fmt.Sprintf("group still holds %s (voters %v, learners %v)", x, h.Voters, h.Learners)
		}
		return ""
	})
	ch.settle(x + " cut off")
	ch.cutOffSaysNoLeader(x, map[string]bool{"oss:catalog": true, "three": true, "five": true})
	px.heal()
	clear(ch.cut)
	ch.settle(x + " healed")
	ch.steady(x + " healed")
	ch.statusSays("three", func(h oss.HeapStatus, _ string) string {
		if !slices.Contains(h.Voters, x) && !slices.Contains(h.Learners, x) {
			return fmt.Sprintf("group lacks %s (voters %v, learners %v)", x, h.Voters, h.Learners)
		}
		return ""
	})

	// Two cut off together, the leader of "five" among them: the
	// majority replaces them in "three" where it can, shrinks "five"
	// and the catalog to three. Then the catalog's leader alone; with
	// OSS_LONG, more cuts of one or two nodes picked at random.
	y := ch.leaderName("five")
	ch.cutAndHeal(px, names, y, others(y)[0])
	ch.cutAndHeal(px, names, ch.leaderName("oss:catalog"))
	if os.Getenv("OSS_LONG") != "" {
		rng := rand.New(rand.NewPCG(12, 0x6375))
		for range 8 {
			perm := rng.Perm(len(names))
			cut := []string{names[perm[0]]}
			if rng.IntN(2) == 0 {
				cut = append(cut, names[perm[1]])
			}
			ch.cutAndHeal(px, names, cut...)
		}
	}

	ch.finish(12)
}

// TestOssdRollingRestartThreeNodes restarts each of three ossd processes
// in turn with SIGTERM (a hand-over and leave, as systemd stops the
// unit) while the heaps are written, starting the next stop as soon as
// the restarted node answers, as a script or a service manager would:
// of three servers, a leaving one keeps its votes, down, until it is
// back. Twice round, then every heap must settle at its placement with
// no anomaly and no acknowledged append lost.
func TestOssdRollingRestartThreeNodes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	ch := startChurn(ctx, t, map[string]int{"three": 3, "one": 1}, "n1", "n2", "n3")
	ch.startWorkload(13)
	ch.settle("three nodes")
	for round := range 2 {
		for _, name := range []string{"n1", "n2", "n3"} {
			p := ch.proc(name)
			start := time.Now()
			if err := p.Stop(2 * time.Minute); err != nil {
				t.Errorf("round %d: SIGTERM of %s: %v", round, name, err)
			}
			stopped := time.Since(start)
			ch.restart(p)
			t.Logf("round %d: %s stopped in %v, back after %v", round, name, stopped.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
		}
	}
	ch.finish(13)
}

// TestOssdImmediateRestarts restarts a killed ossd process at once,
// before its peers' failure detection has noticed it died: on its data
// directory at a new address, on an empty data directory at its
// address, and on an empty data directory at a new address (a machine
// rescheduled with a fresh volume). Each restart must come up, and every
// heap settle at its placement; no anomaly, no acknowledged append lost.
func TestOssdImmediateRestarts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	ch := startChurn(ctx, t, map[string]int{"three": 3}, "n1", "n2", "n3", "n4")
	c := ch.c
	ch.startWorkload(14)
	ch.settle("four nodes")
	for _, step := range []struct {
		what         string
		empty, moved bool
	}{
		{"its data directory, a new address", false, true},
		{"an empty data directory, its address", true, false},
		{"an empty data directory, a new address", true, true},
	} {
		p := ch.proc(ch.leaderName("three"))
		p.Kill()
		if step.empty {
			if err := os.RemoveAll(c.DataDir(p.Name)); err != nil {
				t.Fatal(err)
			}
		}
		np := *p
		if step.moved {
			np.Addr = freeUDP(t)
			np.Peer = np.Addr
		}
		start := time.Now()
		if step.empty && step.moved {
			// A second node of a live name, as far as the others know
			// until they find the first dead: refused for good, and
			// started again as systemd's Restart=on-failure would.
			for {
				q, err := c.Restart(ctx, &np, ch.live()...)
				if err == nil {
					ch.set(q)
					break
				}
				if !strings.Contains(err.Error(), "is already live") {
					t.Fatalf("restart %s: %v", p.Name, err)
				}
				t.Logf("%s refused while its former self looks live; started again", p.Name)
				time.Sleep(time.Second)
			}
		} else {
			ch.restart(&np)
		}
		t.Logf("%s restarted at once on %s: up after %v", p.Name, step.what, time.Since(start).Round(100*time.Millisecond))
		ch.settle(p.Name + " on " + step.what)
	}
	ch.finish(14)
}
