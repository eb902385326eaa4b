package oss

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/objectsharing/oss/consistency"
)

// Fair retries. Optimistic transactions that fight over a few hot objects
// waste their runs on each other: on one node, the 64 clients of a heap
// that read an object in the same snapshot all propose, one wins and the
// others lose and back off at random, so an unlucky one can lose a hundred
// times in a row. Update therefore serializes, on each node, the
// transactions that contend for a key that conflicted lately, and lets the
// oldest go first:
//
//   - A transaction that loses a conflict takes, on its node, the gates of
//     every key it read (the key it lost on among them), and holds them
//     until its Update returns. The loser runs again at once (no backoff:
//     the local state it runs on already has the winning commit, which its
//     outcome waited for, and no other transaction of this node can take
//     any of its keys from it).
//   - A transaction whose function returned nil, and that read gated keys
//     whose gates it does not hold, waits for those gates before it
//     proposes; once it holds them, if what it read changed meanwhile, its
//     function runs again on the latest state, otherwise it proposes what
//     it has.
//   - A gate goes to its waiters in order of attempts (the transaction
//     that lost most goes first), then of arrival.
//
// So on one node no transaction loses a conflict on a gated key to another
// transaction of the same node: with one node, a transaction whose
// function reads the same keys on every run loses at most once (before
// its gates existed) plus once for every transaction that had read one of
// its keys without seeing the gate. A transaction that reads many hot
// keys (one that sums them, say) holds all their gates while it runs
// again: it once held the gate of the key it lost on only, and lost its
// next run on another of its keys, run after run. Across nodes, at most
// one transaction per node and key is in flight, so a loser contends with
// the other nodes' holders only. A gate exists only while it is held or
// awaited; uncontended transactions look at one atomic counter.
//
// A transaction takes its gates in one order (gate order: objects by ID,
// then roots, then the scan), holding, while it waits for one, only gates
// before it in that order, so no two transactions wait for each other. It
// holds at most maxGates at once: a loser whose keys (those it read, the
// scan among them, and the one it lost on) are more holds, after the
// loss, only the gate of the key it lost on, and before it proposes
// takes those of up to maxGates-1 more of its gated keys. It gives them
// up before it waits for a change (ErrRetry), for a check of its
// function's error, or for the catalog after a refusal, and before its
// OnCommit functions run, so a gate waits on commits, on gates later in
// gate order, and on the holder's function for at most the holder's
// patience: the function may itself call Update on the key (an Update
// nested in fn or in an OnCommit function is a transaction of its own),
// which would otherwise wait forever for its own caller. The patience is
// patienceRuns times the holder's shortest run of its function so far,
// at least patienceFloor and at most fnPatience: a function that ran in
// microseconds before and now has run for patienceFloor most likely
// waits for its own nested Update. A waiter that gives up on a function
// running that long goes on without the gate (a bypass: the holder may
// lose to it, and keeps its gates and its attempts). So a nested Update
// on a key its caller read waits about patienceFloor on every run of a
// caller that lost, and so do the node's other clients of the caller's
// keys; then they all go on without those gates, as if the keys had
// none (docs/design.md, "Nested Updates wait a floor").

// Across nodes, the gates take turns in log order. Every replica decides
// every record, so every node sees, in the same order, which node's
// transaction lost on which key (a transaction ID names its node) and
// which node's commit wrote it. A node's loss on a key is a debt the
// others owe it until that node commits on the key: the gate holder of a
// node waits, before it runs, while another node has a debt on the key
// older (by log index) than its own node's, or any debt if its own node
// has none. The oldest loser of the group never waits, so it runs next
// against every node that has seen its loss. A debt is honoured for at
// most fairYield after this replica saw it: a loser that gave up, or a
// node gone, holds up the others no longer.

// fairYield bounds how long a node yields a key to another node's
// older loss.
const fairYield = 20 * time.Millisecond

