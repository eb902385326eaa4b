package ossdtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/internal/testkit/check"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

var harnessSeed = flag.Uint64("harness.seed", 0, "run the process harness's nemesis schedule with this seed")

// harnessRun returns a process harness's seed (-harness.seed, or def),
// how long its nemesis runs (short, or 2 minutes with OSS_LONG) and a
// context that bounds the whole test.
func harnessRun(def uint64, short time.Duration) (uint64, time.Duration, context.Context, context.CancelFunc) {
	seed := def
	if *harnessSeed != 0 {
		seed = *harnessSeed
	}
	run := short
	if os.Getenv("OSS_LONG") != "" {
		run = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), run+5*time.Minute) // the faults may go on 2 minutes past run (faultsGoOn)
	return seed, run, ctx, cancel
}

// minCommitted is how many committed transactions a harness's history
// must hold: with fewer, the run tested little.
const minCommitted = 20

// faultsGoOn reports whether a harness's nemesis goes on: for its run,
// then until the history holds minCommitted committed transactions, for
// at most two minutes more. On a loaded machine the clients commit little
// in a few seconds of faults (13 and 19 in TestOssdHarness's 4 s at load
// 50 to 80, where each restart of a killed process takes seconds).
func faultsGoOn(t *testing.T, run time.Duration, rec *check.Recorder) func() bool {
	start := time.Now()
	extended := false
	return func() bool {
		since := time.Since(start)
		if since < run {
			return true
		}
		n := committed(rec)
		if n < minCommitted && since < run+2*time.Minute {
			extended = true
			return true
		}
		if extended {
			t.Logf("the faults went on for %v, to %d committed transactions", since.Round(time.Millisecond), n)
		}
		return false
	}
}

// committed counts the transactions of rec's history that committed.
func committed(rec *check.Recorder) int {
	n := 0
	for _, tx := range rec.Txns() {
		if tx.Status == check.OK {
			n++
		}
	}
	return n
}

// putRoot is p.PutRoot, tried again while the answer is 503: the node
// could not yet open its replica of a heap just created (ErrCreatedNotOpen,
// seen at load 50 to 80), or no leader was in reach; both say nothing was
// written.
func putRoot(ctx context.Context, t *testing.T, p *ossdtest.Proc, heap, root string, value any) admin.Committed {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		out, err := p.PutRoot(ctx, heap, root, value)
		var se *admin.StatusError
		if err == nil {
			return out
		}
		if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || ctx.Err() != nil {
			t.Fatalf("put root %s of %s: %v", root, heap, err)
		}
		t.Logf("put root %s of %s: %v; trying again", root, heap, err)
		time.Sleep(200 * time.Millisecond)
	}
}

// TestOssdHarness runs list-append transactions through the admin
// interface of three ossd processes in Sync mode while a nemesis kills
// them with SIGKILL and restarts them, or pauses them with SIGSTOP and
// resumes them; the history must show no anomaly and lose no
// acknowledged append.
func TestOssdHarness(t *testing.T) {
	seed, run, ctx, cancel := harnessRun(7, 4*time.Second)
	defer cancel()
	dir := t.TempDir()
	bin := ossdBin
	c, err := ossdtest.New(ctx, dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Flags = []string{"--gossip", "loopback", "--durability", "sync", "--replace-after", "1m"}
	procs := make([]*ossdtest.Proc, 3)
	for i, name := range []string{"n1", "n2", "n3"} {
		if procs[i], err = c.Start(ctx, name, procs[:i]...); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		if t.Failed() {
			for _, p := range procs {
				t.Logf("%s:\n%s", p.Name, p.Tail(20))
			}
			t.Logf("replay the schedule with: go test ./oss/ossdtest -run TestOssdHarness -harness.seed %d", seed)
		}
	}()
	const keys = 4
	ids := make([]uuid.UUID, keys)
	for k := range ids {
		ids[k] = putRoot(ctx, t, procs[0], "h", fmt.Sprint("list-", k), []int{}).ID
	}

	var mu sync.Mutex // guards procs against the nemesis
	proc := func(i int) *ossdtest.Proc {
		mu.Lock()
		defer mu.Unlock()
		return procs[i%len(procs)]
	}
	rec := check.NewRecorder()
	var next [keys]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(p)+1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				listTxn(ctx, proc(p), p, rng, ids, &next, rec)
			}
		})
	}

	rng := rand.New(rand.NewPCG(seed, 0x6e656d))
	faults := map[string]int{}
	for goOn := faultsGoOn(t, run, rec); goOn(); {
		time.Sleep(time.Duration(200+rng.IntN(400)) * time.Millisecond)
		i := rng.IntN(len(procs))
		p := proc(i)
		if rng.IntN(2) == 0 {
			p.Kill()
			faults["SIGKILL"]++
			time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
			np, err := c.Restart(ctx, p, proc(i+1))
			if err != nil {
				t.Fatalf("restart %s: %v", p.Name, err)
			}
			mu.Lock()
			procs[i] = np
			mu.Unlock()
		} else {
			p.Pause()
			faults["SIGSTOP"]++
			time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
			p.Resume()
		}
	}
	close(stop)
	wg.Wait()

	checkLists(ctx, t, seed, rec, ids, proc, faults)
}

