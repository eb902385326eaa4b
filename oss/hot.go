package oss

import (
	"cmp"
	"context"
	"encoding/binary"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
)

// Per-object contention. Every replica of a heap decides every commit
// record of its group, so each one sees every conflict, whichever node's
// transaction lost it. The heap's loop notes the object (or root, or
// scan) that made each conflicted record lose in a bounded table of the
// hottest keys, a space-saving sketch over exponentially decayed counts:
// a key's count halves every HotHalfLife, a key not in the table takes the
// place of the coldest one, inheriting its count (so a count may overstate
// by at most the inherited part, which HotObject.Overcount says), and the
// keys that make most conflicts lately stay in it. Noting a conflict costs
// a map lookup and, for a new key, a scan of the table; commits that do
// not conflict cost nothing.

// hotK is how many keys a heap's contention table keeps.
const hotK = 32

// HotHalfLife is the time over which a hot key's count of conflicts
// halves: what "lately" means in HotObject.Lately and ConflictError.Hot.
const HotHalfLife = time.Minute

// HotObject is an object, a named root or the heap's set of objects (for
// transactions that scanned it) that made transactions conflict lately, as
// Heap.Hot reports it. Exactly one of ID, Root and Scan is set.
type HotObject struct {
	// ID is the object, or uuid.Nil.
	ID uuid.UUID `json:",omitzero"`
	// Root is the named root, or "".
	Root string `json:",omitempty"`
	// Scan is set for scans invalidated by creations or deletions.
	Scan bool `json:",omitempty"`
	// Lately is the number of conflicts on the key, each weighed by its
	// age (halved every HotHalfLife): about the conflicts of the last
	// minute or two. Hot sorts by it.
	Lately float64
	// Overcount bounds how much of Lately the key inherited, decayed
	// alike, from the key it displaced in the table: its true count is
	// at least Lately − Overcount.
	Overcount float64 `json:",omitempty"`
	// Conflicts counts the conflicts on the key since it entered the
	// table, undecayed.
	Conflicts uint64
	// Since is when the key entered the table.
	Since time.Time
	// Last is when this replica decided the last conflict on the key.
	Last time.Time
	// LastTx is the transaction that lost that conflict.
	LastTx uuid.UUID
	// LastNode is the node that ran it, "" if this node does not know
	// it.
	LastNode string `json:",omitempty"`
	// LastOp is the name of its operation (see WithOperation), "" if it
	// ran on another node or had none.
	LastOp string `json:",omitempty"`
}

// Name says what the hot key is: an object ID, "root NAME", or "scan".
// NAME is the root's name as it shows printed: one that holds a rune a
// terminal acts on or does not show (an escape sequence, U+202E), or
// starts with a quote, is written as a shell word, $'...' with such
// bytes escaped \xHH.
func (o HotObject) Name() string {
	switch {
	case o.Root != "":
		return "root " + nameSaid(o.Root) // shellword.go
	case o.Scan:
		return "scan"
	}
	return o.ID.String()
}

// hotKey is one key of the table: an object, a root or the scans.
type hotKey struct {
	id   uuid.UUID
	root string
	scan bool
}

// hotEntry is a key's row. Its score is its count decayed forward: every
// conflict adds exp((t − landmark)/τ), so that scores compare as decayed
// counts do without being decayed one by one; decayed to now, a score is
// score·exp(−(now − landmark)/τ).
type hotEntry struct {
	key       hotKey
	score     float64
	over      float64 // the part inherited on entry, forward-decayed too
	conflicts uint64
	since     time.Time
	last      time.Time
	lastTx    uuid.UUID
	lastNode  uint32 // the low 32 bits of the loser's raft ID, from its TxID
	lastOp    string
}

// hotTable is a heap's contention table.
type hotTable struct {
	mu       sync.Mutex
	landmark time.Time
	rows     []hotEntry
	index    map[hotKey]int // into rows
}

// hotTau is the decay's time constant: HotHalfLife/ln 2, in seconds.
var hotTau = HotHalfLife.Seconds() / math.Ln2

// hotRescale is the exponent past which scores are rescaled to a new
// landmark, far below float64's range.
const hotRescale = 200

func (t *hotTable) weight(now time.Time) float64 {
	x := now.Sub(t.landmark).Seconds() / hotTau
	if x > hotRescale || t.landmark.IsZero() {
		if t.landmark.IsZero() {
			t.landmark = now
		} else {
			f := math.Exp(-x)
			for i := range t.rows {
				t.rows[i].score *= f
				t.rows[i].over *= f
			}
			t.landmark = now
		}
		x = 0
	}
	return math.Exp(x)
}

// note counts one conflict on k, lost by transaction tx, at now, and
// returns the key's decayed count after it.
func (t *hotTable) note(k hotKey, now time.Time, tx uuid.UUID, op string) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.add(k, now, t.weight(now), tx, op)
}

