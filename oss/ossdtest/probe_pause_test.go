package ossdtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// outcome is how a client's request ended: acknowledged, certainly not
// done, or unknown (the reply was lost, the node paused or died).
type outcome int

const (
	acked outcome = iota
	failed
	unknown
)

// outcomeOf classifies a request's error as the harness's clients do: a
// conflict, a bad request, a missing heap and 503 (the node did nothing
// of it) are failures; anything else without an answer is unknown.
func outcomeOf(err error) outcome {
	var se *admin.StatusError
	switch {
	case err == nil:
		return acked
	case errors.As(err, &se) && (se.Code == http.StatusConflict || se.Code == http.StatusBadRequest ||
		se.Code == http.StatusNotFound || se.Code == http.StatusServiceUnavailable):
		return failed
	}
	return unknown
}

// account is a bank account's value: its balance and the transfers that
// moved money in or out of it.
type account struct {
	Bal int   `json:"bal"`
	Tx  []int `json:"tx"`
}

// transfer is one attempt to move Amt from account From to To.
type transfer struct {
	From, To, Amt int
	Out           outcome
	Err           string
}

// bank moves money between accounts of heap "bank" in conditional
// transactions through any running node, and records each transfer's
// outcome.
type bank struct {
	ch   *churn
	heap string
	ids  []uuid.UUID
	next atomic.Int64

	mu  sync.Mutex
	txs map[int]*transfer
}

const bankInitial = 1000

func newBank(ch *churn, heap string, n int) *bank {
	b := &bank{ch: ch, heap: heap, txs: map[int]*transfer{}}
	first := ch.live()[0]
	for i := range n {
		waitCond(ch.t, "account made", func() bool {
			cctx, cancel := context.WithTimeout(ch.ctx, 10*time.Second)
			defer cancel()
			out, err := first.PutRoot(cctx, heap, fmt.Sprint("acct-", i), account{Bal: bankInitial, Tx: []int{}})
			if err == nil {
				b.ids = append(b.ids, out.ID)
			}
			return err == nil
		})
	}
	return b
}

// move makes one transfer through p, waiting up to wait for it.
func (b *bank) move(ctx context.Context, p *ossdtest.Proc, rng *rand.Rand, wait time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	from, to := rng.IntN(len(b.ids)), rng.IntN(len(b.ids)-1)
	if to >= from {
		to++
	}
	var accts [2]account
	txn := &admin.Txn{}
	for i, k := range []int{from, to} {
		o, err := p.Object(ctx, b.heap, b.ids[k], false)
		if err != nil {
			return
		}
		if json.Unmarshal(mustJSON(o.Value), &accts[i]) != nil {
			b.ch.t.Errorf("account %d: %v", k, o.Value)
			return
		}
		txn.Reads = append(txn.Reads, admin.Read{ID: o.ID, Version: o.Version})
	}
	amt := 1 + rng.IntN(20)
	if accts[0].Bal < amt {
		return
	}
	id := int(b.next.Add(1))
	accts[0].Bal -= amt
	accts[1].Bal += amt
	accts[0].Tx = append(accts[0].Tx, id)
	accts[1].Tx = append(accts[1].Tx, id)
	for i, k := range []int{from, to} {
		txn.Writes = append(txn.Writes, admin.Write{ID: b.ids[k], Value: mustJSON(accts[i])})
	}
	tr := &transfer{From: from, To: to, Amt: amt, Out: unknown}
	b.mu.Lock()
	b.txs[id] = tr
	b.mu.Unlock()
	_, err := p.Commit(ctx, b.heap, txn)
	b.mu.Lock()
	tr.Out = outcomeOf(err)
	if err != nil {
		tr.Err = err.Error()
	}
	b.mu.Unlock()
}

