package oss

import (
	"context"
	"sync"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
)

// WatchOptions say what a watch delivers.
type WatchOptions struct {
	// IDs restricts the watch to these objects, and Roots to these named
	// roots. If both are empty the watch sees every commit of the heap.
	IDs   []uuid.UUID
	Roots []string
	// From resumes a watch after a version the caller has seen: the watch
	// delivers every commit with a higher index. If the heap no longer keeps
	// that history (Config.WatchHistory, Config.WatchHistoryBytes), the
	// first event is an EventResync. If From is zero, the first event is an
	// EventSnapshot of the current state.
	From uint64
	// Buffer is the number of events held for a slow consumer before the
	// watch drops them and resyncs. If zero, Config.WatchBuffer.
	Buffer int
	// BufferBytes caps the bytes of the events held for a slow consumer
	// (counted as Config.WatchBufferBytes says) before the watch drops
	// them and resyncs. If zero, Config.WatchBufferBytes.
	BufferBytes int
}

// EventKind says what an Event carries.
type EventKind uint8

const (
	// EventChange is one commit: the objects and roots it changed that the
	// watch covers.
	EventChange EventKind = iota + 1
	// EventSnapshot starts a watch without From: the state to start from.
	EventSnapshot
	// EventResync replaces events the watch could not deliver, because the
	// consumer fell behind or the history to resume from is gone. Discard
	// what was derived from earlier events and read the state from the
	// event; later events follow on from it.
	EventResync
)

func (k EventKind) String() string {
	switch k {
	case EventChange:
		return "change"
	case EventSnapshot:
		return "snapshot"
	case EventResync:
		return "resync"
	}
	return "unknown"
}

// Change is the new state of one object after a commit.
type Change struct {
	ID      uuid.UUID
	Version uint64
	Deleted bool
	// Value is the new encoded value, nil if Deleted. Do not modify it.
	Value []byte
}

// Decode decodes the new value into v.
func (c Change) Decode(v any) error {
	if c.Deleted {
		return ErrNotFound
	}
	return codec.Unmarshal(c.Value, v)
}

// RootChange is the new binding of a named root after a commit.
type RootChange struct {
	Name    string
	ID      uuid.UUID
	Version uint64
	Deleted bool
}

// Event is one delivery of a watch.
type Event struct {
	Kind EventKind
	// Index is the log index of the commit (EventChange) or of the state
	// (EventSnapshot, EventResync).
	Index uint64
	// TxID identifies the committed transaction (EventChange).
	TxID    uuid.UUID
	Objects []Change
	Roots   []RootChange

	heap *Heap
	snap *consistency.State
}

// View runs fn on the state an EventSnapshot or EventResync carries.
func (e *Event) View(fn func(tx *Tx) error) error {
	if e.snap == nil {
		return ErrNoSnapshot
	}
	tx := Tx{heap: e.heap, snap: e.snap, readOnly: true}
	err := tx.call(fn)
	tx.done = true
	return err
}

// Watch delivers a heap's commits, one event per commit in log order. The
// apply loop never waits for a watch: a consumer that falls more than its
// buffer behind gets an EventResync in place of what it missed.
type Watch struct {
	heap   *Heap
	all    bool
	ids    map[uuid.UUID]struct{}
	roots  map[string]struct{}
	notify chan struct{}
	closec chan struct{} // closed by Close: ends every Next

	mu         sync.Mutex // protects following fields
	queue      []*Event
	queueBytes int // the size of the events queued, as eventBytes counts it
	limit      int
	limitBytes int
	after      uint64 // events at or below this index are already covered
	overflow   bool
	closed     bool
}

// Watch starts a watch. Close it when done; closing the node ends it too.
func (h *Heap) Watch(opts *WatchOptions) (*Watch, error) {
	var o WatchOptions
	if opts != nil {
		o = *opts
	}
	if o.Buffer <= 0 {
		o.Buffer = h.cfg.WatchBuffer
	}
	if o.BufferBytes <= 0 {
		o.BufferBytes = h.cfg.WatchBufferBytes
	}
	w := &Watch{heap: h, all: len(o.IDs) == 0 && len(o.Roots) == 0, limit: o.Buffer, limitBytes: o.BufferBytes, notify: make(chan struct{}, 1), closec: make(chan struct{})}
	if len(o.IDs) > 0 {
		w.ids = make(map[uuid.UUID]struct{}, len(o.IDs))
		for _, id := range o.IDs {
			w.ids[id] = struct{}{}
		}
	}
	if len(o.Roots) > 0 {
		w.roots = make(map[string]struct{}, len(o.Roots))
		for _, r := range o.Roots {
			w.roots[r] = struct{}{}
		}
	}
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	switch {
	case o.From == 0:
		st := h.state.Load()
		w.after = st.Index()
		ev := &Event{Kind: EventSnapshot, Index: st.Index(), heap: h, snap: st}
		w.queue, w.queueBytes = append(w.queue, ev), eventBytes(ev)
	case o.From < h.histFrom:
		// The history after From is gone: resync on the first Next.
		w.overflow = true
	default:
		w.after = o.From
		for i := range h.history {
			w.push(&h.history[i])
		}
	}
	h.watchers[w] = struct{}{}
	return w, nil
}

