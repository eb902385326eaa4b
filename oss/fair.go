package oss

import (
	"context"
	"errors"
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
//   - A transaction that loses a conflict takes the key's gate on its node
//     before it runs again, and holds it until its Update returns. The
//     loser runs again at once (no backoff: the local state it runs on
//     already has the winning commit, which its outcome waited for, and no
//     other transaction of this node can take the key from it).
//   - A transaction that read a gated key, and whose function returned nil,
//     waits for the gate before it proposes; once it holds it, if what it
//     read changed meanwhile, its function runs again on the latest state,
//     otherwise it proposes what it has.
//   - The gate goes to its waiters in order of attempts (the transaction
//     that lost most goes first), then of arrival.
//
// So on one node no transaction loses a conflict on a gated key to another
// transaction of the same node: with one node, a transaction that
// contends for one key loses at most once (before the gate existed) plus
// once for every transaction that had read the key without seeing the
// gate. Across nodes, at most one transaction per node and key is in
// flight, so a loser contends with the other nodes' holders only. A gate
// exists only while it is held or awaited; uncontended transactions look
// at one atomic counter.
//
// A transaction holds at most one gate: the one of the key it last lost
// on, or of the first gated key it read. It gives it up before it waits
// for a change (ErrRetry) or for a check of its function's error, and
// before its OnCommit functions run, so a gate waits on commits, and on
// the holder's function for at most fnPatience: the function may itself
// call Update on the key (an Update nested in fn or in an OnCommit
// function is a transaction of its own), which would otherwise wait
// forever for its own caller. A waiter that gives up on a function
// running that long goes on without the gate.

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

// fnPatience bounds how long a gate's waiter waits while the holder runs
// its function: long enough that a function descheduled on a loaded
// machine keeps its turn, short enough that an Update nested in the
// function, waiting for the gate of its own caller, is only slowed.
const fnPatience = 250 * time.Millisecond

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
	// running says the holder runs its function, since when; changed is
	// closed when running changes.
	running bool
	since   time.Time
	changed chan struct{}
}

// setRunning records whether the holder runs its function. Called with
// gs.mu held.
func (g *gate) setRunning(on bool) {
	if g.running == on {
		return
	}
	g.running, g.since = on, time.Now()
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// stuck reports whether the holder has run its function for fnPatience or
// longer, and otherwise how long until it will have, if it runs it, and a
// channel closed when that changes. Called with gs.mu held.
func (g *gate) stuck() (bool, time.Duration, <-chan struct{}) {
	var left time.Duration = -1
	if g.running {
		left = fnPatience - time.Since(g.since)
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

// gated returns the first key tx read that has a gate, if any.
func (gs *gates) gated(tx *Tx) (hotKey, bool) {
	if gs.n.Load() == 0 || tx.txState == nil {
		return hotKey{}, false
	}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	for _, r := range tx.reads {
		if _, ok := gs.m[hotKey{id: r.ID}]; ok {
			return hotKey{id: r.ID}, true
		}
	}
	for name := range tx.rootReads {
		if _, ok := gs.m[hotKey{root: name}]; ok {
			return hotKey{root: name}, true
		}
	}
	if tx.scanned {
		if _, ok := gs.m[hotKey{scan: true}]; ok {
			return hotKey{scan: true}, true
		}
	}
	return hotKey{}, false
}

// acquire takes k's gate for a transaction that made attempts runs that
// lost, waiting its turn, until ctx ends or stop closes. It reports false,
// with a nil error, if it gave up waiting on a holder that has run its
// function for fnPatience: the caller goes on without the gate.
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
// for fnPatience.
var errHolderStuck = errors.New("oss: gate holder runs its function")

// await waits until w is granted g (nil), ctx ends, stop closes, or g's
// holder has run its function for fnPatience (errHolderStuck).
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
	g.setRunning(false)
	w := g.waiters[0]
	g.waiters[0] = nil
	g.waiters = g.waiters[1:]
	close(w.granted)
}

// gateHold is the gate an Update holds, if any.
type gateHold struct {
	gs   *gates
	key  hotKey
	held bool
}

// take holds k's gate, giving up the one held if it is another's; it
// holds none after a nil error if it gave up on a holder's function
// (acquire).
func (gh *gateHold) take(ctx context.Context, stop <-chan struct{}, k hotKey, attempts int) error {
	if gh.held && gh.key == k {
		return nil
	}
	gh.drop()
	held, err := gh.gs.acquire(ctx, stop, k, attempts)
	if err != nil {
		return err
	}
	gh.key, gh.held = k, held
	return nil
}

// call runs fn in tx, marking the gate held, if any, as waiting on fn
// while it runs; tx gives the gate up before its OnCommit functions run.
func (gh *gateHold) call(tx *Tx, fn func(*Tx) error) error {
	tx.gate = gh
	gh.setRunning(true)
	defer gh.setRunning(false)
	return tx.call(fn)
}

func (gh *gateHold) setRunning(on bool) {
	if !gh.held {
		return
	}
	gh.gs.mu.Lock()
	if g := gh.gs.m[gh.key]; g != nil {
		g.setRunning(on)
	}
	gh.gs.mu.Unlock()
}

func (gh *gateHold) drop() {
	if gh.held {
		gh.held = false
		gh.gs.release(gh.key)
	}
}

func conflictKey(e *ConflictError) hotKey {
	return hotKey{id: e.ID, root: e.Root, scan: e.Scan}
}