// add counts one conflict on k at now, whose weight is w. Called with t.mu
// held.
func (t *hotTable) add(k hotKey, now time.Time, w float64, tx uuid.UUID, op string) float64 {
	if t.index == nil {
		t.index = make(map[hotKey]int, hotK)
	}
	i, ok := t.index[k]
	switch {
	case ok:
	case len(t.rows) < hotK:
		i = len(t.rows)
		t.rows = append(t.rows, hotEntry{key: k, since: now})
		t.index[k] = i
	default:
		i = 0
		for j := range t.rows {
			if t.rows[j].score < t.rows[i].score {
				i = j
			}
		}
		e := &t.rows[i]
		delete(t.index, e.key)
		*e = hotEntry{key: k, score: e.score, over: e.score, since: now}
		t.index[k] = i
	}
	e := &t.rows[i]
	e.score += w
	e.conflicts++
	e.last, e.lastTx, e.lastNode, e.lastOp = now, tx, txNodeTag(tx), op
	return e.score / w
}

// lately returns k's decayed count at now, 0 if k is not in the table.
func (t *hotTable) lately(k hotKey, now time.Time) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.index[k]
	if !ok {
		return 0
	}
	return t.rows[i].score / t.weight(now)
}

// snapshot returns the table's rows decayed to now, hottest first.
func (t *hotTable) snapshot(now time.Time, name func(tag uint32) string) []HotObject {
	t.mu.Lock()
	if len(t.rows) == 0 {
		t.mu.Unlock()
		return nil
	}
	w := t.weight(now)
	rows := slices.Clone(t.rows)
	t.mu.Unlock()
	out := make([]HotObject, len(rows))
	for i, e := range rows {
		out[i] = HotObject{ID: e.key.id, Root: e.key.root, Scan: e.key.scan,
			Lately: e.score / w, Overcount: e.over / w, Conflicts: e.conflicts,
			Since: e.since, Last: e.last, LastTx: e.lastTx, LastOp: e.lastOp}
		if name != nil {
			out[i].LastNode = name(e.lastNode)
		}
	}
	slices.SortStableFunc(out, func(a, b HotObject) int {
		return cmp.Or(cmp.Compare(b.Lately, a.Lately), b.Last.Compare(a.Last))
	})
	return out
}

// noteConflicts notes, on the loop, the conflicts a Ready decided: one
// clock read, one lock and one exponential for them all. A duplicate is
// the first copy's outcome, noted then.
func (h *Heap) noteConflicts(results []consistency.Result) {
	var now time.Time
	var w float64
	for i := range results {
		res := &results[i]
		if res.Outcome != consistency.Conflicted || res.Duplicate {
			continue
		}
		if now.IsZero() {
			now = time.Now()
			h.hot.mu.Lock()
			defer h.hot.mu.Unlock()
			w = h.hot.weight(now)
		}
		var op string
		if p, ok := h.pending[res.TxID]; ok && p.ctx != nil {
			op = operationOf(p.ctx)
		}
		h.hot.add(hotKey{id: res.ConflictID, root: res.ConflictRoot, scan: res.ConflictScan}, now, w, res.TxID, op)
	}
}

// Hot returns the objects, roots and scans that made this heap's
// transactions conflict lately, hottest first: at most 32 of them, with
// how often and when each last did, and which transaction lost. They are
// the conflicts of the whole group (every replica decides every commit),
// as this node's replica decided them since it opened; an empty list if
// there were none.
func (h *Heap) Hot() []HotObject {
	return h.hot.snapshot(time.Now(), h.node.nodeOfTag)
}

// hotness returns how hot the key a conflict names has been lately, as
// ConflictError.Hot says.
func (h *Heap) hotness(e *ConflictError) uint64 {
	return uint64(math.Round(h.hot.lately(hotKey{id: e.ID, root: e.Root, scan: e.Scan}, time.Now())))
}

// Transaction IDs are version 7 UUIDs whose last four bytes are the low 32
// bits of the proposing node's raft ID instead of random bits: a replica
// that decides a conflict can then name the node whose transaction lost,
// with nothing added to the commit record. What stays unique is unchanged
// within a process (the UUID's time and sequence never repeat there) and
// across nodes (their raft IDs are random), with 30 random bits besides.

// newTxID returns a transaction ID carrying the node's tag.
func newTxID(node uint64) (uuid.UUID, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return id, err
	}
	binary.BigEndian.PutUint32(id[12:], uint32(node))
	return id, nil
}

// txNodeTag returns the node tag of a transaction ID.
func txNodeTag(tx uuid.UUID) uint32 { return binary.BigEndian.Uint32(tx[12:]) }

// nodeOfTag names the node whose raft ID's low 32 bits are tag, "" if
// none this node knows has them.
func (n *Node) nodeOfTag(tag uint32) string {
	if uint32(n.id) == tag {
		return n.cfg.Name
	}
	for id, name := range n.committed().ids {
		if uint32(id) == tag {
			return name
		}
	}
	n.namesMu.Lock()
	defer n.namesMu.Unlock()
	for id, name := range n.names {
		if uint32(id) == tag {
			return name
		}
	}
	return ""
}

type operationKey struct{}

// WithOperation returns a context that names the operation of the
// transactions run with it (Update, Begin): a transaction of this node
// that loses a conflict is shown under that name in Heap.Hot, so that a
// hot object points at the code that fights over it. Naming costs nothing
// unless the transaction conflicts.
func WithOperation(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, operationKey{}, name)
}

// operationOf returns the operation ctx names, "" if none.
func operationOf(ctx context.Context) string {
	s, _ := ctx.Value(operationKey{}).(string)
	return s
}
