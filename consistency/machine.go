package consistency

import (
	"fmt"
	"sync/atomic"

	"github.com/google/uuid"
)

// Outcome is how a commit record was decided.
type Outcome uint8

const (
	// Committed: every read was current; the writes took effect.
	Committed Outcome = iota + 1
	// Conflicted: something the transaction read had changed; nothing was
	// written.
	Conflicted
	// Stale: the record's snapshot is older than the deduplication window,
	// so the replica can no longer tell whether an earlier copy of it was
	// applied. Nothing was written by this copy.
	Stale
	// Malformed: the entry did not hold a valid commit record. Nothing was
	// written.
	Malformed
	// Refused: the heap's leader refused the transaction (its proposer
	// lacked a permission) and appended a refusal in its place (Record
	// Refused). Nothing was written, and no copy of the transaction's
	// record decided later writes anything.
	Refused
)

func (o Outcome) String() string {
	switch o {
	case Committed:
		return "committed"
	case Conflicted:
		return "conflicted"
	case Stale:
		return "stale"
	case Malformed:
		return "malformed"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// Result is the decision on one commit record.
type Result struct {
	TxID uuid.UUID
	// Index is the log index of the entry that decided the transaction. For
	// a duplicate it is the index of the first copy.
	Index   uint64
	Outcome Outcome
	// Duplicate is set when this entry was a second copy of a record that
	// was already decided; Outcome and Index are the first copy's.
	Duplicate bool
	// ConflictID is the first object whose read was no longer current, and
	// ConflictRoot the first such root; ConflictScan is set when a scan was
	// invalidated by a creation or deletion.
	ConflictID   uuid.UUID
	ConflictRoot string
	ConflictScan bool
}

// Change is the new state of one object after a commit.
type Change struct {
	ID      uuid.UUID
	Version uint64
	Deleted bool
	// Value is the new CBOR encoded value; nil when Deleted. Never modify it.
	Value []byte
}

// RootChange is the new binding of one named root after a commit.
type RootChange struct {
	Name    string
	ID      uuid.UUID
	Version uint64
	Deleted bool
}

// ChangeSet is what one committed transaction changed.
type ChangeSet struct {
	Index   uint64
	TxID    uuid.UUID
	Objects []Change
	Roots   []RootChange
}

// DefaultDedupWindow is the number of log entries for which a replica
// remembers the outcome of each transaction ID.
const DefaultDedupWindow = 1 << 18

// machine is the heap's object state and the deterministic rules that decide
// and apply commit records. Every replica that applies the same entries in
// the same order reaches the same state and the same results.
type machine struct {
	index   uint64
	shape   uint64
	objects *btree[objItem]
	roots   *btree[rootItem]
	dirty   bool
	state   *State

	window uint64
	// seen maps each transaction ID decided within the window to the
	// index of the entry that decided it; dec holds the decisions, in
	// apply order (ascending Index). A decision in dec is never changed
	// once appended, so a view of dec is a snapshot of them: a checkpoint
	// takes one in O(1) (SnapshotMetaLater).
	seen map[uuid.UUID]uint64
	dec  decisionLog

	skipReads *atomic.Bool // Config.SkipReadValidation

	scratch recScratch // the record apply decodes, used again
	changes []Change   // the array takeChanges hands out parts of
}

func newMachine(window uint64) *machine {
	if window == 0 {
		window = DefaultDedupWindow
	}
	m := &machine{
		objects: newObjTree(),
		roots:   newRootTree(),
		window:  window,
		seen:    make(map[uuid.UUID]uint64),
	}
	m.publish()
	return m
}

// publish makes the current state available as an immutable State.
func (m *machine) publish() *State {
	if m.state != nil && !m.dirty && m.state.index == m.index {
		return m.state
	}
	if m.dirty || m.state == nil {
		// The State and its trees in one allocation: one is published
		// for every Ready that wrote.
		st := &struct {
			State
			objects btree[objItem]
			roots   btree[rootItem]
		}{}
		m.objects.copyTo(&st.objects)
		m.roots.copyTo(&st.roots)
		st.State = State{index: m.index, shape: m.shape, objects: &st.objects, roots: &st.roots}
		m.state = &st.State
	} else {
		s := *m.state
		s.index = m.index
		m.state = &s
	}
	m.dirty = false
	return m.state
}

// skip advances the applied index over an entry that holds no record.
func (m *machine) skip(index uint64) {
	m.index = index
	m.prune()
}

// apply decides the record in the entry at index and applies it if it
// commits. The ChangeSet is nil unless the record committed.
func (m *machine) apply(index uint64, data []byte) (Result, *ChangeSet) {
	res, cs, ok := m.decide(index, data)
	if !ok {
		return res, nil
	}
	return res, &cs
}

// applyNormal applies a normal entry for rd: its decision goes to
// rd.Results and its change set, if it committed, to rd.Changes.
func (m *machine) applyNormal(rd *Ready, index uint64, data []byte) {
	if len(data) == 0 {
		m.skip(index)
		return
	}
	res, cs, ok := m.decide(index, data)
	rd.Results = append(rd.Results, res)
	if ok {
		rd.Changes = append(rd.Changes, cs)
	}
}

// decide is apply with the change set returned by value, ok when the
// record committed.
func (m *machine) decide(index uint64, data []byte) (res Result, cs ChangeSet, ok bool) {
	m.index = index
	defer m.prune()
	// The record's values are data's own bytes: write copies each into
	// the state, and the record is not kept.
	rec, err := m.scratch.decode(data)
	defer m.scratch.release()
	if err != nil {
		return Result{Index: index, Outcome: Malformed}, cs, false
	}
	if r, ok := m.decided(rec.TxID); ok {
		r.Duplicate = true
		return r, cs, false
	}
	res = Result{TxID: rec.TxID, Index: index}
	switch {
	case rec.Snapshot >= index:
		// A record cannot have read a snapshot that includes itself.
		res.Outcome = Malformed
		return res, cs, false
	case rec.Snapshot+m.window < index:
		res.Outcome = Stale
		return res, cs, false
	}
	switch {
	case rec.Refused:
		res.Outcome = Refused
	case m.validate(rec, &res):
		res.Outcome = Committed
	default:
		res.Outcome = Conflicted
	}
	m.seen[rec.TxID] = index
	m.dec.push(res)
	if res.Outcome != Committed {
		return res, cs, false
	}
	m.write(index, rec, &cs)
	return res, cs, true
}

// validate reports whether every read of rec is still current.
func (m *machine) validate(rec *Record, res *Result) bool {
	if m.skipReads != nil && m.skipReads.Load() {
		return true
	}
	for _, r := range rec.Reads {
		if m.version(r.ID) != r.Version {
			res.ConflictID = r.ID
			return false
		}
	}
	for _, r := range rec.RootReads {
		if m.rootVersion(r.Name) != r.Version {
			res.ConflictRoot = r.Name
			return false
		}
	}
	if rec.Scanned && m.shape > rec.Snapshot {
		res.ConflictScan = true
		return false
	}
	return true
}

func (m *machine) version(id uuid.UUID) uint64 {
	it, ok := getObj(m.objects, id)
	if !ok {
		return 0
	}
	return it.version()
}

func (m *machine) rootVersion(name string) uint64 {
	it, ok := m.roots.Get(rootItem{name: name})
	if !ok {
		return 0
	}
	return it.root.Version
}

// write applies rec's writes, committed at index, and fills in cs.
func (m *machine) write(index uint64, rec *Record, cs *ChangeSet) {
	cs.Index, cs.TxID = index, rec.TxID
	if len(rec.Writes) > 0 {
		cs.Objects = m.takeChanges(len(rec.Writes))
	}
	for _, w := range rec.Writes {
		if w.Delete {
			if _, ok := m.objects.Delete(objItem{id: w.ID}); ok {
				m.shape = index
			}
			cs.Objects = append(cs.Objects, Change{ID: w.ID, Version: index, Deleted: true})
			continue
		}
		// The change shares the state's copy of the value, not the
		// record's, which is let go of.
		it := newObjItem(w.ID, w.Value, index)
		if _, replaced := m.objects.Set(it); !replaced {
			m.shape = index
		}
		cs.Objects = append(cs.Objects, Change{ID: w.ID, Version: index, Value: it.value()})
	}
	for _, w := range rec.RootWrites {
		if w.Delete {
			m.roots.Delete(rootItem{name: w.Name})
			cs.Roots = append(cs.Roots, RootChange{Name: w.Name, Version: index, Deleted: true})
			continue
		}
		m.roots.Set(rootItem{name: w.Name, root: &Root{Name: w.Name, ID: w.ID, Version: index}})
		cs.Roots = append(cs.Roots, RootChange{Name: w.Name, ID: w.ID, Version: index})
	}
	m.dirty = true
}

// changeChunk is the fewest changes an array of changes holds.
const changeChunk = 32

// takeChanges returns an empty slice with room for n changes. Every
// replica makes a change set for every commit it applies, and their
// objects share arrays of at least changeChunk changes: each slice is
// capped at its n, and the machine only ever writes the part of an
// array it has not handed out yet, so a change set once returned is
// never written again.
func (m *machine) takeChanges(n int) []Change {
	if cap(m.changes)-len(m.changes) < n {
		m.changes = make([]Change, 0, max(n, changeChunk))
	}
	l := len(m.changes)
	m.changes = m.changes[:l+n]
	return m.changes[l : l : l+n]
}

// prune forgets transaction IDs decided so long ago that any copy of their
// record would now be Stale: a record applied at i has a snapshot below i,
// so a copy applied after i+window is rejected before the lookup.
func (m *machine) prune() {
	n := 0
	for n < m.dec.len() {
		x := m.dec.at(n)
		if x.index+m.window >= m.index {
			break
		}
		delete(m.seen, x.txID)
		n++
	}
	if n > 0 {
		m.dec.dropFront(n)
	}
}

// decided returns the decision remembered for a transaction ID.
func (m *machine) decided(txid uuid.UUID) (Result, bool) {
	index, ok := m.seen[txid]
	if !ok {
		return Result{}, false
	}
	if i := m.dec.search(index); i < m.dec.len() && m.dec.at(i).txID == txid {
		return m.dec.result(i), true
	}
	// Decisions restored from a snapshot out of order: look them over.
	for i := range m.dec.len() {
		if m.dec.at(i).txID == txid {
			return m.dec.result(i), true
		}
	}
	panic(fmt.Sprintf("consistency: transaction %v decided at %d is missing from the deduplication memory", txid, index))
}
