package sim

import (
	"slices"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/objectsharing/oss/engine"
)

// A node's disk queue is its log writer, as oss's shared write-ahead
// log with a persist.Chain per replica: the writes its engines hand out
// (engine.Ready.Writes) wait in it, in the order handed out, and become
// durable one after the other, each after a seeded delay (a few
// milliseconds, tens on a slow disk), so that a replica has several in
// flight. Once durable, a write is in the replica's log and its engine
// hears of it (Written); a write the log refuses is answered with the
// error (DiskFailed), and the replica's writes queued after it are
// dropped: none may land after a refused one, the engine offers them all
// again. A power loss loses every write still queued.

// diskWrite is a log write in a node's disk queue.
type diskWrite struct {
	r   *replica
	w   engine.Write
	due time.Duration
}

// diskAnswer is the disk's answer to a write, which the replica's loop
// reports to its engine.
type diskAnswer struct {
	r   *replica
	seq uint64
	err error
}

// diskDelay draws how long a write takes once the disk gets to it.
func (s *sim) diskDelay(n *node) time.Duration {
	if n.slowDisk > s.now {
		s.paths["slow write"]++
		return time.Duration(20+s.rng.IntN(60)) * time.Millisecond
	}
	return time.Duration(500+s.rng.IntN(4500)) * time.Microsecond
}

// enqueue hands a Ready's writes to the node's disk queue, in order,
// without waiting. A write with nothing to keep, or only a commit index
// raft learns again after a restart, is written at once, as oss's loop
// does; one whose commit index covers a configuration change is kept.
func (s *sim) enqueue(n *node, r *replica, ws []engine.Write) {
	for _, w := range ws {
		if r.broken {
			// On the chain of a refused write, not yet reported: the
			// log drops it, and the engine offers it again.
			s.paths["write dropped after a refused one"]++
			continue
		}
		hs := w.HardState
		if raft.IsEmptySnap(w.Snapshot) && len(w.Entries) == 0 &&
			(raft.IsEmptyHardState(hs) || !raft.MustSync(hs, r.queued, 0) && !w.KeepsConf) {
			r.eng.Written(w.Seq)
			continue
		}
		if w.KeepsConf && !raft.MustSync(hs, r.queued, len(w.Entries)) {
			s.paths["commit index kept for a configuration change"]++
		}
		if !raft.IsEmptyHardState(hs) {
			r.queued = hs
		}
		if slices.ContainsFunc(n.queue, func(d diskWrite) bool { return d.r == r }) {
			s.paths["pipelined write"]++
		}
		due := s.net.Now() + s.diskDelay(n)
		if s.opts.Mutations.WritesReordered {
			// Each write on its own: durable when its delay ends.
			i := len(n.queue)
			for i > 0 && n.queue[i-1].due > due {
				i--
			}
			n.queue = slices.Insert(n.queue, i, diskWrite{r: r, w: w, due: due})
		} else {
			n.diskAt = max(n.diskAt, due)
			n.queue = append(n.queue, diskWrite{r: r, w: w, due: n.diskAt})
		}
		if s.writtenEarly(n, r) {
			r.eng.Written(w.Seq)
		}
	}
}

// writtenEarly reports whether a mutation has the replica's writes
// reported written as they are queued.
func (s *sim) writtenEarly(n *node, r *replica) bool {
	m := s.opts.Mutations
	return m.WrittenBeforeDurable || m.CatalogWrittenBeforeDurable && r == n.cat
}

// nextDurable returns the node whose disk makes a write durable first,
// and when; nil if no disk has a write queued.
func (s *sim) nextDurable() (*node, time.Duration) {
	var first *node
	for _, n := range s.nodes {
		if len(n.queue) > 0 && (first == nil || n.queue[0].due < first.queue[0].due) {
			first = n
		}
	}
	if first == nil {
		return nil, 0
	}
	return first, first.queue[0].due
}

// durable makes the first write in a node's disk queue durable and
// answers it: at once, unless the node's loop is starved.
func (s *sim) durable(n *node) {
	d := n.queue[0]
	n.queue = n.queue[1:]
	if a, ok := s.makeDurable(n, d); ok {
		n.answers = append(n.answers, a)
		if n.starved <= s.now {
			s.hearDisk(n)
		}
	}
}

// makeDurable writes a queued write to its replica's log and returns the
// answer for its engine; none if the replica is closed, or its engine
// heard of the write already (a mutation). A refused write drops the
// replica's writes queued after it.
func (s *sim) makeDurable(n *node, d diskWrite) (diskAnswer, bool) {
	r := d.r
	if n.reps[r.g.heap] != r {
		return diskAnswer{}, false // closed: its log with it
	}
	err := s.persist(n, r, d.w)
	if err != nil {
		n.queue = slices.DeleteFunc(n.queue, func(q diskWrite) bool { return q.r == r })
		r.queued, r.broken = r.written, true
	}
	if err == nil && s.writtenEarly(n, r) {
		return diskAnswer{}, false
	}
	return diskAnswer{r: r, seq: d.w.Seq, err: err}, true
}

// hearDisk reports the disk's answers to the node's engines, in order,
// then carries out what they made ready, as oss's loop does.
func (s *sim) hearDisk(n *node) {
	var heard []*replica
	for _, a := range n.answers {
		if n.reps[a.r.g.heap] == a.r {
			s.report(a)
			if !slices.Contains(heard, a.r) {
				heard = append(heard, a.r)
			}
		}
	}
	n.answers = nil
	for _, r := range heard {
		s.ready(n, r)
	}
}

// report reports one answer of the disk to the replica's engine. The
// engine offers the writes a refusal dropped again, on a new chain.
func (s *sim) report(a diskAnswer) {
	r := a.r
	if a.err != nil {
		if r.refused == 0 {
			r.refused = s.now
			s.paths["log refused"]++
		}
		r.broken = false
		r.eng.DiskFailed(a.err)
		return
	}
	r.refused = 0
	r.eng.Written(a.seq)
}

// writeFirst makes the replica's writes queued and then ws durable now,
// in order, for a Ready that installs a leader's snapshot; false if the
// log refused one (the engine then holds the Ready). The loop waits for
// them, so the disk's delays do not apply.
func (s *sim) writeFirst(n *node, r *replica, ws []engine.Write) bool {
	s.enqueue(n, r, ws)
	var mine []diskWrite
	n.queue = slices.DeleteFunc(n.queue, func(d diskWrite) bool {
		if d.r == r {
			mine = append(mine, d)
			return true
		}
		return false
	})
	for _, d := range mine {
		a, ok := s.makeDurable(n, d)
		if !ok {
			continue
		}
		s.report(a)
		if a.err != nil {
			return false
		}
	}
	return true
}

// settle makes a bootstrapped replica's first write, its configuration,
// durable before the replica goes on, as oss does with a first voter's:
// a power loss right after must not leave its directory with an empty
// log, which a restart opens as a replica of no group.
func (s *sim) settle(n *node, r *replica) error {
	rd := r.eng.Ready()
	if rd.Err != nil {
		return rd.Err
	}
	for _, w := range rd.Writes {
		if err := s.persist(n, r, w); err != nil {
			return err
		}
		if !raft.IsEmptyHardState(w.HardState) {
			r.queued = w.HardState
		}
		r.eng.Written(w.Seq)
	}
	r.eng.Advance()
	return nil
}