// check reads every account at a Fresh view and checks every promise:
// money conserved, each account's balance what its transfers make it,
// every acknowledged transfer in both its accounts, none that failed in
// either, and none in only one.
func (b *bank) check(p *ossdtest.Proc) {
	t := b.ch.t
	accts := make([]account, len(b.ids))
	for k, id := range b.ids {
		var o admin.Object
		var err error
		for range 50 {
			cctx, cancel := context.WithTimeout(b.ch.ctx, 5*time.Second)
			o, err = p.Object(cctx, b.heap, id, true)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("final read of account %d: %v", k, err)
		}
		if err := json.Unmarshal(mustJSON(o.Value), &accts[k]); err != nil {
			t.Fatal(err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	in := map[int][]int{} // transfer -> accounts that list it
	total, counts := 0, map[outcome]int{}
	for k, a := range accts {
		total += a.Bal
		want := bankInitial
		for _, id := range a.Tx {
			in[id] = append(in[id], k)
			tr := b.txs[id]
			if tr == nil {
				t.Errorf("account %d lists transfer %d, never sent", k, id)
				continue
			}
			if tr.From == k {
				want -= tr.Amt
			} else {
				want += tr.Amt
			}
		}
		if a.Bal != want {
			t.Errorf("account %d holds %d, its transfers make it %d", k, a.Bal, want)
		}
	}
	for id, tr := range b.txs {
		counts[tr.Out]++
		got := in[id]
		switch {
		case tr.Out == acked && len(got) != 2:
			t.Errorf("transfer %d (%d -> %d) acknowledged, found in accounts %v", id, tr.From, tr.To, got)
		case tr.Out == failed && len(got) != 0:
			t.Errorf("transfer %d (%d -> %d) failed (%s), found in accounts %v", id, tr.From, tr.To, tr.Err, got)
		case len(got) == 1:
			t.Errorf("transfer %d (%d -> %d) in account %v alone", id, tr.From, tr.To, got)
		}
	}
	if total != bankInitial*len(b.ids) {
		t.Errorf("the bank holds %d, not %d", total, bankInitial*len(b.ids))
	}
	t.Logf("bank: %d transfers: %d acknowledged, %d failed, %d unknown (%d of those committed); total %d",
		len(b.txs), counts[acked], counts[failed], counts[unknown], b.unknownIn(in), total)
	if counts[acked] < 20 {
		t.Errorf("only %d transfers acknowledged: the run tested little", counts[acked])
	}
}

func (b *bank) unknownIn(in map[int][]int) int {
	n := 0
	for id, tr := range b.txs {
		if tr.Out == unknown && len(in[id]) > 0 {
			n++
		}
	}
	return n
}

// counters are roots of heap "ctr", each put by one writer with values
// 1, 2, 3, ... in turn (plain puts, no condition).
type counters struct {
	ch   *churn
	heap string

	mu   sync.Mutex
	outs map[int]map[int]outcome // writer -> value -> outcome
}

func (c *counters) put(ctx context.Context, p *ossdtest.Proc, w, v int, wait time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	c.mu.Lock()
	c.outs[w][v] = unknown
	c.mu.Unlock()
	_, err := p.PutRoot(ctx, c.heap, fmt.Sprint("c-", w), v)
	c.mu.Lock()
	c.outs[w][v] = outcomeOf(err)
	c.mu.Unlock()
}

// check reads every counter at a Fresh view: it must hold the last
// acknowledged value, or one whose put's outcome is unknown (such a put
// may take effect late, after later ones); never one whose put failed,
// nor an earlier acknowledged one (a writer sends a put only after the
// one before it ended).
func (c *counters) check(p *ossdtest.Proc) {
	t := c.ch.t
	c.mu.Lock()
	defer c.mu.Unlock()
	for w, outs := range c.outs {
		var o admin.Object
		var err error
		for range 50 {
			cctx, cancel := context.WithTimeout(c.ch.ctx, 5*time.Second)
			o, err = p.Root(cctx, c.heap, fmt.Sprint("c-", w), true)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("final read of counter %d: %v", w, err)
		}
		var got int
		if err := json.Unmarshal(mustJSON(o.Value), &got); err != nil {
			t.Fatal(err)
		}
		last, n := 0, map[outcome]int{}
		for v, out := range outs {
			n[out]++
			if out == acked && v > last {
				last = v
			}
		}
		switch out, ok := outs[got]; {
		case !ok:
			t.Errorf("counter %d holds %d, never put", w, got)
		case out == failed:
			t.Errorf("counter %d holds %d, whose put failed", w, got)
		case out == acked && got != last:
			t.Errorf("counter %d holds %d, the last acknowledged is %d", w, got, last)
		}
		t.Logf("counter %d: %d puts: %d acknowledged, %d failed, %d unknown; holds %d, last acknowledged %d", w, len(outs), n[acked], n[failed], n[unknown], got, last)
	}
}

// probeLoad runs the bank's transfers and the counters' puts through
// running nodes picked at random, until stop. Half the clients wait 3 s
// for an answer, the others a minute: their requests outlast a pause, so
// a paused node answers them once it runs again.
func probeLoad(ch *churn, b *bank, c *counters, seed uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	run := func(w int, op func(p *ossdtest.Proc, rng *rand.Rand)) {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(100+w)))
			for {
				select {
				case <-done:
					return
				case <-ch.ctx.Done():
					return
				default:
				}
				if p := ch.anyLive(rng); p != nil {
					op(p, rng)
				} else {
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	for w := range 4 {
		run(w, func(p *ossdtest.Proc, rng *rand.Rand) { b.move(ch.ctx, p, rng, waitOf(w)) })
	}
	for w := range 3 {
		c.outs[w] = map[int]outcome{}
	}
	for w := range 3 {
		v := 0
		run(10+w, func(p *ossdtest.Proc, _ *rand.Rand) { v++; c.put(ch.ctx, p, w, v, waitOf(w)) })
	}
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	ch.t.Cleanup(stop)
	return stop
}

// pause stops x with SIGSTOP for d, and meanwhile waits for every
// other node's status to tell the truth: x leads no heap, and is down
// where it is a voter. It returns once x runs again (or, if meanwhile
// killed it, once the pause is over).
func (ch *churn) pause(x *ossdtest.Proc, d time.Duration, meanwhile func()) {
	ch.t.Helper()
	start := time.Now()
	if err := x.Pause(); err != nil {
		ch.t.Fatal(err)
	}
	ch.cut[x.Name] = true
	ch.statusSays("oss:catalog", func(oss.HeapStatus, string) string { return "" }) // others answer
	heaps := append([]string{"oss:catalog"}, sortedHeaps(ch.heaps)...)
	for _, heap := range heaps {
		ch.statusSays(heap, func(h oss.HeapStatus, out string) string {
			if h.Leader == x.Name {
				return fmt.Sprintf("%s, paused, leads %s", x.Name, heap)
			}
			return ""
		})
	}
	ch.t.Logf("%s paused: the others' status names another leader or none in %v", x.Name, time.Since(start).Round(100*time.Millisecond))
	for _, heap := range heaps {
		ch.statusSays(heap, func(h oss.HeapStatus, out string) string {
			if slices.Contains(h.Voters, x.Name) && !strings.Contains(out, "down: "+x.Name) {
				return fmt.Sprintf("%s, paused, a voter of %s, is not down", x.Name, heap)
			}
			return ""
		})
	}
	ch.t.Logf("%s paused: the others' status says it is down in %v", x.Name, time.Since(start).Round(100*time.Millisecond))
	if meanwhile != nil {
		mstart := time.Now()
		meanwhile()
		ch.t.Logf("%s paused: the steps meanwhile took %v", x.Name, time.Since(mstart).Round(100*time.Millisecond))
	}
	if rest := d - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	ch.t.Logf("%s paused for %v", x.Name, time.Since(start).Round(100*time.Millisecond))
	delete(ch.cut, x.Name)
	if x.Exited() { // killed meanwhile
		return
	}
	if err := x.Resume(); err != nil {
		ch.t.Fatal(err)
	}
}

// noDoubles fails the test if a running node's status lists a node twice
// in a group (as voter and learner, or under two raft IDs).
func (ch *churn) noDoubles(what string) {
	ch.t.Helper()
	for _, p := range ch.live() {
		if ch.cut[p.Name] {
			continue
		}
		sctx, cancel := context.WithTimeout(ch.ctx, 5*time.Second)
		st, err := p.Status(sctx)
		cancel()
		if err != nil {
			ch.t.Errorf("%s: status of %s: %v", what, p.Name, err)
			continue
		}
		for _, h := range st.Heaps {
			seen := map[string]bool{}
			for _, m := range append(slices.Clone(h.Voters), h.Learners...) {
				name, _, _ := strings.Cut(m, "/")
				if seen[name] {
					ch.t.Errorf("%s: %s says %s holds %s twice: voters %v learners %v", what, p.Name, h.Name, name, h.Voters, h.Learners)
				}
				seen[name] = true
			}
		}
	}
}

// waitOf is how long client w waits for an answer.
func waitOf(w int) time.Duration {
	if w%2 == 0 {
		return 3 * time.Second
	}
	return time.Minute
}

func sortedHeaps(m map[string]int) []string {
	var out []string
	for h := range m {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// voterOf returns the running process of a voter of heap that is not
// its leader (leader false) or its leader.
func (ch *churn) voterOf(heap string, leader bool) *ossdtest.Proc {
	ch.t.Helper()
	l, f := ch.twoVoters(heap)
	if leader {
		return l
	}
	return f
}

// TestOssdProbePausesAndKills runs five ossd processes (replace-after
// 15 s) with heaps of 3 and 5 voters under three workloads at once:
// list-append transactions (checked for anomalies), bank transfers
// between 8 accounts (conditional transactions; money conserved, every
// acknowledged transfer in, none that failed) and counter puts (the
// last acknowledged or an unknown one, never a failed one). In turn: a
// follower and then a leader paused with SIGSTOP for 8 s (beyond the
// election timeout, short of replace-after); a voter paused for 40 s,
// replaced meanwhile, while a heap is created and another dropped; the
// leader killed with SIGKILL mid-commit and restarted; two voters killed
// in turn; one node cut off by the network for 8 s and for 40 s; a
// leader paused while another voter is killed. After each, placement
// settles; at the end every replica holds the same state, the heaps their
// configured voters, and every workload's promises hold.
func TestOssdProbePausesAndKills(t *testing.T) {
	if os.Getenv("OSS_LONG") == "" {
		t.Log("a probe of minutes: run with OSS_LONG=1")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	names := []string{"n1", "n2", "n3", "n4", "n5"}
	c, px, procs := startProxied(ctx, t, "15s", names...)
	t.Cleanup(px.close)
	t.Cleanup(c.Close)
	ch := newChurn(ctx, t, c, map[string]int{"bank": 3, "ctr": 5, "lists": 3})
	for _, p := range procs {
		ch.set(p)
	}
	ch.startWorkload(21)
	b := newBank(ch, "bank", 8)
	cn := &counters{ch: ch, heap: "ctr", outs: map[int]map[int]outcome{}}
	stop := probeLoad(ch, b, cn, 21)
	ch.settle("five nodes")

	ch.pause(ch.voterOf("bank", false), 8*time.Second, nil)
	ch.settle("bank's follower resumed")
	ch.noDoubles("bank's follower resumed")
	ch.pause(ch.voterOf("bank", true), 8*time.Second, nil)
	ch.settle("bank's leader resumed")
	ch.noDoubles("bank's leader resumed")
	probeCatalogPause(ch)
	probeRecreate(ch)
	probeLongPause(ch)
	ch.noDoubles("long pause")
	probeKills(ch)
	probeCuts(ch, px, names)
	probeCombined(ch)
	probePauseTwo(ch)
	ch.noDoubles("the faults over")

	stop()
	// made has replicas on its voters and on the nodes that opened it
	// (a voter moved off stays a learner), not on every node: converged
	// would wait for every node in it.
	delete(ch.heaps, "made")
	ch.finish(21)
	p := ch.live()[0]
	b.check(p)
	cn.check(p)
}

// probeCatalogPause pauses the catalog's leader for 8 s while a heap is
// created: the creation must end once a new catalog leader is elected,
// and the resumed node hold the heap.
func probeCatalogPause(ch *churn) {
	ch.t.Helper()
	x := ch.proc(ch.leaderName("oss:catalog"))
	ch.pause(x, 8*time.Second, func() {
		p := ch.live()[0]
		if p == x {
			p = ch.live()[1]
		}
		waitCond(ch.t, "heap made while the catalog's leader "+x.Name+" paused", func() bool {
			cctx, cancel := context.WithTimeout(ch.ctx, 10*time.Second)
			defer cancel()
			err := p.CreateHeap(cctx, "made2", 3)
			return err == nil || errors.Is(err, oss.ErrHeapExists)
		})
	})
	ch.settle("the catalog's leader " + x.Name + " resumed")
	waitCond(ch.t, x.Name+" lists made2", func() bool {
		cctx, cancel := context.WithTimeout(ch.ctx, 10*time.Second)
		defer cancel()
		hs, err := x.Heaps(cctx)
		return err == nil && slices.ContainsFunc(hs, func(h oss.HeapStatus) bool { return h.Name == "made2" })
	})
}

// probeLongPause pauses a voter of bank for longer than replace-after,
// and meanwhile waits for it to be replaced, creates a heap and drops
// another. Once it runs again, it must hold the new heap and not the
// dropped one.
func probeLongPause(ch *churn) {
	ch.t.Helper()
	first := ch.live()[0]
	cctx, cancel := context.WithTimeout(ch.ctx, 30*time.Second)
	err := first.CreateHeap(cctx, "doomed", 3)
	cancel()
	if err != nil {
		ch.t.Fatal(err)
	}
	ch.settle("doomed created")
	x := ch.voterOf("bank", false)
	ch.pause(x, 40*time.Second, func() {
		ch.statusSays("bank", func(h oss.HeapStatus, _ string) string {
			if slices.Contains(h.Voters, x.Name) {
				return fmt.Sprintf("voters %v still hold %s, paused", h.Voters, x.Name)
			}
			return ""
		})
		p := ch.live()[0]
		if p == x {
			p = ch.live()[1]
		}
		waitCond(ch.t, "heap made while "+x.Name+" paused", func() bool {
			cctx, cancel := context.WithTimeout(ch.ctx, 10*time.Second)
			defer cancel()
			err := p.CreateHeap(cctx, "made", 3)
			return err == nil || errors.Is(err, oss.ErrHeapExists)
		})
		waitCond(ch.t, "doomed dropped while "+x.Name+" paused", func() bool {
			cctx, cancel := context.WithTimeout(ch.ctx, 10*time.Second)
			defer cancel()
			err := p.DropHeap(cctx, "doomed")
			return err == nil || strings.Contains(err.Error(), "no heap")
		})
	})
	ch.heaps["made"] = 3
	ch.settle(x.Name + " resumed after its replacement")
	waitCond(ch.t, x.Name+" holds made and not doomed", func() bool {
		cctx, cancel := context.WithTimeout(ch.ctx, 10*time.Second)
		defer cancel()
		hs, err := x.Heaps(cctx)
		if err != nil {
			return false
		}
		var got []string
		for _, h := range hs {
			got = append(got, h.Name)
		}
		return slices.Contains(got, "made") && !slices.Contains(got, "doomed")
	})
	for _, p := range ch.live() {
		waitCond(ch.t, p.Name+" keeps no replica of doomed (its /metrics)", func() bool {
			cctx, cancel := context.WithTimeout(ch.ctx, 10*time.Second)
			defer cancel()
			b, err := p.Fetch(cctx, "/metrics")
			return err == nil && !strings.Contains(string(b), `heap="doomed"`)
		})
	}
}

// probeKills kills bank's leader mid-commit and restarts it, then two
// voters in turn (the leader, then a follower while the first is down:
// bank has no quorum until one is back), then the leader while it
// stands paused.
func probeKills(ch *churn) {
	ch.t.Helper()
	l := ch.voterOf("bank", true)
	l.Kill()
	time.Sleep(time.Second)
	ch.restart(l)
	ch.settle(l.Name + ", bank's leader, killed and restarted")
	a, bv := ch.twoVoters("bank") // the leader, then a follower
	a.Kill()
	time.Sleep(3 * time.Second)
	bv.Kill()
	time.Sleep(3 * time.Second)
	ch.restart(a)
	ch.restart(bv)
	ch.settle(a.Name + " and " + bv.Name + " killed in turn and restarted")
	// A leader killed while it stands paused, restarted once another leads.
	l = ch.voterOf("bank", true)
	ch.pause(l, 5*time.Second, func() { l.Kill() })
	ch.restart(l)
	ch.settle(l.Name + ", bank's leader, killed while paused and restarted")
}

// probeCuts cuts ctr's leader off for 8 s, then bank's for 40 s.
func probeCuts(ch *churn, px *proxied, names []string) {
	ch.t.Helper()
	for _, step := range []struct {
		heap string
		d    time.Duration
	}{{"ctr", 8 * time.Second}, {"bank", 40 * time.Second}} {
		x := ch.leaderName(step.heap)
		var rest []string
		for _, n := range names {
			if n != x {
				rest = append(rest, n)
			}
		}
		px.partition([]string{x}, rest)
		ch.cut[x] = true
		time.Sleep(step.d)
		px.heal()
		delete(ch.cut, x)
		ch.settle(fmt.Sprintf("%s cut off for %v and healed", x, step.d))
	}
}

// probeCombined pauses bank's leader for 8 s while another of its voters
// is killed: bank has no quorum until one is back.
func probeCombined(ch *churn) {
	ch.t.Helper()
	l, f := ch.twoVoters("bank")
	f.Kill()
	ch.stuck["bank"] = true
	ch.pause(l, 8*time.Second, nil)
	ch.restart(f)
	delete(ch.stuck, "bank")
	ch.settle("bank's leader resumed, " + f.Name + " restarted")
}

// probePauseTwo pauses two voters of bank, its leader among them, for
// 30 s, past replace-after: bank has no quorum, the heaps of five and
// the catalog shrink to the three live nodes; once both run again,
// everything must grow back.
func probePauseTwo(ch *churn) {
	ch.t.Helper()
	l, f := ch.twoVoters("bank")
	st := ch.status(ch.live()[0])
	for _, h := range st.Heaps {
		in := 0
		for _, v := range h.Voters {
			if v == l.Name || v == f.Name {
				in++
			}
		}
		if 2*in >= len(h.Voters) {
			ch.stuck[h.Name] = true
		}
	}
	start := time.Now()
	for _, p := range []*ossdtest.Proc{l, f} {
		if err := p.Pause(); err != nil {
			ch.t.Fatal(err)
		}
		ch.cut[p.Name] = true
	}
	what := l.Name + " and " + f.Name + " paused"
	ch.settle(what)
	ch.noDoubles(what)
	if rest := 30*time.Second - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	ch.settle(what + " for 30 s")
	for _, p := range []*ossdtest.Proc{l, f} {
		if err := p.Resume(); err != nil {
			ch.t.Fatal(err)
		}
		delete(ch.cut, p.Name)
	}
	clear(ch.stuck)
	ch.settle(l.Name + " and " + f.Name + " resumed")
	ch.noDoubles(l.Name + " and " + f.Name + " resumed")
}

// probeRecreate pauses a voter of heap phoenix (its leader, then a
// follower) while phoenix is dropped, created again under the same name
// and written: once the voter runs again, a Fresh read through it must
// never return the dropped heap's value, and its plain reads never go
// back from the new heap's to the old one's.
func probeRecreate(ch *churn) {
	ch.t.Helper()
	for gen, leader := range []bool{true, false} {
		gen++ // the generation of phoenix being dropped: 1, then 2
		other := func(x *ossdtest.Proc) *ossdtest.Proc {
			for _, p := range ch.live() {
				if p != x && !ch.cut[p.Name] {
					return p
				}
			}
			return nil
		}
		if gen == 1 {
			ch.mustDo("phoenix created", func(p *ossdtest.Proc, ctx context.Context) error {
				err := p.CreateHeap(ctx, "phoenix", 3)
				if errors.Is(err, oss.ErrHeapExists) {
					return nil
				}
				return err
			}, ch.live()[0])
			ch.mustDo("phoenix written", func(p *ossdtest.Proc, ctx context.Context) error {
				_, err := p.PutRoot(ctx, "phoenix", "r", map[string]int{"gen": 1})
				return err
			}, ch.live()[0])
			ch.heaps["phoenix"] = 3
			ch.settle("phoenix placed")
			delete(ch.heaps, "phoenix")
		}
		x := ch.voterOf("phoenix", leader)
		ch.pause(x, 8*time.Second, func() {
			p := other(x)
			ch.mustDo("phoenix dropped", func(p *ossdtest.Proc, ctx context.Context) error {
				err := p.DropHeap(ctx, "phoenix")
				if err != nil && strings.Contains(err.Error(), "no heap") {
					return nil
				}
				return err
			}, p)
			ch.mustDo("phoenix created again", func(p *ossdtest.Proc, ctx context.Context) error {
				err := p.CreateHeap(ctx, "phoenix", 3)
				if errors.Is(err, oss.ErrHeapExists) {
					return nil
				}
				return err
			}, p)
			ch.mustDo("phoenix written again", func(p *ossdtest.Proc, ctx context.Context) error {
				_, err := p.PutRootInExisting(ctx, "phoenix", "r", map[string]int{"gen": gen + 1})
				return err
			}, p)
		})
		ch.readsAfterResume(x, gen)
		ch.heaps["phoenix"] = 3
		ch.settle(fmt.Sprintf("%s resumed after phoenix %d was dropped", x.Name, gen))
		delete(ch.heaps, "phoenix")
	}
}

// mustDo retries op through p until it succeeds.
func (ch *churn) mustDo(what string, op func(p *ossdtest.Proc, ctx context.Context) error, p *ossdtest.Proc) {
	ch.t.Helper()
	var last error
	defer func() {
		if ch.t.Failed() && last != nil {
			ch.t.Logf("%s: %v", what, last)
		}
	}()
	waitCond(ch.t, what, func() bool {
		cctx, cancel := context.WithTimeout(ch.ctx, 10*time.Second)
		defer cancel()
		last = op(p, cctx)
		return last == nil
	})
}

// readsAfterResume reads phoenix's root through x for 15 s after x
// resumed, Fresh and plain in turn: no Fresh read may return generation
// old, and once a read returned a later one, no plain read the old.
func (ch *churn) readsAfterResume(x *ossdtest.Proc, old int) {
	ch.t.Helper()
	seenNew := false
	counts := map[string]int{}
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); {
		for _, fresh := range []bool{true, false} {
			cctx, cancel := context.WithTimeout(ch.ctx, 2*time.Second)
			o, err := x.Root(cctx, "phoenix", "r", fresh)
			cancel()
			if err != nil {
				counts["error"]++
				continue
			}
			var v struct{ Gen int }
			json.Unmarshal(mustJSON(o.Value), &v)
			counts[fmt.Sprintf("fresh=%v gen=%d", fresh, v.Gen)]++
			switch {
			case v.Gen == old && fresh:
				ch.t.Errorf("%s, resumed, answered a Fresh read of phoenix with the dropped heap's value (generation %d, index %d)", x.Name, old, o.Index)
			case v.Gen == old && seenNew:
				ch.t.Errorf("%s, resumed, answered a plain read with the dropped heap's value after one of the new heap's", x.Name)
			case v.Gen > old:
				seenNew = true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ch.t.Logf("%s's reads of phoenix after it resumed: %v", x.Name, counts)
}
