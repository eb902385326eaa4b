package oss

import (
	"context"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
)

// An Update whose function returned ErrRetry waits, as a waiter, until
// something its transaction read changes. The loop wakes waiters after it
// publishes a state: those that read an object or a root a change set of
// that state wrote, those that scanned if the set of objects changed, and
// all of them when a snapshot from the leader replaced the state whole.
// A woken waiter is a hint, not a verdict: it compares the versions its
// transaction read with the latest state and runs the function again only
// if one differs; otherwise (a snapshot that changed nothing it read, a
// deletion of an object that was absent) it waits again.
//
// No change is missed. A waiter registers first and only then compares
// its versions with the latest state; the loop publishes a state first
// and only then, under the same lock, looks for waiters to wake. A change
// published before the waiter's comparison is seen by the comparison; one
// published after it is looked up after the waiter registered, and wakes
// it. Versions are log indices, so any commit that wrote what the
// transaction read, between its snapshot and the comparison, shows as a
// different version.
//
// A waiter keeps the versions its transaction read, not the snapshot it
// read them in: a long wait pins no old state in memory.
type waiter struct {
	rs   *readSet
	wake chan struct{} // closed by the loop when it wakes the waiter
}

// waitChange waits until something tx read differs from the latest state,
// ctx ends or the heap closes. It returns nil when fn should run again.
func (h *Heap) waitChange(ctx context.Context, tx *Tx) error {
	rs := tx.readSet()
	parked := false
	for {
		w := &waiter{rs: &rs, wake: make(chan struct{})}
		h.addWaiter(w)
		if rs.staleIn(h.state.Load()) != nil {
			h.removeWaiter(w)
			return nil
		}
		if !parked {
			parked = true
			h.stats.waits.Add(1)
		}
		select {
		case <-w.wake: // the loop removed it; compare again
		case <-ctx.Done():
			h.removeWaiter(w)
			return ctx.Err()
		case <-h.stop:
			h.removeWaiter(w)
			return h.closedErr()
		}
	}
}

func (h *Heap) addWaiter(w *waiter) {
	rs := w.rs
	h.waitMu.Lock()
	defer h.waitMu.Unlock()
	if h.waiters == nil {
		h.waiters = make(map[*waiter]struct{})
	}
	h.waiters[w] = struct{}{}
	for _, r := range rs.reads {
		id := r.ID
		if h.waitIDs == nil {
			h.waitIDs = make(map[uuid.UUID]map[*waiter]struct{})
		}
		set := h.waitIDs[id]
		if set == nil {
			set = make(map[*waiter]struct{})
			h.waitIDs[id] = set
		}
		set[w] = struct{}{}
	}
	for name := range rs.rootReads {
		if h.waitRoots == nil {
			h.waitRoots = make(map[string]map[*waiter]struct{})
		}
		set := h.waitRoots[name]
		if set == nil {
			set = make(map[*waiter]struct{})
			h.waitRoots[name] = set
		}
		set[w] = struct{}{}
	}
	if rs.scanned {
		if h.waitScans == nil {
			h.waitScans = make(map[*waiter]struct{})
		}
		h.waitScans[w] = struct{}{}
	}
}

func (h *Heap) removeWaiter(w *waiter) {
	h.waitMu.Lock()
	h.dropWaiter(w)
	h.waitMu.Unlock()
}

// dropWaiter removes a waiter from every index. Called with waitMu held.
func (h *Heap) dropWaiter(w *waiter) bool {
	if _, ok := h.waiters[w]; !ok {
		return false
	}
	delete(h.waiters, w)
	rs := w.rs
	for _, r := range rs.reads {
		if set := h.waitIDs[r.ID]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(h.waitIDs, r.ID)
			}
		}
	}
	for name := range rs.rootReads {
		if set := h.waitRoots[name]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(h.waitRoots, name)
			}
		}
	}
	delete(h.waitScans, w)
	return true
}

// wakeWaiters wakes the waiters that the changes of a newly published
// state may concern: every one if the state was replaced whole by a
// snapshot. Called by the loop after st is published.
func (h *Heap) wakeWaiters(st *consistency.State, changes []consistency.ChangeSet, replaced bool) {
	h.waitMu.Lock()
	defer h.waitMu.Unlock()
	if len(h.waiters) == 0 {
		return
	}
	wake := func(w *waiter) {
		if h.dropWaiter(w) {
			h.stats.wakes.Add(1)
			close(w.wake)
		}
	}
	if replaced {
		for w := range h.waiters {
			wake(w)
		}
		return
	}
	for i := range changes {
		cs := &changes[i]
		for _, c := range cs.Objects {
			for w := range h.waitIDs[c.ID] {
				wake(w)
			}
		}
		for _, r := range cs.Roots {
			for w := range h.waitRoots[r.Name] {
				wake(w)
			}
		}
	}
	for w := range h.waitScans {
		if st.ShapeVersion() > w.rs.snap {
			wake(w)
		}
	}
}