// maxGates bounds the gates one Update holds at once. A loser whose read
// keys (objects, roots, the scan, and the key it lost on) number more
// than that holds, after the loss, only the gate of the key it lost on;
// before it proposes its next run it takes, as every transaction does,
// the gates of up to maxGates-1 more of the gated keys it read.
const maxGates = 64

// A gate's waiter waits while the holder runs its function for at most
// the holder's patience: patienceRuns times the holder's shortest run of
// its function so far that returned nil (every holder has one: it lost,
// or its run went stale), at least patienceFloor and at most fnPatience.
// The floor is long enough that a short function descheduled on a loaded
// machine usually keeps its turn (a Go scheduler slice is 10 ms, and at a
// load of four runnable threads a core a thread waits a few of the
// kernel's slices; under the race detector at such a load it often does
// not, docs/design.md "Nested Updates wait a floor"), and short enough that an Update nested in the function,
// waiting for the gate of its own caller, costs that floor a run, not
// fnPatience. The factor lets a function that takes long on every run
// (one that calls out, or sleeps) keep its turn while it takes about as
// long as before; a run that takes patienceRuns times its shortest is
// waiting on something, most likely its own nested Update. The cap
// bounds the wait whatever the function did before.
const (
	patienceFloor = 25 * time.Millisecond
	patienceRuns  = 4
	fnPatience    = 250 * time.Millisecond
)

// debt is a node's oldest loss on a key not yet followed by a commit of
// that node on the key.
type debt struct {
	index uint64    // the log index that decided the loss
	at    time.Time // when this replica saw it
}

// gateWaiter is a transaction waiting for a gate.
type gateWaiter struct {
	attempts int
	seq      uint64
	granted  chan struct{} // closed when the gate is handed to it
}

// gate serializes one node's transactions on one hot key.
type gate struct {
	waiters []*gateWaiter // in the order they get the gate
	// running says the holder runs its function, since when, and how
	// long its waiters wait for it to return (its patience); changed is
	// closed when running changes.
	running  bool
	since    time.Time
	patience time.Duration
	changed  chan struct{}
}

