package oss

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
)

// WatchOptions say what a watch delivers.
type WatchOptions struct {
	// IDs restricts the watch to these objects, and Roots to these named
	// roots. If both are empty the watch sees every commit of the heap.
	// Watch.SetInterest replaces them on a running watch. A name in Roots
	// that Tx.SetRoot refuses (Node.CheckRootName) is ErrInvalidArgument:
	// no root could ever have it.
	IDs   []uuid.UUID
	Roots []string
	// From resumes a watch after a version the caller has seen: the watch
	// delivers every commit with a higher index. If the heap no longer keeps
	// that history (Config.WatchHistory, Config.WatchHistoryBytes), the
	// first event is an EventResync. A replica that has not yet applied
	// From (the caller saw it on a node ahead of this one) delivers the
	// commits after it once it has them, also when it catches up from its
	// leader's snapshot of an older state, which it does not hand out. If
	// From is zero, the first event is an EventSnapshot of the current
	// state.
	//
	// A From the heap has not reached waits, silently, until the heap
	// reaches it, as a watch from a future revision does in etcd: the
	// replica may trail its group, and the watch cannot tell an index the
	// heap will reach from one it never will. An index of another
	// incarnation of the heap (dropped and created again, or another
	// heap) is told apart by Incarnation alone: pass it, and the watch
	// starts with an EventResync instead of waiting for the old index.
	From uint64
	// Incarnation is the heap incarnation From belongs to, as the events
	// the caller saw gave it (Event.Incarnation). Log indexes count from
	// the start of an incarnation: a heap dropped and created again under
	// its name starts anew, and an index of the old one says nothing about
	// the new one. If Incarnation is set and is not the heap's (Stats),
	// the first event is an EventResync of the current state, as when the
	// history is gone. Zero skips the check: a caller that resumes a
	// watch across restarts of its own should keep both and pass both.
	Incarnation uint64
	// Buffer is the number of events held for a slow consumer before the
	// watch drops them and resyncs. If zero, Config.WatchBuffer; negative
	// is an error (ErrInvalidArgument), as in Config. A merged
	// watch (Merge, Rate) holds one event and is bounded by BufferBytes
	// alone.
	Buffer int
	// BufferBytes caps the bytes of the events held for a slow consumer
	// (counted as Config.WatchBufferBytes says) before the watch drops
	// them and resyncs. If zero, Config.WatchBufferBytes; negative is an
	// error (ErrInvalidArgument), as in Config.
	BufferBytes int
	// Merge makes the watch merge the commits its consumer has not taken
	// yet into one EventChange, in place of one event per commit: every
	// object and root they changed appears once, at its latest version
	// in them (a deletion as a deletion), and FromIndex..Index says which
	// commits it covers. Commits are merged whole: an event reflects every
	// change of each commit in its range that the watch covers, and
	// nothing of a later one. A consumer that keeps up still gets one
	// commit an event; one that falls behind gets the state it missed in
	// one event instead of a resync. What waits grows with the distinct
	// objects and roots changed, not with the commits: past BufferBytes
	// the watch resyncs.
	Merge bool
	// Rate, if positive, caps the events Next returns at Rate a second
	// (and implies Merge): Next returns an event no sooner than 1/Rate
	// after the one before, and the commits of the wait arrive merged in
	// it. The first event after a quiet spell comes at once. Zero means
	// no cap. A slow reader and a chat pane want a few events a second;
	// a renderer wants every commit.
	Rate float64
}

// EventKind says what an Event carries.
type EventKind uint8

const (
	// EventChange is one commit, or on a merged watch (WatchOptions.Merge,
	// Rate) consecutive commits merged: the objects and roots they changed
	// that the watch covers.
	EventChange EventKind = iota + 1
	// EventSnapshot starts a watch without From: the state to start from.
	EventSnapshot
	// EventResync replaces events the watch could not deliver, because the
	// consumer fell behind, the history to resume from is gone, the
	// replica caught up from its leader's snapshot (which carries a state,
	// not the commits it covers) or the watch's interest changed
	// (Watch.SetInterest). Discard what was
	// derived from earlier events and read the state from the event; later
	// events follow on from it.
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
	// ID is the object's ID.
	ID uuid.UUID
	// Version is the object's new version: the log index of the commit
	// that wrote it.
	Version uint64
	// Deleted is set if the commit deleted the object: a Tx.Delete,
	// delivered whether or not the object existed (Delete does not read
	// it, and neither does the watch).
	Deleted bool
	// Value is the new encoded value, nil if Deleted. Do not modify it.
	Value []byte
}