// push queues the watch's part of a change set. Called with the heap's
// watchMu held.
func (w *Watch) push(cs *consistency.ChangeSet) {
	ev := w.filter(cs)
	if ev == nil {
		return
	}
	size := eventBytes(ev)
	w.mu.Lock()
	switch {
	case w.closed || w.overflow || cs.Index <= w.after:
	case len(w.queue) >= w.limit || w.queueBytes+size > w.limitBytes:
		w.overflow = true
		clear(w.queue)
		w.queue = w.queue[:0]
		w.queueBytes = 0
	default:
		w.queue = append(w.queue, ev)
		w.queueBytes += size
	}
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *Watch) filter(cs *consistency.ChangeSet) *Event {
	ev := &Event{Kind: EventChange, Index: cs.Index, TxID: cs.TxID, heap: w.heap}
	for _, c := range cs.Objects {
		if w.all || w.has(c.ID) {
			ev.Objects = append(ev.Objects, Change{ID: c.ID, Version: c.Version, Deleted: c.Deleted, Value: c.Value})
		}
	}
	for _, r := range cs.Roots {
		if w.all || w.hasRoot(r.Name) {
			ev.Roots = append(ev.Roots, RootChange{Name: r.Name, ID: r.ID, Version: r.Version, Deleted: r.Deleted})
		}
	}
	if !w.all && len(ev.Objects) == 0 && len(ev.Roots) == 0 {
		return nil
	}
	return ev
}

func (w *Watch) has(id uuid.UUID) bool {
	_, ok := w.ids[id]
	return ok
}

func (w *Watch) hasRoot(name string) bool {
	_, ok := w.roots[name]
	return ok
}

// Next returns the next event, waiting for one until ctx ends. It returns
// ErrClosed once the watch or its node is closed.
func (w *Watch) Next(ctx context.Context) (*Event, error) {
	for {
		w.mu.Lock()
		switch {
		case w.closed:
			w.mu.Unlock()
			return nil, ErrClosed
		case w.overflow:
			// Every change set dropped so far was delivered after its
			// state was published, so the state loaded now covers them.
			w.overflow = false
			st := w.heap.state.Load()
			w.after = st.Index()
			w.mu.Unlock()
			return &Event{Kind: EventResync, Index: st.Index(), heap: w.heap, snap: st}, nil
		case len(w.queue) > 0:
			ev := w.queue[0]
			w.queue[0] = nil
			w.queue = w.queue[1:]
			w.queueBytes -= eventBytes(ev)
			if ev.Index <= w.after && ev.Kind == EventChange {
				w.mu.Unlock()
				continue
			}
			w.mu.Unlock()
			return ev, nil
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-w.closec:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-w.heap.stop:
			w.mu.Lock()
			empty := len(w.queue) == 0 && !w.overflow
			w.mu.Unlock()
			if empty {
				return nil, ErrClosed
			}
		}
	}
}

// Close ends the watch: a Next waiting in another goroutine, and every
// later one, returns ErrClosed. It is idempotent and returns nil; the
// error makes a Watch an io.Closer.
func (w *Watch) Close() error {
	w.heap.watchMu.Lock()
	delete(w.heap.watchers, w)
	w.heap.watchMu.Unlock()
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.closec)
	}
	w.queue = nil
	w.queueBytes = 0
	w.mu.Unlock()
	return nil
}

// deliver records change sets in the history and hands them to every
// watch. Called by the loop after the state that holds them is published.
// The history keeps at most Config.WatchHistory change sets and
// Config.WatchHistoryBytes of them, dropping the oldest; histFrom says
// where what it keeps begins.
func (h *Heap) deliver(changes []consistency.ChangeSet) {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	for i := range changes {
		cs := &changes[i]
		for w := range h.watchers {
			w.push(cs)
		}
		h.histSize += changeSetBytes(cs)
	}
	h.history = append(h.history, changes...)
	drop := 0
	for drop < len(h.history) && (len(h.history)-drop > h.cfg.WatchHistory || h.histSize > h.cfg.WatchHistoryBytes) {
		h.histSize -= changeSetBytes(&h.history[drop])
		drop++
	}
	if drop > 0 {
		h.histFrom = h.history[drop-1].Index
		clear(h.history[:drop])
		h.history = h.history[drop:]
	}
	if len(h.history) == 0 {
		h.history = nil // let go of the array
	}
}

// entryBytes is what the watch bounds count for a change set, an object
// or a root besides its value or name.
const entryBytes = 64

// changeSetBytes is the size of a change set as the watch bounds count it.
func changeSetBytes(cs *consistency.ChangeSet) int {
	n := entryBytes
	for i := range cs.Objects {
		n += entryBytes + len(cs.Objects[i].Value)
	}
	for i := range cs.Roots {
		n += entryBytes + len(cs.Roots[i].Name)
	}
	return n
}

// eventBytes is the size of an event as the watch bounds count it; a
// snapshot or resync shares the heap's state and counts as an entry.
func eventBytes(ev *Event) int {
	n := entryBytes
	for i := range ev.Objects {
		n += entryBytes + len(ev.Objects[i].Value)
	}
	for i := range ev.Roots {
		n += entryBytes + len(ev.Roots[i].Name)
	}
	return n
}