// setRunning records, at now, whether the holder runs its function, and
// if it does, its patience. Called with gs.mu held.
func (g *gate) setRunning(on bool, now time.Time, patience time.Duration) {
	if g.running == on {
		return
	}
	g.running, g.since, g.patience = on, now, patience
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// stuck reports whether the holder has run its function for its patience
// or longer, and otherwise how long until it will have, if it runs it,
// and a channel closed when that changes. Called with gs.mu held.
func (g *gate) stuck() (bool, time.Duration, <-chan struct{}) {
	var left time.Duration = -1
	if g.running {
		left = g.patience - time.Since(g.since)
		if left <= 0 {
			return true, 0, nil
		}
	}
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return false, left, g.changed
}

// gates are a heap's gates, by key.
type gates struct {
	n   atomic.Int32 // len(m), read without the lock
	mu  sync.Mutex
	seq uint64
	m   map[hotKey]*gate // a key's gate is in m while held

	self    uint32 // this node's tag (txNodeTag)
	nDebts  atomic.Int32
	debts   map[hotKey]map[uint32]debt // by key and node tag
	changed chan struct{}              // closed when debts change
}

// observe notes, on the loop, the losses and the commits of a Ready, in
// log order.
func (gs *gates) observe(results []consistency.Result, changes []consistency.ChangeSet) {
	var now time.Time
	for i := range results {
		res := &results[i]
		if res.Outcome != consistency.Conflicted || res.Duplicate {
			continue
		}
		if now.IsZero() {
			now = time.Now()
			gs.mu.Lock()
			defer gs.mu.Unlock()
		}
		k := hotKey{id: res.ConflictID, root: res.ConflictRoot, scan: res.ConflictScan}
		if gs.debts == nil {
			gs.debts = make(map[hotKey]map[uint32]debt)
		}
		d := gs.debts[k]
		if d == nil {
			d = make(map[uint32]debt)
			gs.debts[k] = d
		}
		tag := txNodeTag(res.TxID)
		if old, ok := d[tag]; ok && now.Sub(old.at) < fairYield {
			continue // its oldest loss stands
		}
		d[tag] = debt{index: res.Index, at: now}
		gs.nDebts.Add(1)
	}
	if gs.nDebts.Load() == 0 || len(changes) == 0 {
		gs.signal(now)
		return
	}
	if now.IsZero() {
		gs.mu.Lock()
		defer gs.mu.Unlock()
	}
	for i := range changes {
		cs := &changes[i]
		tag := txNodeTag(cs.TxID)
		for _, c := range cs.Objects {
			gs.repaid(hotKey{id: c.ID}, tag)
		}
		for _, r := range cs.Roots {
			gs.repaid(hotKey{root: r.Name}, tag)
		}
	}
	gs.signal(time.Now())
}

// repaid drops tag's debt on k. Called with gs.mu held.
func (gs *gates) repaid(k hotKey, tag uint32) {
	d := gs.debts[k]
	if _, ok := d[tag]; !ok {
		return
	}
	delete(d, tag)
	if len(d) == 0 {
		delete(gs.debts, k)
	}
	gs.nDebts.Add(-1)
}

// signal wakes the gate holders that yield, if now is set (the debts may
// have changed). Called with gs.mu held if now is set.
func (gs *gates) signal(now time.Time) {
	if now.IsZero() || gs.changed == nil {
		return
	}
	close(gs.changed)
	gs.changed = nil
}

// yield waits while another node has an older debt on k than this node,
// for at most fairYield from when it was seen.
func (gs *gates) yield(ctx context.Context, stop <-chan struct{}, k hotKey) error {
	for gs.nDebts.Load() > 0 {
		gs.mu.Lock()
		d := gs.debts[k]
		mine, ok := d[gs.self]
		now := time.Now()
		var until time.Time
		for tag, x := range d {
			if tag == gs.self || (ok && x.index >= mine.index) {
				continue
			}
			if end := x.at.Add(fairYield); end.After(now) && end.After(until) {
				until = end
			}
		}
		if until.IsZero() {
			gs.mu.Unlock()
			return nil
		}
		if gs.changed == nil {
			gs.changed = make(chan struct{})
		}
		changed := gs.changed
		gs.mu.Unlock()
		t := time.NewTimer(until.Sub(now))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-stop:
			t.Stop()
			return ErrClosed
		}
		t.Stop()
	}
	return nil
}

// gatedKeys returns, in gate order, the keys tx read that have a gate
// and are not in held, at most maxGates of them.
func (gs *gates) gatedKeys(tx *Tx, held []hotKey) []hotKey {
	if gs.n.Load() == 0 || tx.txState == nil {
		return nil
	}
	var ks []hotKey
	gs.mu.Lock()
	for _, r := range tx.reads {
		ks = gs.addGated(ks, held, hotKey{id: r.ID})
	}
	for name := range tx.rootReads {
		ks = gs.addGated(ks, held, hotKey{root: name})
	}
	if tx.scanned {
		ks = gs.addGated(ks, held, hotKey{scan: true})
	}
	gs.mu.Unlock()
	slices.SortFunc(ks, compareHotKeys)
	return ks
}

// addGated appends k to ks if it has a gate, is not in held, and ks has
// room. Called with gs.mu held.
func (gs *gates) addGated(ks, held []hotKey, k hotKey) []hotKey {
	if len(ks) >= maxGates {
		return ks
	}
	if _, ok := gs.m[k]; !ok || slices.Contains(held, k) {
		return ks
	}
	return append(ks, k)
}