// Decode decodes the new value into v, a pointer, by Get's rules. It
// returns an error matching ErrNotFound if the commit deleted the object,
// and a *DecodeError if the value does not decode into v (v not a
// pointer included).
func (c Change) Decode(v any) error {
	if c.Deleted {
		return fmt.Errorf("%w: object %v was deleted", ErrNotFound, c.ID)
	}
	if err := codec.Unmarshal(c.Value, v); err != nil {
		t := reflect.TypeOf(v)
		if t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		return &DecodeError{ID: c.ID, Type: t, Err: err}
	}
	return nil
}

// RootChange is the new binding of a named root after a commit.
type RootChange struct {
	// Name is the root's name.
	Name string
	// ID is the object the root is bound to now, uuid.Nil if Deleted.
	ID uuid.UUID
	// Version is the log index of the commit that changed it.
	Version uint64
	// Deleted is set if the commit removed the root: a Tx.DeleteRoot,
	// delivered whether or not the root existed.
	Deleted bool
}

// Event is one delivery of a watch.
type Event struct {
	Kind EventKind
	// Index is the log index of the commit (EventChange; the last one a
	// merged event covers) or of the state (EventSnapshot, EventResync).
	Index uint64
	// FromIndex is the first log index an EventChange covers: the event
	// holds the latest version, at or below Index, of every object and
	// root that the watch covers and that a commit with an index in
	// FromIndex..Index changed. An event of a watch without Merge or Rate
	// is one commit: FromIndex is Index. On a merged watch every event
	// follows on from the one before: its FromIndex is the previous
	// event's Index + 1, whatever that event was, so there are no gaps.
	// Zero for EventSnapshot and EventResync.
	FromIndex uint64
	// Incarnation identifies the heap's incarnation the event's indexes
	// belong to (Stats.Incarnation): a caller that keeps Index to resume a
	// watch later keeps this with it (WatchOptions.Incarnation).
	Incarnation uint64
	// Commits is the number of commits an EventChange merges: 1 for one
	// commit, more for a merged event. A commit in the range that changed
	// nothing the watch covers is not counted.
	Commits int
	// TxID identifies the committed transaction of an EventChange of one
	// commit; it is zero when Commits is more than one.
	TxID uuid.UUID
	// Objects and Roots are what the event's commits changed that the
	// watch covers, each once, at its latest version (empty for
	// EventSnapshot and EventResync, whose state View reads).
	Objects []Change
	Roots   []RootChange

	heap *Heap
	snap *consistency.State
}

// View runs fn on the state an EventSnapshot or EventResync carries, as
// Heap.View runs it, and returns fn's error. For an EventChange, which
// carries no state, it returns ErrNoSnapshot.
func (e *Event) View(fn func(tx *Tx) error) error {
	if e.snap == nil {
		return ErrNoSnapshot
	}
	tx := Tx{heap: e.heap, snap: e.snap, readOnly: true, managed: true}
	err := tx.call(fn)
	if err == nil {
		tx.end()
	}
	return err
}

// Watch delivers a heap's commits in log order: one event per commit, or
// consecutive commits merged into one event if WatchOptions.Merge or Rate
// say so. The apply loop never waits for a watch: a consumer that falls
// more than its buffer behind gets an EventResync in place of what it
// missed.
type Watch struct {
	heap     *Heap
	merge    bool
	interval time.Duration // a shaped watch's least time between events
	notify   chan struct{}
	closec   chan struct{} // closed by Close: ends every Next

	// The interest; protected by heap.watchMu.
	all   bool
	ids   map[uuid.UUID]struct{}
	roots map[string]struct{}

	mu         sync.Mutex // protects following fields
	queue      []*Event
	pending    *merged // a merged watch's event being built
	queueBytes int     // the size of the events queued and pending, as eventBytes counts it
	limit      int
	limitBytes int
	after      uint64 // events at or below this index are already covered
	took       uint64 // the index of the last event handed out, or where the watch began
	slot       time.Time
	overflow   bool
	closed     bool
}