// checkLists reads every list at a Fresh view once the faults are over
// and checks the history: no anomaly, no acknowledged append lost.
func checkLists(ctx context.Context, t *testing.T, seed uint64, rec *check.Recorder, ids []uuid.UUID, proc func(int) *ossdtest.Proc, faults map[string]int) {
	checkListsOn(ctx, t, "h", seed, rec, ids, proc, faults)
}

// checkListsOn is checkLists on the lists of any heap.
func checkListsOn(ctx context.Context, t *testing.T, heap string, seed uint64, rec *check.Recorder, ids []uuid.UUID, proc func(int) *ossdtest.Proc, faults map[string]int) {
	// Every list, read at a Fresh view once the faults are over.
	start := rec.Now()
	final := check.Txn{Process: -1, Status: check.OK, Realtime: true}
	for k, id := range ids {
		var o admin.Object
		var err error
		for range 50 {
			if o, err = proc(k).Object(ctx, heap, id, true); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("final read of list %d: %v", k, err)
		}
		final.Mops = append(final.Mops, check.Mop{Kind: check.Read, Key: k, List: listOf(t, o)})
	}
	final.Start, final.End = start, rec.Now()
	rec.Txn(final)
	txns := rec.Txns()
	res := check.CheckListAppend(txns)
	in := map[[2]int]bool{}
	for _, m := range final.Mops {
		for _, v := range m.List {
			in[[2]int{m.Key, v}] = true
		}
	}
	lost := 0
	for _, tx := range txns {
		for _, m := range tx.Mops {
			if tx.Status == check.OK && m.Kind == check.Append && !in[[2]int{m.Key, m.Value}] {
				lost++
			}
		}
	}
	t.Logf("%s: seed %d: %d transactions checked (%d committed), faults %v, anomalies %d, acknowledged appends lost %d", heap, seed, res.Txns, res.OK, faults, len(res.Anomalies), lost)
	for i, a := range res.Anomalies {
		if i == 5 {
			break
		}
		t.Errorf("%s", a)
	}
	if lost > 0 {
		t.Errorf("%d acknowledged appends lost", lost)
	}
	if res.OK < minCommitted {
		t.Errorf("only %d transactions committed: the run tested little", res.OK)
	}
}

// listTxn appends to one or two lists of heap h, reading them first, in
// one conditional transaction, or reads one list at a Fresh view.
func listTxn(ctx context.Context, p *ossdtest.Proc, proc int, rng *rand.Rand, ids []uuid.UUID, next *[4]atomic.Int64, rec *check.Recorder) {
	listTxnOn(ctx, "h", p, proc, rng, ids, next, rec)
}

// listTxnOn is listTxn on the lists of any heap.
func listTxnOn(ctx context.Context, heap string, p *ossdtest.Proc, proc int, rng *rand.Rand, ids []uuid.UUID, next *[4]atomic.Int64, rec *check.Recorder) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := rec.Now()
	if rng.IntN(4) == 0 {
		k := rng.IntN(len(ids))
		o, err := p.Object(ctx, heap, ids[k], true)
		if err != nil {
			return
		}
		var l []int
		if json.Unmarshal(mustJSON(o.Value), &l) != nil {
			return
		}
		rec.Txn(check.Txn{Process: proc, Status: check.OK, Realtime: true, Start: start, End: rec.Now(),
			Mops: []check.Mop{{Kind: check.Read, Key: k, List: l}}})
		return
	}
	keys := []int{rng.IntN(len(ids))}
	if k := rng.IntN(len(ids)); k != keys[0] && rng.IntN(2) == 0 {
		keys = append(keys, k)
	}
	txn := &admin.Txn{}
	var mops []check.Mop
	for _, k := range keys {
		o, err := p.Object(ctx, heap, ids[k], false)
		if err != nil {
			return
		}
		var l []int
		if json.Unmarshal(mustJSON(o.Value), &l) != nil {
			return
		}
		v := int(next[k].Add(1))
		mops = append(mops, check.Mop{Kind: check.Read, Key: k, List: slices.Clone(l)}, check.Mop{Kind: check.Append, Key: k, Value: v})
		b, _ := json.Marshal(append(l, v))
		txn.Reads = append(txn.Reads, admin.Read{ID: o.ID, Version: o.Version})
		txn.Writes = append(txn.Writes, admin.Write{ID: o.ID, Value: b})
	}
	_, err := p.Commit(ctx, heap, txn)
	st := check.OK
	var se *admin.StatusError
	switch {
	case err == nil:
	case errors.As(err, &se) && (se.Code == http.StatusConflict || se.Code == http.StatusBadRequest ||
		se.Code == http.StatusNotFound || se.Code == http.StatusServiceUnavailable):
		st = check.Fail // decided: not committed (503: no quorum, never in the log)
	default:
		st = check.Info // 504 (outcome unknown), a dead or paused process, a timeout
	}
	if st != check.OK {
		var appends []check.Mop
		for _, m := range mops {
			if m.Kind == check.Append {
				appends = append(appends, m)
			}
		}
		mops = appends
	}
	rec.Txn(check.Txn{Process: proc, Mops: mops, Status: st, Realtime: true, Start: start, End: rec.Now()})
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func listOf(t *testing.T, o admin.Object) []int {
	var l []int
	if err := json.Unmarshal(mustJSON(o.Value), &l); err != nil {
		t.Fatalf("list %v: %v", o.ID, err)
	}
	return l
}