// readKeys returns, in gate order, the keys tx read (objects, roots, the
// scan) and also, the key it lost on; only also if those are more than
// maxGates keys.
func readKeys(tx *Tx, also hotKey) []hotKey {
	if tx.txState == nil || len(tx.reads)+len(tx.rootReads) > maxGates {
		return []hotKey{also}
	}
	ks := make([]hotKey, 0, 2+len(tx.reads)+len(tx.rootReads))
	ks = append(ks, also)
	for _, r := range tx.reads {
		ks = append(ks, hotKey{id: r.ID})
	}
	for name := range tx.rootReads {
		ks = append(ks, hotKey{root: name})
	}
	if tx.scanned {
		ks = append(ks, hotKey{scan: true})
	}
	slices.SortFunc(ks, compareHotKeys)
	ks = slices.Compact(ks)
	if len(ks) > maxGates {
		return []hotKey{also}
	}
	return ks
}

// compareHotKeys is the order in which a transaction takes gates:
// objects by ID, then roots by name, then the scan.
func compareHotKeys(a, b hotKey) int {
	switch {
	case a.scan != b.scan:
		if a.scan {
			return 1
		}
		return -1
	case a.root != b.root:
		return strings.Compare(a.root, b.root)
	}
	return bytes.Compare(a.id[:], b.id[:])
}

// acquire takes k's gate for a transaction that made attempts runs that
// lost, waiting its turn, until ctx ends or stop closes. It reports false,
// with a nil error, if it gave up waiting on a holder that has run its
// function for its patience: the caller goes on without the gate.
func (gs *gates) acquire(ctx context.Context, stop <-chan struct{}, k hotKey, attempts int) (bool, error) {
	gs.mu.Lock()
	g, ok := gs.m[k]
	if !ok {
		if gs.m == nil {
			gs.m = make(map[hotKey]*gate)
		}
		gs.m[k] = &gate{}
		gs.n.Add(1)
		gs.mu.Unlock()
		return true, nil
	}
	gs.seq++
	w := &gateWaiter{attempts: attempts, seq: gs.seq, granted: make(chan struct{})}
	i := len(g.waiters)
	for i > 0 && g.waiters[i-1].attempts < attempts {
		i--
	}
	g.waiters = append(g.waiters, nil)
	copy(g.waiters[i+1:], g.waiters[i:])
	g.waiters[i] = w
	gs.mu.Unlock()
	err := gs.await(ctx, stop, g, w)
	if err == nil {
		return true, nil
	}
	gs.mu.Lock()
	select {
	case <-w.granted:
		// Handed over as it gave up: keep it if it gave up on the
		// holder's function, else pass it on.
		gs.mu.Unlock()
		if err == errHolderStuck {
			return true, nil
		}
		gs.release(k)
		return false, err
	default:
	}
	for j, x := range g.waiters {
		if x == w {
			g.waiters = append(g.waiters[:j], g.waiters[j+1:]...)
			break
		}
	}
	gs.mu.Unlock()
	if err == errHolderStuck {
		return false, nil
	}
	return false, err
}

// errHolderStuck is await's answer when g's holder has run its function
// for its patience.
var errHolderStuck = errors.New("oss: gate holder runs its function")

// await waits until w is granted g (nil), ctx ends, stop closes, or g's
// holder has run its function for its patience (errHolderStuck).
func (gs *gates) await(ctx context.Context, stop <-chan struct{}, g *gate, w *gateWaiter) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		gs.mu.Lock()
		stuck, left, changed := g.stuck()
		gs.mu.Unlock()
		if stuck {
			return errHolderStuck
		}
		var expire <-chan time.Time
		if left >= 0 {
			t.Reset(left)
			expire = t.C
		}
		select {
		case <-w.granted:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return ErrClosed
		case <-changed:
		case <-expire:
		}
	}
}

// release gives k's gate to its next waiter, or drops it.
func (gs *gates) release(k hotKey) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	g := gs.m[k]
	if len(g.waiters) == 0 {
		delete(gs.m, k)
		gs.n.Add(-1)
		return
	}
	g.setRunning(false, time.Now(), 0)
	w := g.waiters[0]
	g.waiters[0] = nil
	g.waiters = g.waiters[1:]
	close(w.granted)
}