// merged is the EventChange a merged watch builds from the commits its
// consumer has not taken yet, with each object's and root's place in it.
type merged struct {
	ev      *Event
	objects map[uuid.UUID]int
	roots   map[string]int
	bytes   int // its share of queueBytes
}

// indexBytes is what the watch bounds count for each object and root of
// a merged event being built, besides its entry: its place in the index.
const indexBytes = 64

// Watch starts a watch. Close it when done; closing the node ends it
// too, and so does dropping the heap, but the ctx of a Next does not: a
// watch not closed stays with its heap, holding what commits (up to its
// buffer, then a resync) for a Next that may never come.
// It returns an error matching ErrInvalidArgument for a negative or NaN
// WatchOptions.Rate, for a negative Buffer or BufferBytes, and for a
// name in Roots that SetRoot refuses (empty, not UTF-8, longer than
// Config.MaxCommitBytes): no root has such a name.
func (h *Heap) Watch(opts *WatchOptions) (*Watch, error) {
	var o WatchOptions
	if opts != nil {
		o = *opts
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) {
		return nil, fmt.Errorf("%w: WatchOptions.Rate %v", ErrInvalidArgument, o.Rate)
	}
	if o.Buffer < 0 || o.BufferBytes < 0 {
		return nil, fmt.Errorf("%w: WatchOptions.Buffer %d, BufferBytes %d: negative", ErrInvalidArgument, o.Buffer, o.BufferBytes)
	}
	if err := watchRoots(o.Roots, h.cfg.MaxCommitBytes); err != nil {
		return nil, err
	}
	if o.Buffer == 0 {
		o.Buffer = h.cfg.WatchBuffer
	}
	if o.BufferBytes == 0 {
		o.BufferBytes = h.cfg.WatchBufferBytes
	}
	w := &Watch{heap: h, merge: o.Merge || o.Rate > 0, limit: o.Buffer, limitBytes: o.BufferBytes, notify: make(chan struct{}, 1), closec: make(chan struct{})}
	if o.Rate > 0 {
		w.interval = math.MaxInt64 // 1/Rate is longer than a Duration holds
		if iv := float64(time.Second) / o.Rate; iv < math.MaxInt64 {
			w.interval = time.Duration(iv)
		}
	}
	w.all, w.ids, w.roots = interest(o.IDs, o.Roots)
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	if h.closed {
		return nil, h.closedErr()
	}
	switch {
	case o.From == 0:
		st := h.state.Load()
		w.after, w.took = st.Index(), st.Index()
		ev := &Event{Kind: EventSnapshot, Index: st.Index(), Incarnation: h.group, heap: h, snap: st}
		w.queue, w.queueBytes = append(w.queue, ev), eventBytes(ev)
	case o.Incarnation != 0 && o.Incarnation != h.group:
		// From is an index of another incarnation of the heap: it says
		// nothing of this one. Resync on the first Next.
		w.overflow = true
		w.took = h.state.Load().Index()
	case o.From < h.histFrom:
		// The history after From is gone: resync on the first Next.
		w.overflow = true
		w.took = o.From
	default:
		w.after = o.From
		for i := range h.history {
			w.push(&h.history[i])
		}
		w.took = o.From
	}
	h.watchers[w] = struct{}{}
	return w, nil
}

// watchRoots refuses a root name of a watch's interest that no root can
// have, by the rule SetRoot applies (validRootName): a watch of it would
// wait for ever, silently.
func watchRoots(roots []string, max int) error {
	for i, name := range roots {
		if err := validRootName(name, max); err != nil {
			return fmt.Errorf("%w (watched root %d of %d: SetRoot refuses such a name, so no root has it and the watch would never see it change)", err, i+1, len(roots))
		}
	}
	return nil
}

