package sim

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/testkit/check"
)

// model is the serial execution the replicas of one group must agree
// with: the commit records decided in log order, applied one by one to a
// plain map. Every
// replica's decisions are held against it (the same outcome and index for
// a record on every replica and after every restart, committed exactly
// when its reads were current and a scan saw no creation since its
// snapshot), and so is every State a replica publishes or a client reads
// from (the model's values and versions at that State's index).
type model struct {
	records map[uuid.UUID]*consistency.Record // every record proposed
	decided map[uuid.UUID]consistency.Result  // the first copy's decision
	byIndex map[uint64]consistency.Result     // the decision at each index
	objects map[uuid.UUID][]version           // each object's versions, oldest first
	shapes  []uint64                          // indexes that created an object
	last    uint64                            // the highest index decided
	bad     []check.Anomaly
}

type version struct {
	index uint64
	value []byte
	gone  bool // deleted at index
}

func newModel() *model {
	return &model{records: map[uuid.UUID]*consistency.Record{}, decided: map[uuid.UUID]consistency.Result{}, byIndex: map[uint64]consistency.Result{}, objects: map[uuid.UUID][]version{}}
}

func (m *model) report(kind, format string, args ...any) {
	if len(m.bad) < 20 {
		m.bad = append(m.bad, check.Anomaly{Kind: kind, Explain: fmt.Sprintf(format, args...)})
	}
}

// at returns an object's version as of index (zero: absent).
func (m *model) at(id uuid.UUID, index uint64) version {
	vs := m.objects[id]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].index <= index {
			if vs[i].gone {
				return version{}
			}
			return vs[i]
		}
	}
	return version{}
}

// decide holds one replica's decision against the model, extending the
// model when it is the first decision at a new index; it reports whether
// the decision was that and committed the record.
func (m *model) decide(node string, res consistency.Result) bool {
	if res.Duplicate {
		if first, ok := m.decided[res.TxID]; !ok || first.Index != res.Index || first.Outcome != res.Outcome {
			m.report("replica-divergence", "%s reports %v a copy of the one decided %v at %d; the first copy was decided %v at %d", node, res.TxID, res.Outcome, res.Index, first.Outcome, first.Index)
		}
		return false
	}
	if prev, ok := m.byIndex[res.Index]; ok {
		if prev.TxID != res.TxID || prev.Outcome != res.Outcome {
			m.report("replica-divergence", "%s decided %v %v at %d; another replica decided %v %v there", node, res.TxID, res.Outcome, res.Index, prev.TxID, prev.Outcome)
		}
		return false
	}
	rec := m.records[res.TxID]
	switch _, again := m.decided[res.TxID]; {
	case rec == nil:
		m.report("unknown-record", "%s decided %v, which no client proposed", node, res.TxID)
		return false
	case res.Index <= m.last:
		m.report("log-order", "%s decided %v at %d, after index %d was decided", node, res.TxID, res.Index, m.last)
		return false
	case again && res.Outcome != consistency.Stale:
		m.report("applied-twice", "%s decided %v %v at %d; a copy was decided before", node, res.TxID, res.Outcome, res.Index)
		return false
	}
	m.byIndex[res.Index] = res
	m.last = res.Index
	if _, again := m.decided[res.TxID]; again {
		return false
	}
	m.decided[res.TxID] = res
	current := true
	for _, r := range rec.Reads {
		if m.at(r.ID, res.Index).index != r.Version {
			current = false
		}
	}
	if rec.Scanned && len(m.shapes) > 0 && m.shapes[len(m.shapes)-1] > rec.Snapshot {
		current = false
	}
	switch {
	case res.Outcome == consistency.Stale:
	case current && res.Outcome != consistency.Committed, !current && res.Outcome != consistency.Conflicted:
		m.report("wrong-decision", "%s decided %v %v at %d; the serial order says current=%v", node, res.TxID, res.Outcome, res.Index, current)
	case res.Outcome == consistency.Committed:
		for _, w := range rec.Writes {
			if exists := m.at(w.ID, res.Index).index != 0; exists == w.Delete {
				m.shapes = append(m.shapes, res.Index) // created or deleted
			}
			m.objects[w.ID] = append(m.objects[w.ID], version{res.Index, w.Value, w.Delete})
		}
		return true
	}
	return false
}

// state holds a State against the model at its index: every object the
// model has there, with the same value and version, and no other.
func (m *model) state(what string, st *consistency.State) {
	present := 0
	for _, id := range slices.SortedFunc(maps.Keys(m.objects), func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }) {
		want := m.at(id, st.Index())
		if want.index != 0 {
			present++
		}
		got, _ := st.Get(id)
		if got.Version != want.index || !bytes.Equal(got.Value, want.value) {
			m.report("wrong-state", "%s at index %d: object %v is %s@%d, the serial order has %s@%d", what, st.Index(), id, show(id, got.Value), got.Version, show(id, want.value), want.index)
			return
		}
	}
	if st.Len() != present {
		m.report("wrong-state", "%s at index %d holds %d objects, the serial order %d", what, st.Index(), st.Len(), present)
	}
}

// show renders an object's value: a list as its values, else its bytes.
func show(id uuid.UUID, v []byte) string {
	if id[0] == 'l' {
		return fmt.Sprint(decodeList(v))
	}
	return fmt.Sprintf("%x", v)
}

// outcomeAnomalies holds what every client was told of its commit, the
// heaps' and the catalog's, against the decisions of its group at the end
// of the run: a commit told committed was decided committed; one told
// failed was never decided committed, by any replica, then or later.
// Unknown outcomes may go either way. It counts the outcomes in told.
func (s *sim) outcomeAnomalies(told map[string]int) []check.Anomaly {
	var bad []check.Anomaly
	for _, t := range s.told {
		res, ok := t.g.model.decided[t.id]
		committed := ok && res.Outcome == consistency.Committed
		switch t.st {
		case check.OK:
			told["committed"]++
			if !committed {
				bad = append(bad, check.Anomaly{Kind: "told-committed-not-committed",
					Explain: fmt.Sprintf("heap %s (group %x): %v was told committed; decided: %v", t.g.heap, t.g.id, t.id, decision(res, ok))})
			}
		case check.Fail:
			told["failed"]++
			if committed {
				bad = append(bad, check.Anomaly{Kind: "told-failed-committed",
					Explain: fmt.Sprintf("heap %s (group %x): %v was told failed; decided: %v", t.g.heap, t.g.id, t.id, decision(res, ok))})
			}
		default:
			told["unknown"]++
			if committed {
				told["unknown, committed"]++
			}
		}
	}
	return bad
}

func decision(res consistency.Result, ok bool) string {
	if !ok {
		return "never"
	}
	return fmt.Sprintf("%v at %d", res.Outcome, res.Index)
}