// gateHold is the gates an Update holds, in gate order, and how long
// its function ran.
type gateHold struct {
	gs   *gates
	keys []hotKey
	runs int           // runs of the function so far
	best time.Duration // the shortest of them
}

// holds reports whether the Update holds a gate.
func (gh *gateHold) holds() bool { return len(gh.keys) > 0 }

// take makes the Update hold the gates of want (in gate order, without
// duplicates) and no others. It waits for them in gate order, holding
// only gates before the one it waits for: it keeps the wanted gates it
// holds before the first one it lacks, and gives up the rest before it
// waits, so no two Updates wait for each other. A gate whose holder ran
// its function for its patience is not waited for (acquire): after a nil
// error the Update holds the others.
func (gh *gateHold) take(ctx context.Context, stop <-chan struct{}, want []hotKey, attempts int) error {
	m := len(want)
	for i, k := range want {
		if !slices.Contains(gh.keys, k) {
			m = i
			break
		}
	}
	kept := make([]hotKey, 0, len(want))
	for _, k := range gh.keys {
		if slices.Contains(want[:m], k) {
			kept = append(kept, k)
		} else {
			gh.gs.release(k)
		}
	}
	gh.keys = kept
	for _, k := range want[m:] {
		held, err := gh.gs.acquire(ctx, stop, k, attempts)
		if err != nil {
			return err
		}
		if held {
			gh.keys = append(gh.keys, k)
		}
	}
	return nil
}

// yield waits, for each gate held, while another node has an older debt
// on its key (gates.yield).
func (gh *gateHold) yield(ctx context.Context, stop <-chan struct{}) error {
	for _, k := range gh.keys {
		if err := gh.gs.yield(ctx, stop, k); err != nil {
			return err
		}
	}
	return nil
}

// call runs fn in tx, marking the gates held as waiting on fn while it
// runs, and notes how long it ran if it returned nil; tx gives the gates
// up before its OnCommit functions run. A run that ends in an error (one
// that asks to wait for a change with ErrRetry, say, in microseconds) is
// not one the function makes before it commits: counted, it would bring
// the patience of a function that takes long whenever it commits down to
// the floor.
func (gh *gateHold) call(tx *Tx, fn func(*Tx) error) error {
	tx.gate = gh
	start := time.Now()
	gh.setRunning(true, start)
	committing := false
	defer func() {
		end := time.Now()
		if committing {
			gh.ran(end.Sub(start))
		}
		gh.setRunning(false, end)
	}()
	err := tx.call(fn)
	committing = err == nil
	return err
}

// ran notes a run of the function that returned nil after d.
func (gh *gateHold) ran(d time.Duration) {
	if gh.runs == 0 || d < gh.best {
		gh.best = d
	}
	gh.runs++
}

// patience is how long the gates' waiters wait for the function to
// return (see patienceFloor).
func (gh *gateHold) patience() time.Duration {
	if gh.runs == 0 {
		return fnPatience
	}
	return min(fnPatience, max(patienceFloor, patienceRuns*gh.best))
}

func (gh *gateHold) setRunning(on bool, now time.Time) {
	if len(gh.keys) == 0 {
		return
	}
	p := gh.patience()
	gh.gs.mu.Lock()
	for _, k := range gh.keys {
		if g := gh.gs.m[k]; g != nil {
			g.setRunning(on, now, p)
		}
	}
	gh.gs.mu.Unlock()
}

func (gh *gateHold) drop() {
	for _, k := range gh.keys {
		gh.gs.release(k)
	}
	gh.keys = gh.keys[:0]
}

func conflictKey(e *ConflictError) hotKey {
	return hotKey{id: e.ID, root: e.Root, scan: e.Scan}
}