// interest builds a watch's filter from its IDs and roots.
func interest(ids []uuid.UUID, roots []string) (all bool, idm map[uuid.UUID]struct{}, rm map[string]struct{}) {
	if len(ids) > 0 {
		idm = make(map[uuid.UUID]struct{}, len(ids))
		for _, id := range ids {
			idm[id] = struct{}{}
		}
	}
	if len(roots) > 0 {
		rm = make(map[string]struct{}, len(roots))
		for _, r := range roots {
			rm[r] = struct{}{}
		}
	}
	return len(ids) == 0 && len(roots) == 0, idm, rm
}

// SetInterest replaces the objects and roots the watch covers, as
// WatchOptions.IDs and Roots name them (neither: the whole heap); a
// spectator that moves to another room names that room's objects. The
// next event is an EventResync: what the consumer had of the old interest
// is stale, and it reads the new one from the event's state, which every
// later event follows on from. Events not yet taken are dropped.
//
// The filter is a set of IDs, not a function, because it runs on the
// heap's apply loop, for every commit: a map lookup per change, never the
// caller's code. A consumer that wants a finer choice (by value, say)
// applies it to the events it takes. SetInterest returns ErrClosed on a
// closed watch, and on one whose heap closed (the node closed, or the heap
// was dropped): there is no state left to resync to. A root name that
// SetRoot refuses is an error matching ErrInvalidArgument, as in Watch,
// and leaves the watch as it was.
func (w *Watch) SetInterest(ids []uuid.UUID, roots []string) error {
	if err := watchRoots(roots, w.heap.cfg.MaxCommitBytes); err != nil {
		return err
	}
	all, idm, rm := interest(ids, roots)
	w.heap.watchMu.Lock()
	w.mu.Lock()
	if w.closed || w.heap.closed {
		closed := w.closed
		w.mu.Unlock()
		w.heap.watchMu.Unlock()
		if closed {
			return ErrClosed
		}
		return w.heap.closedErr()
	}
	w.all, w.ids, w.roots = all, idm, rm
	w.drop()
	w.mu.Unlock()
	w.heap.watchMu.Unlock()
	w.wake()
	return nil
}

// drop discards what the watch holds and makes the next event a resync.
// Called with w.mu held.
func (w *Watch) drop() {
	w.overflow = true
	clear(w.queue)
	w.queue = w.queue[:0]
	w.pending = nil
	w.queueBytes = 0
}

func (w *Watch) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// push queues the watch's part of a change set, or merges it into the
// pending event of a merged watch. Called with the heap's watchMu held.
func (w *Watch) push(cs *consistency.ChangeSet) {
	if w.merge {
		if w.mergeIn(cs) {
			w.wake()
		}
		return
	}
	ev := w.filter(cs)
	if ev == nil {
		return
	}
	size := eventBytes(ev)
	w.mu.Lock()
	switch {
	case w.closed || w.overflow || cs.Index <= w.after:
	case len(w.queue) >= w.limit || w.queueBytes+size > w.limitBytes:
		w.drop()
	default:
		w.queue = append(w.queue, ev)
		w.queueBytes += size
	}
	w.mu.Unlock()
	w.wake()
}

// mergeIn merges the watch's part of a change set into its pending event,
// all of it under one hold of w.mu, so that Next takes whole commits. It
// reports whether the watch changed. Called with the heap's watchMu held.
func (w *Watch) mergeIn(cs *consistency.ChangeSet) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.overflow || cs.Index <= w.after {
		return false
	}
	p := w.pending
	before := 0 // p.bytes as queueBytes counts it
	if p != nil {
		before = p.bytes
	}
	touched := false
	start := func() {
		touched = true
		if p == nil {
			p = &merged{ev: &Event{Kind: EventChange, FromIndex: w.after + 1, Incarnation: w.heap.group, heap: w.heap}, objects: make(map[uuid.UUID]int), roots: make(map[string]int), bytes: entryBytes}
			w.pending = p
		}
	}
	if w.all {
		start()
	}
	for i := range cs.Objects {
		c := &cs.Objects[i]
		if !w.all && !w.has(c.ID) {
			continue
		}
		start()
		p.putObject(Change{ID: c.ID, Version: c.Version, Deleted: c.Deleted, Value: c.Value})
	}
	for i := range cs.Roots {
		r := &cs.Roots[i]
		if !w.all && !w.hasRoot(r.Name) {
			continue
		}
		start()
		p.putRoot(RootChange{Name: r.Name, ID: r.ID, Version: r.Version, Deleted: r.Deleted})
	}
	if !touched {
		return false // nothing the watch covers
	}
	w.queueBytes += p.bytes - before
	p.ev.Index = cs.Index
	p.ev.Commits++
	if p.ev.Commits == 1 {
		p.ev.TxID = cs.TxID
	} else {
		p.ev.TxID = uuid.Nil
	}
	if w.queueBytes > w.limitBytes {
		w.drop()
	}
	return true
}

// putObject merges an object's change into the event: it replaces the
// object's earlier change, if any.
func (p *merged) putObject(ch Change) {
	if j, ok := p.objects[ch.ID]; ok {
		p.bytes += len(ch.Value) - len(p.ev.Objects[j].Value)
		p.ev.Objects[j] = ch
		return
	}
	p.objects[ch.ID] = len(p.ev.Objects)
	p.ev.Objects = append(p.ev.Objects, ch)
	p.bytes += entryBytes + indexBytes + len(ch.Value)
}

// putRoot merges a root's change into the event: it replaces the root's
// earlier change, if any.
func (p *merged) putRoot(rc RootChange) {
	if j, ok := p.roots[rc.Name]; ok {
		p.ev.Roots[j] = rc
		return
	}
	p.roots[rc.Name] = len(p.ev.Roots)
	p.ev.Roots = append(p.ev.Roots, rc)
	p.bytes += entryBytes + indexBytes + len(rc.Name)
}

func (w *Watch) filter(cs *consistency.ChangeSet) *Event {
	ev := &Event{Kind: EventChange, Index: cs.Index, FromIndex: cs.Index, Commits: 1, TxID: cs.TxID, Incarnation: w.heap.group, heap: w.heap}
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
// ErrClosed once the watch is closed, and once its node closed (or its
// heap was dropped, or its replica lost: see ErrClosed) after handing out
// the events the watch held by then.
// On a watch with a Rate it also waits, if need be, until 1/Rate has
// passed since the event before; what is committed meanwhile joins the
// event it returns. A ctx that has already ended gets its error, even
// when an event is ready: the event stays for the next call. ctx bounds
// the call, not the watch: after it ends the watch goes on, and the next
// Next hands out what was committed meanwhile; Close ends it (or the
// heap's close, as above).
func (w *Watch) Next(ctx context.Context) (*Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	stopped := false // the heap is closed: hand out what is left at once
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return nil, ErrClosed
		}
		ready := w.overflow || len(w.queue) > 0 || w.pending != nil
		if d := w.wait(); ready && d > 0 && !stopped {
			w.mu.Unlock()
			s, err := w.pace(ctx, &timer, d)
			if err != nil {
				return nil, err
			}
			stopped = s
			continue
		}
		if ev := w.pop(); ev != nil {
			w.mu.Unlock()
			return ev, nil
		}
		w.mu.Unlock()
		s, err := w.await(ctx)
		if err != nil {
			return nil, err
		}
		stopped = stopped || s
	}
}

// pop takes the next event to hand out: a resync after an overflow, the
// first queued event not already covered, or the pending one. It returns
// nil if there is none. Called with w.mu held.
func (w *Watch) pop() *Event {
	if w.overflow {
		// Every change set dropped so far was delivered after its state
		// was published, so the state loaded now covers them.
		w.overflow = false
		st := w.heap.state.Load()
		w.after = st.Index()
		w.taken(st.Index())
		w.heap.stats.resyncs.Add(1)
		return &Event{Kind: EventResync, Index: st.Index(), Incarnation: w.heap.group, heap: w.heap, snap: st}
	}
	for len(w.queue) > 0 {
		ev := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.queueBytes -= eventBytes(ev)
		if ev.Index <= w.after && ev.Kind == EventChange {
			continue
		}
		w.taken(ev.Index)
		return ev
	}
	if w.pending != nil {
		ev := w.pending.ev
		w.queueBytes -= w.pending.bytes
		w.pending = nil
		w.after = ev.Index
		w.taken(ev.Index)
		return ev
	}
	return nil
}

// pace waits d, the rest of a shaped watch's interval, on *timer. It
// reports whether the heap closed meanwhile (what is left is then handed
// out at once), and ErrClosed or ctx's error.
func (w *Watch) pace(ctx context.Context, timer **time.Timer, d time.Duration) (stopped bool, err error) {
	if *timer == nil {
		*timer = time.NewTimer(d)
	} else {
		(*timer).Reset(d)
	}
	select {
	case <-(*timer).C:
	case <-w.closec:
		return false, ErrClosed
	case <-ctx.Done():
		return false, ctx.Err()
	case <-w.heap.done:
		return true, nil
	}
	return false, nil
}

// await waits for something to hand out. It reports whether the heap
// closed with events still queued, and ErrClosed (the watch closed, or
// the heap with nothing left) or ctx's error.
func (w *Watch) await(ctx context.Context) (stopped bool, err error) {
	select {
	case <-w.notify:
	case <-w.closec:
		return false, ErrClosed
	case <-ctx.Done():
		return false, ctx.Err()
	case <-w.heap.done:
		// The loop has exited: nothing more is delivered. (Its stop
		// alone would not do: the loop may be handing out a Ready whose
		// callers were answered before its watches.)
		w.mu.Lock()
		empty := len(w.queue) == 0 && w.pending == nil && !w.overflow
		w.mu.Unlock()
		if empty {
			return false, w.heap.closedErr()
		}
		return true, nil
	}
	return false, nil
}

// wait is how long a shaped watch has to wait before its next event.
// Called with w.mu held.
func (w *Watch) wait() time.Duration {
	if w.interval == 0 {
		return 0
	}
	return time.Until(w.slot)
}

// taken notes the index of an event handed out (for the watch's lag in
// metrics) and starts a shaped watch's wait for its next event. Called
// with w.mu held as an event is handed out.
func (w *Watch) taken(index uint64) {
	w.took = index
	if w.interval > 0 {
		w.slot = time.Now().Add(w.interval)
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
	w.pending = nil
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
	h.pushHistory(changes)
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
		h.history, h.histBase = nil, nil // let go of the array
	}
}

// resyncWatches starts the history afresh after index, where a leader's
// snapshot replaced the state whole: the commits it covers come as no
// change sets, so every watch that needs one of them resyncs (from the
// state just published, which holds them) and a watch resuming from
// before index does too. A watch resumed from a version at or past index
// (one the consumer saw on another node, ahead of this replica) needs
// none of them: it goes on with the commits after its version, and a
// resync would take its consumer back to the older state at index.
// Called by the loop after the state is published.
func (h *Heap) resyncWatches(index uint64) {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	clear(h.history)
	h.history, h.histBase, h.histSize = nil, nil, 0
	h.histFrom = max(h.histFrom, index)
	for w := range h.watchers {
		w.mu.Lock()
		if !w.closed && w.after < index {
			w.drop()
		}
		w.mu.Unlock()
		w.wake()
	}
}

// pushHistory appends change sets to the history. Dropping the oldest
// leaves the front of the history's array unused; once that front is
// as large as what the history holds, and the array has room for all
// of it and the new sets, the history moves down to the array's start
// instead of growing a new array: a commit then costs an append, not an
// allocation and a copy of the window every few commits. A new array has
// room for twice what it first holds, so that once the history stops
// growing its front is soon as large as what it holds (append grows a
// large array by a quarter only: with the default window of 4,096 sets
// every 1,024 commits allocated and copied the window).
func (h *Heap) pushHistory(changes []consistency.ChangeSet) {
	n, need := len(h.history), len(h.history)+len(changes)
	if need <= cap(h.history) {
		h.history = append(h.history, changes...)
		return
	}
	if off := cap(h.histBase) - cap(h.history); off >= n && cap(h.histBase) >= need {
		base := h.histBase[:cap(h.histBase)]
		copy(base, h.history)
		clear(base[n : off+n]) // what moved down, not to be kept twice
		h.history = append(base[:n], changes...)
		return
	}
	base := make([]consistency.ChangeSet, need, 2*need)
	copy(base, h.history)
	copy(base[n:], changes)
	h.history, h.histBase = base, base[:0]
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
