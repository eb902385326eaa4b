// Package sim runs a whole replicated heap in deterministic simulation:
// replicas (consistency and raft) driven by the heap's runtime (engine),
// their write-ahead logs and checkpoints on crashable in-memory disks, the
// in-memory network with virtual time, clients running list-append
// transactions through the engine's proposal and read paths, a
// reconciler that removes replicas and lets them rejoin, and a nemesis
// that partitions the network, loses, duplicates and delays messages,
// cuts the power of nodes, fails and slows their disks and starves their
// loops — all driven from one seeded generator on one goroutine, so that a
// seed replays bit for bit. The histories are checked with internal/check
// and every decision and State against a serial model.
//
// Crypto randomness (raft's election timeouts) must be made deterministic
// by the caller (testing/cryptotest.SetGlobalRandom) for runs to replay.
package sim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/check"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport/transporttest"
)

// Options shape a run.
type Options struct {
	Nodes    int           // replicas; 3 if zero
	Clients  int           // concurrent clients; 4 if zero
	Keys     int           // lists; 4 if zero
	Duration time.Duration // virtual time under faults; 5s if zero
	Faults   bool          // run the nemesis
	// RemoveDuringPartition cuts one replica off a second into the run,
	// removes it from the group while it is cut off, and heals the
	// network a second later: it must rejoin.
	RemoveDuringPartition bool
	// BreakValidation commits transactions without checking their reads
	// (consistency.Config.SkipReadValidation): the checker must object.
	BreakValidation bool
	// AckBeforeSync has the logs acknowledge appends before they are
	// synced (Batch durability with a long interval): power losses must
	// then lose acknowledged commits, and the checks must see it.
	AckBeforeSync bool
	// Mutations break one thing of the runtime on purpose.
	Mutations Mutations
}

// Mutations break one thing each, to show that the checks see it.
type Mutations struct {
	// AbandonedLeftQueued tells a client that gives up on a proposal
	// still queued at its node that it failed, and leaves it in the
	// queue: the loop hands it to the engine, and it may commit.
	AbandonedLeftQueued bool
	// AbandonedFailed tells a client whose proposal the engine had handed
	// to raft when it gave up that it failed: it may commit afterwards.
	AbandonedFailed bool
	// AbandonedCommitted tells such a client that it committed.
	AbandonedCommitted bool
	// SkipRejoin never lets a removed replica rejoin.
	SkipRejoin bool
	// ConfSnapshotStale serves snapshots with the configuration of the
	// last checkpoint after a change: a replica added since refuses them.
	ConfSnapshotStale bool
	// RestartEmpty restarts nodes from an empty disk.
	RestartEmpty bool
	// AckBeforeWrite sends all of a Ready's messages as its log write
	// starts, acknowledgements and votes too, not only its Early ones.
	AckBeforeWrite bool
	// RemoveBelowQuorum lets the reconciler remove a voter even when the
	// voters left up would not be a quorum of the new configuration.
	RemoveBelowQuorum bool
}

// Result is what a run did and found.
type Result struct {
	Seed      uint64
	Trace     uint64 // a hash of every delivery, the history and the final states
	Txns      int
	Committed int
	Anomalies []check.Anomaly
	Lost      int            // acknowledged appends missing at the end
	Faults    map[string]int // injected, by kind
	// Paths counts the runtime paths the run took, by name ("resend",
	// "unknown outcome", ...): what a range of seeds covered.
	Paths map[string]int
	Index uint64 // the replicas' final applied index
}

func (r *Result) String() string {
	return fmt.Sprintf("seed %d: %d transactions (%d committed), index %d, faults: %s; paths: %s; anomalies %d, acknowledged appends lost %d, trace %016x",
		r.Seed, r.Txns, r.Committed, r.Index, Counts(r.Faults), Counts(r.Paths), len(r.Anomalies), r.Lost, r.Trace)
}

// Counts renders counts by name, sorted by name.
func Counts(m map[string]int) string {
	var kinds []string
	for k, n := range m {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	return strings.Join(kinds, ", ")
}

const (
	tick         = 10 * time.Millisecond
	walDir       = "/data/wal"
	ckptPath     = "/data/checkpoint"
	dedupWindow  = 4096
	compactEvery = 100 // applied entries between checkpoints
	keepEntries  = 20
	resendTicks  = engine.DefaultResendTicks
	// maxDeliveries bounds the messages delivered in one tick.
	maxDeliveries = 100000
)

type node struct {
	id    uint64 // the raft ID of its current replica
	name  string
	up    bool
	mem   *persist.MemFS
	disk  *persist.FaultFS
	wal   *persist.WAL
	store *raft.MemoryStorage
	r     *consistency.Replica
	eng   *engine.Engine
	state *consistency.State // the last State its replica published
	ep    *transporttest.Endpoint
	back  time.Duration // when a node that is down comes back

	queue    []engine.Proposal // proposals its loop has not taken yet
	starved  time.Duration
	missed   int      // ticks it missed while starved
	inbox    [][]byte // messages that arrived while starved
	slowDisk time.Duration
	diskDone time.Duration     // when the slow write in flight completes
	refused  time.Duration     // since when the log refuses writes, 0 if it takes them
	durable  uint64            // the highest log index its log made durable
	copies   map[uuid.UUID]int // copies of each record this replica applied
	// snapsSent are the peers sent a snapshot, reported to raft as
	// delivered on the next tick (a transfer takes time).
	snapsSent []uint64
}

type pending struct {
	node     *node
	txn      check.Txn
	deadline time.Duration
	queued   bool   // not taken by the node's loop yet
	asked    uint64 // a read: the node's tick when it asked
}

type rejoin struct {
	victim *node
	old    uint64          // its raft ID when removed
	up     map[uint64]bool // the voters up when the removal was decided
	phase  int
	retry  time.Duration
}

const (
	removing = iota
	removed
	joining
)

type sim struct {
	opts    Options
	seed    uint64
	rng     *rand.Rand
	net     *transporttest.Network
	nodes   []*node
	names   map[uint64]*node // by raft ID, current and former
	nextID  uint64
	now     time.Duration
	history []check.Txn
	model   *model
	waiting map[uuid.UUID]*pending
	reads   map[uint64]*pending
	readID  uint64
	busy    map[int]bool // clients with a transaction in flight
	next    []int        // the next value to append, per key
	txn     uint64
	faults  map[string]int
	paths   map[string]int // runtime paths taken, by name
	copies  map[uuid.UUID]int
	healAt  time.Duration // when the current network fault ends
	rejoin  *rejoin
	// planWait is when the reconciler plans again after a step;
	// lastTransfer the tick leadership last moved for placement.
	planWait     time.Duration
	lastTransfer uint64
	bad          []check.Anomaly // found by the runtime's own invariants
	err          error

	// skipReads breaks read validation in every replica
	// (Options.BreakValidation).
	skipReads atomic.Bool
}

// Run runs one simulation. A replica that panics (raft does when a log it
// relied on was lost) ends the run with an error.
func Run(seed uint64, opts Options) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("sim: seed %d: a replica panicked: %v", seed, p)
		}
	}()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Clients == 0 {
		opts.Clients = 4
	}
	if opts.Keys == 0 {
		opts.Keys = 4
	}
	if opts.Duration == 0 {
		opts.Duration = 5 * time.Second
	}
	s := &sim{opts: opts, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x73696d)), net: transporttest.NewNetwork(seed),
		names: map[uint64]*node{}, model: newModel(), waiting: map[uuid.UUID]*pending{}, reads: map[uint64]*pending{}, busy: map[int]bool{},
		next: make([]int, opts.Keys), faults: map[string]int{}, paths: map[string]int{}, copies: map[uuid.UUID]int{}}
	s.skipReads.Store(opts.BreakValidation)
	defer s.close()
	var peers []raft.Peer
	for i := range opts.Nodes {
		peers = append(peers, raft.Peer{ID: uint64(i + 1)})
	}
	s.nextID = uint64(opts.Nodes)
	for i := range opts.Nodes {
		n := &node{id: uint64(i + 1), name: fmt.Sprintf("n%d", i+1), mem: persist.NewMemFS()}
		n.ep = s.net.Endpoint(n.name, handler{s, n})
		s.nodes = append(s.nodes, n)
		s.names[n.id] = n
		if err := s.boot(n, peers); err != nil {
			return nil, err
		}
	}
	end := opts.Duration
	for s.now < end && s.err == nil {
		s.step(opts.Faults)
	}
	// The faults end; every node comes back; the cluster settles.
	s.net.Heal()
	s.net.SetFaults(transporttest.Faults{})
	for _, n := range s.nodes {
		n.disk.SetRule(nil)
		n.starved, n.slowDisk = 0, 0
		if !n.up {
			s.restart(n)
		}
	}
	quiet := s.now + 3*time.Second
	for s.now < quiet && s.err == nil {
		s.step(false)
	}
	if s.err != nil {
		return nil, s.err
	}
	return s.finish()
}

// boot starts a node on its disk: from its checkpoint and log if it has
// them, else bootstrapped with the group's first configuration (peers),
// or empty, to be caught up by the leader (peers nil).
func (s *sim) boot(n *node, peers []raft.Peer) error {
	n.disk = &persist.FaultFS{FS: n.mem}
	n.store = raft.NewMemoryStorage()
	n.copies = map[uuid.UUID]int{}
	n.queue, n.inbox, n.missed, n.refused, n.diskDone, n.snapsSent = nil, nil, 0, 0, 0, nil
	var snap raftpb.Snapshot
	if b, err := readFile(n.disk, ckptPath); err == nil {
		if err := snap.Unmarshal(b); err != nil {
			return fmt.Errorf("sim: %s: checkpoint: %w", n.name, err)
		}
		if err := n.store.ApplySnapshot(snap); err != nil {
			return err
		}
	}
	var hs raftpb.HardState
	empty := raft.IsEmptySnap(snap)
	// Small segments: the log rotates in every run, and an in-memory
	// disk's sync, which copies the file, stays cheap.
	wopts := persist.WALOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SegmentBytes: 32 << 10}
	if s.opts.AckBeforeSync {
		wopts.SyncInterval = time.Hour
	}
	wal, err := persist.OpenWAL(n.disk, walDir, wopts, func(_ uint64, rec []byte) error {
		var m raftpb.Message
		if err := m.Unmarshal(rec); err != nil {
			return err
		}
		empty = false
		if m.Term != 0 || m.Commit != 0 {
			hs = raftpb.HardState{Term: m.Term, Vote: m.Index, Commit: m.Commit}
		}
		return n.store.Append(m.Entries)
	})
	if err != nil {
		return fmt.Errorf("sim: %s: %w", n.name, err)
	}
	booted := false
	defer func() {
		if !booted {
			wal.Close()
		}
	}()
	if at := snap.Metadata.Index; hs.Commit < at {
		hs.Commit = at
	}
	if t := snap.Metadata.Term; hs.Term < t {
		hs.Term, hs.Vote = t, 0
	}
	if err := n.store.SetHardState(hs); err != nil {
		return err
	}
	if last, _ := n.store.LastIndex(); n.durable > 0 && last == 0 {
		// What the log made durable must come back: a replica that
		// restarts empty under its old raft ID could vote twice or
		// lose commits.
		return fmt.Errorf("sim: %s restarted with an empty replica (its log had made index %d durable)", n.name, n.durable)
	}
	n.wal = wal
	n.r, err = consistency.NewReplica(&consistency.Config{ID: n.id, Storage: n.store, DedupWindow: dedupWindow,
		Applied: snap.Metadata.Index, State: snap.Data, SkipReadValidation: &s.skipReads})
	if err != nil {
		return err
	}
	if empty && peers != nil {
		if err := n.r.Bootstrap(peers); err != nil {
			return err
		}
	}
	n.eng, err = engine.New(engine.Config{Replica: n.r, Storage: n.store, Durable: true, Checkpoint: snap.Metadata.Index,
		CompactEvery: compactEvery, KeepEntries: keepEntries, ResendTicks: resendTicks})
	if err != nil {
		return err
	}
	n.state = n.r.State() // as recovered
	n.up, booted = true, true
	return nil
}

func readFile(fsys persist.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// writeFile replaces a file durably: written aside, synced, renamed.
func writeFile(fsys persist.FS, name string, data []byte) error {
	if err := fsys.MkdirAll("/data"); err != nil {
		return err
	}
	f, err := fsys.Create(name + ".tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(name+".tmp", name); err != nil {
		return err
	}
	return fsys.SyncDir("/data")
}

// handler delivers a node's messages, on the simulation's goroutine.
type handler struct {
	s *sim
	n *node
}

func (h handler) HandleMessage(_ string, msg []byte) {
	if !h.n.up {
		return
	}
	if h.n.starved > h.s.now {
		h.n.inbox = append(h.n.inbox, msg)
		return
	}
	h.s.deliver(h.n, msg)
	h.s.ready(h.n)
}

func (s *sim) deliver(n *node, msg []byte) {
	var m raftpb.Message
	if err := m.Unmarshal(msg); err != nil {
		s.fail(fmt.Errorf("sim: %s: a message that does not decode: %w", n.name, err))
		return
	}
	if m.To != n.id {
		return // for the replica this node had before it rejoined
	}
	n.eng.Step(m)
}

func (h handler) HandleCall(context.Context, string, []byte) ([]byte, error) {
	return nil, errors.New("sim: no calls")
}

func (h handler) HandleStream(context.Context, string, []byte, io.Reader) error {
	return errors.New("sim: no streams")
}

func (s *sim) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// step delivers the messages due before the next tick, then ticks: node
// loops run (a starved one gets its missed ticks late), clients, the
// reconciler and the nemesis act.
func (s *sim) step(faults bool) {
	next := s.now + tick
	for k := 0; s.err == nil; k++ {
		at, ok := s.net.Next()
		if !ok || at > next {
			break
		}
		if k == maxDeliveries {
			// Raft on a log that lost what it acknowledged can trade
			// messages without end (a run that lost it is caught).
			s.fail(fmt.Errorf("sim: seed %d: more than %d deliveries in one tick", s.seed, maxDeliveries))
			break
		}
		s.net.Step()
	}
	s.now = next
	s.net.AdvanceTo(s.now)
	for _, n := range s.nodes {
		if !n.up && s.now >= n.back {
			s.restart(n)
		}
		if !n.up || s.err != nil {
			continue
		}
		if n.starved > s.now {
			n.missed++
			continue
		}
		if n.refused != 0 && s.now-n.refused > 300*time.Millisecond {
			// A log that keeps refusing: the operator restarts the node
			// (a failed sync leaves persist's log failed until then).
			s.crash(n, 0)
			continue
		}
		for _, msg := range n.inbox {
			s.deliver(n, msg)
		}
		n.inbox = nil
		for _, to := range n.snapsSent {
			n.eng.ReportSnapshot(to, false)
			s.paths["snapshot sent"]++
		}
		n.snapsSent = nil
		for range 1 + n.missed {
			n.eng.Tick()
		}
		n.missed = 0
		s.take(n)
		s.ready(n)
	}
	for _, id := range s.waitingIDs() {
		if p := s.waiting[id]; s.now >= p.deadline {
			s.abandon(id)
		}
	}
	for _, id := range s.readIDs() {
		if s.now >= s.reads[id].deadline {
			delete(s.reads, id) // the client stopped waiting; the answer is ignored
			s.paths["read given up"]++
		}
	}
	if s.healAt != 0 && s.now >= s.healAt {
		s.net.Heal()
		s.net.SetFaults(transporttest.Faults{})
		s.healAt = 0
	}
	s.reconcile()
	s.script()
	if faults {
		s.nemesis()
	}
	for c := range s.opts.Clients {
		if !s.busy[c] && s.rng.IntN(3) == 0 {
			s.client(c)
		}
	}
}

// take hands the proposals queued at a node to its engine, as the heap's
// loop takes a batch.
func (s *sim) take(n *node) {
	if len(n.queue) == 0 {
		return
	}
	for _, q := range n.queue {
		if p, ok := s.waiting[q.TxID]; ok {
			p.queued = false
		}
	}
	n.eng.Propose(n.queue)
	n.queue = nil
}

// abandon is a client giving up on its transaction at its deadline.
func (s *sim) abandon(id uuid.UUID) {
	p := s.waiting[id]
	n := p.node
	if p.queued {
		// Never given to the engine: it cannot commit, once out of
		// the queue.
		if !s.opts.Mutations.AbandonedLeftQueued {
			n.queue = slices.DeleteFunc(n.queue, func(q engine.Proposal) bool { return q.TxID == id })
		}
		s.paths["abandon while queued"]++
		s.resolve(id, check.Fail)
		return
	}
	s.paths["abandon"]++
	proposed := n.eng.Abandon(id)
	switch {
	case s.opts.Mutations.AbandonedCommitted:
		s.resolve(id, check.OK)
	case !proposed:
		s.resolve(id, check.Fail)
	case s.opts.Mutations.AbandonedFailed:
		s.resolve(id, check.Fail)
	default:
		s.resolve(id, check.Info)
	}
}

// ready carries out what a node's engine has ready, in the order the
// engine's package asks: send what may go early, hand out the outcomes
// (after the write if the Ready installs a snapshot), persist, send the
// rest, note the configuration, checkpoint.
func (s *sim) ready(n *node) {
	for n.up && n.starved <= s.now && n.eng.HasReady() && s.err == nil {
		if n.diskDone > s.now {
			return // a slow write is in flight
		}
		rd := n.eng.Ready()
		if rd.Err != nil {
			s.fail(fmt.Errorf("sim: %s: %w", n.name, rd.Err))
			return
		}
		// A slow write sends its early messages and hands out its
		// outcomes as it begins, as the heap's loop does: a power loss
		// during the write finds them out. The engine takes steps,
		// ticks and proposals meanwhile, and the Ready asked for again
		// when the write ends hands out what they added.
		begin := n.diskDone == 0
		first := rd.OutcomesFirst()
		var snapTo []uint64
		if rd.HasRaft && begin {
			early := rd.Early
			if s.opts.Mutations.AckBeforeWrite && !rd.Retry {
				early = append(slices.Clip(early), rd.Messages...)
			}
			if !s.send(n, early, &snapTo) {
				return
			}
			write := !raft.IsEmptyHardState(rd.HardState) || len(rd.Entries) > 0 || !raft.IsEmptySnap(rd.Snapshot)
			if write && n.slowDisk > s.now {
				n.diskDone = s.now + time.Duration(20+s.rng.IntN(60))*time.Millisecond
				s.paths["slow write"]++
				if first {
					s.outcomes(n, rd)
				}
				return
			}
		}
		if first {
			if !begin {
				rd.Results = nil // decided as the write began
			}
			s.outcomes(n, rd)
		}
		if rd.HasRaft {
			n.diskDone = 0
			if err := s.persist(n, rd.Ready.Ready); err != nil {
				if n.refused == 0 {
					n.refused = s.now
					s.paths["log refused"]++
				}
				n.eng.DiskFailed(err)
				continue
			}
			n.refused = 0
			if s.opts.Mutations.AckBeforeWrite && !rd.Retry {
				rd.Messages = nil // sent with the early ones
			}
			if !s.send(n, rd.Messages, &snapTo) {
				return
			}
			if !raft.IsEmptySnap(rd.Snapshot) {
				s.paths["snapshot installed"]++
			}
		}
		if !first {
			s.outcomes(n, rd)
		}
		if rd.Checkpoint != 0 {
			s.checkpoint(n, rd.Checkpoint)
		}
		n.eng.Advance()
		if rd.Conf != nil && !s.opts.Mutations.ConfSnapshotStale {
			// Snapshots carry the configuration they are sent under: a
			// replica added since the last checkpoint refuses one that
			// does not name it. The applied state, with the new
			// configuration, is served from now on.
			if data, err := snapshotData(n.r); err == nil {
				if _, err := n.store.CreateSnapshot(rd.State.Index(), rd.Conf, data); err == nil {
					s.paths["snapshot after configuration change"]++
				}
			}
		}
		n.snapsSent = append(n.snapsSent, snapTo...)
	}
}

// outcomes publishes a Ready's state, then hands out its decisions,
// completions and read answers.
func (s *sim) outcomes(n *node, rd engine.Ready) {
	if rd.HasRaft {
		for _, res := range rd.Results {
			s.decided(n, res)
		}
		if rd.State != n.state {
			n.state = rd.State
			s.model.state(n.name, rd.State, s.opts.Keys)
		}
	}
	completions := slices.Clone(rd.Completions)
	slices.SortFunc(completions, func(a, b engine.Completion) int { return bytes.Compare(a.TxID[:], b.TxID[:]) })
	for _, c := range completions {
		s.complete(n, c)
	}
	reads := slices.Clone(rd.Reads)
	slices.SortFunc(reads, func(a, b engine.ReadDone) int { return cmpUint(a.ID, b.ID) })
	for _, rd2 := range reads {
		s.answer(n, rd2, rd.State)
	}
}

// send sends a node's raft messages, noting in snapTo the peers sent a
// snapshot. It reports false if a message does not encode (the run
// fails).
func (s *sim) send(n *node, msgs []raftpb.Message, snapTo *[]uint64) bool {
	for _, m := range msgs {
		b, err := m.Marshal()
		if err != nil {
			s.fail(err)
			return false
		}
		if to, ok := s.names[m.To]; ok {
			n.ep.Send(context.Background(), to.name, b)
		}
		if m.Type == raftpb.MsgSnap {
			*snapTo = append(*snapTo, m.To)
		}
	}
	return true
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// persist makes a Ready's snapshot, hard state and entries durable.
func (s *sim) persist(n *node, rd raft.Ready) error {
	if !raft.IsEmptySnap(rd.Snapshot) {
		b, err := rd.Snapshot.Marshal()
		if err != nil {
			return err
		}
		if err := writeFile(n.disk, ckptPath, b); err != nil {
			return err
		}
	}
	if raft.IsEmptyHardState(rd.HardState) && len(rd.Entries) == 0 {
		return nil
	}
	hs := rd.HardState
	if raft.IsEmptyHardState(hs) {
		hs, _, _ = n.store.InitialState()
	}
	rec, err := (&raftpb.Message{Term: hs.Term, Index: hs.Vote, Commit: hs.Commit, Entries: rd.Entries}).Marshal()
	if err != nil {
		return err
	}
	if _, err := n.wal.Append(rec); err != nil {
		return err
	}
	if k := len(rd.Entries); k > 0 && !s.opts.AckBeforeSync {
		n.durable = max(n.durable, rd.Entries[k-1].Index)
	}
	return nil
}

// checkpoint takes the checkpoint a node's engine asks for: its state at
// index, durable on its disk and served to followers behind the log.
func (s *sim) checkpoint(n *node, index uint64) {
	data, err := snapshotData(n.r)
	if err != nil {
		s.fail(err)
		return
	}
	cs := n.r.ConfState()
	snap, err := n.store.CreateSnapshot(index, &cs, data)
	if errors.Is(err, raft.ErrSnapOutOfDate) {
		snap, err = n.store.Snapshot()
	}
	if err != nil {
		s.fail(fmt.Errorf("sim: %s: checkpoint at %d: %w", n.name, index, err))
		return
	}
	b, err := snap.Marshal()
	if err == nil {
		err = writeFile(n.disk, ckptPath, b)
	}
	if err != nil {
		return // the disk fails: asked again later
	}
	n.eng.Checkpointed(index)
	s.paths["checkpoint"]++
	if len(s.waiting) > 0 {
		s.paths["checkpoint under load"]++
	}
}

// decided holds a decision against the model and counts the copies of
// records that reached the log more than once (resent).
func (s *sim) decided(n *node, res consistency.Result) {
	s.model.decide(n.name, res)
	n.copies[res.TxID]++
	c := n.copies[res.TxID]
	if c <= s.copies[res.TxID] {
		return // another replica applied this copy first
	}
	s.copies[res.TxID] = c
	switch {
	case c > 1:
		s.paths["resend"]++
	case res.Outcome == consistency.Conflicted:
		s.paths["conflict"]++
	}
}

// complete hands a client the outcome of its proposal.
func (s *sim) complete(n *node, c engine.Completion) {
	p, ok := s.waiting[c.TxID]
	if !ok || p.node != n {
		return
	}
	if c.Err != nil {
		switch c.Err.Reason {
		case engine.NoLeaderFor, engine.NoLeaderInReach:
			s.paths["leaderless"]++
		case engine.ResentStale:
			s.paths["resent stale"]++
		}
		if c.Err.Unknown {
			s.resolve(c.TxID, check.Info)
		} else {
			s.resolve(c.TxID, check.Fail)
		}
		return
	}
	switch c.Result.Outcome {
	case consistency.Committed:
		s.resolve(c.TxID, check.OK)
	case consistency.Stale:
		s.resolve(c.TxID, check.Info) // an earlier copy may have committed
	default:
		s.resolve(c.TxID, check.Fail)
	}
}

// answer completes a fresh read-only transaction at the state its read
// index covers.
func (s *sim) answer(n *node, d engine.ReadDone, st *consistency.State) {
	p, ok := s.reads[d.ID]
	if !ok || p.node != n {
		return
	}
	delete(s.reads, d.ID)
	s.busy[p.txn.Process] = false
	if d.Err != nil {
		s.paths["read failed"]++
		return // a read that got no answer has no effect to check
	}
	if n.eng.Ticks()-p.asked >= resendTicks/2 {
		s.paths["read retry"]++
	}
	s.model.state(n.name+"'s fresh read", st, s.opts.Keys)
	for i, m := range p.txn.Mops {
		o, _ := st.Get(listID(m.Key))
		p.txn.Mops[i].List = decodeList(o.Value)
	}
	p.txn.Status, p.txn.End, p.txn.ID = check.OK, int64(s.now), len(s.history)
	s.history = append(s.history, p.txn)
}

// crash cuts a node's power: what its disk had not synced is lost. It
// comes back after down (now, if zero: on the next tick after a delay the
// nemesis did not choose).
func (s *sim) crash(n *node, down time.Duration) {
	if n.diskDone > s.now {
		s.paths["power loss during a slow write"]++
	}
	disk := n.mem.Crash(s.rng)
	n.wal.Close()
	n.up, n.mem = false, disk
	if down == 0 {
		down = time.Duration(50+s.rng.IntN(300)) * time.Millisecond
	}
	n.back = s.now + down
	for _, id := range s.waitingIDs() {
		if p := s.waiting[id]; p.node == n {
			if p.queued {
				s.resolve(id, check.Fail) // never reached the engine
			} else {
				s.resolve(id, check.Info)
			}
		}
	}
	for _, id := range s.readIDs() {
		if p := s.reads[id]; p.node == n {
			delete(s.reads, id)
			s.busy[p.txn.Process] = false
		}
	}
	n.queue = nil
}

func (s *sim) restart(n *node) {
	if s.opts.Mutations.RestartEmpty {
		n.mem = persist.NewMemFS()
	}
	if err := s.boot(n, nil); err != nil {
		s.fail(err)
	}
}

func (s *sim) close() {
	for _, n := range s.nodes {
		if n.up {
			n.wal.Close()
		}
	}
}

// leader returns the node whose replica leads, nil if none is up and sure.
func (s *sim) leader() *node {
	for _, n := range s.nodes {
		if n.up && n.starved <= s.now && n.r.Status().RaftState == raft.StateLeader {
			return n
		}
	}
	return nil
}

// reconcile is the leader's replica management. A removal is the
// simulation's (an operator's, or an eviction): the leader removes the
// victim's replica; once the victim reaches the leader again it finds it
// is out, wipes its replica and asks to join under a new raft ID. The
// rest is engine.Plan's, as in oss: the join as a learner, its promotion
// once caught up, leadership moved to the best-placed voter.
func (s *sim) reconcile() {
	l := s.leader()
	if l == nil {
		return
	}
	cs := l.r.ConfState()
	if rj := s.rejoin; rj != nil {
		v := rj.victim
		switch rj.phase {
		case removing:
			if slices.Contains(cs.Voters, rj.old) || slices.Contains(cs.Learners, rj.old) {
				if s.now >= rj.retry {
					rj.retry = s.now + 300*time.Millisecond
					s.changeConf(l, "remove", raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: rj.old})
				}
				return
			}
			rj.phase = removed
			s.checkQuorum(rj, cs)
		case removed:
			if s.opts.Mutations.SkipRejoin || !v.up || v.starved > s.now || !s.net.Reachable(v.name, l.name) {
				break
			}
			s.wipe(v)
			rj.phase = joining
		case joining:
			if slices.Contains(cs.Voters, v.id) {
				s.paths["removal+rejoin"]++
				s.rejoin = nil
			}
		}
	}
	if s.now < s.planWait {
		return
	}
	st := l.r.FullStatus()
	match := make(map[uint64]uint64, len(st.Progress))
	for id, pr := range st.Progress {
		match[id] = pr.Match
	}
	in := engine.PlanInput{Heap: "sim", Self: l.id, Replicas: s.opts.Nodes, Leader: true, Transferring: st.LeadTransferee != 0,
		Conf: cs, Commit: st.Commit, Match: match, Tick: uint64(s.now / tick), LastTransfer: s.lastTransfer,
		Now: time.Unix(0, 0).Add(s.now), ReplaceAfter: time.Hour}
	for _, n := range s.nodes {
		rj := s.rejoin
		if !n.up || rj != nil && rj.victim == n && rj.phase != joining {
			continue // a removed replica is not a server until it rejoins
		}
		in.Live = append(in.Live, engine.Member{ID: n.id, Name: n.name, Server: true})
		if rj != nil && rj.victim == n && !slices.Contains(cs.Learners, n.id) && !slices.Contains(cs.Voters, n.id) {
			in.Joins = append(in.Joins, n.id)
		}
	}
	a := engine.Plan(in)
	switch a.Kind {
	case engine.ChangeConf:
		s.changeConf(l, a.Why.String(), a.Changes...)
	case engine.TransferLeader:
		l.r.TransferLeader(a.To)
		s.lastTransfer = uint64(s.now / tick)
		s.paths["reconcile: "+a.Why.String()]++
		s.planWait = s.now + 300*time.Millisecond
	}
}

// changeConf has the leader propose a configuration change.
func (s *sim) changeConf(l *node, why string, changes ...raftpb.ConfChangeSingle) {
	s.paths["reconcile: "+why]++
	s.planWait = s.now + 300*time.Millisecond
	l.r.ProposeConfChange(raftpb.ConfChangeV2{Changes: changes})
	s.ready(l)
}

// checkQuorum holds an applied removal against the voters up when it was
// decided: crashes since are not the reconciler's doing.
func (s *sim) checkQuorum(rj *rejoin, cs raftpb.ConfState) {
	up := 0
	for _, id := range cs.Voters {
		if rj.up[id] {
			up++
		}
	}
	if up < len(cs.Voters)/2+1 {
		s.bad = append(s.bad, check.Anomaly{Kind: "removal-below-quorum",
			Explain: fmt.Sprintf("removing %d left voters %v, %d of them up when it was decided", rj.old, cs.Voters, up)})
	}
}

// wipe empties a removed node's disk and starts it as a new, empty
// replica under a new raft ID, to be caught up by the leader.
func (s *sim) wipe(v *node) {
	v.wal.Close()
	v.mem, v.durable = persist.NewMemFS(), 0
	s.nextID++
	v.id = s.nextID
	s.names[v.id] = v
	for _, id := range s.waitingIDs() {
		if s.waiting[id].node == v {
			s.resolve(id, check.Info)
		}
	}
	for _, id := range s.readIDs() {
		if p := s.reads[id]; p.node == v {
			delete(s.reads, id)
			s.busy[p.txn.Process] = false
		}
	}
	if err := s.boot(v, nil); err != nil {
		s.fail(err)
	}
}

// startRemoval has the reconciler remove a voter other than the leader,
// when the voters left up would still be a quorum.
func (s *sim) startRemoval(v *node) bool {
	l := s.leader()
	if s.rejoin != nil || l == nil || v == l || !v.up {
		return false
	}
	cs := l.r.ConfState()
	if !slices.Contains(cs.Voters, v.id) || len(cs.VotersOutgoing) > 0 {
		return false
	}
	up, upAt := 0, map[uint64]bool{}
	for _, id := range cs.Voters {
		if n := s.names[id]; id != v.id && n.id == id && n.up {
			up++
			upAt[id] = true
		}
	}
	if !s.opts.Mutations.RemoveBelowQuorum && (up < (len(cs.Voters)-1)/2+1 || len(cs.Voters) < 3) {
		return false
	}
	s.rejoin = &rejoin{victim: v, old: v.id, up: upAt}
	s.reconcile()
	return true
}

func listID(k int) uuid.UUID { return uuid.UUID{0: 'l', 15: byte(k)} }

func encodeList(l []int) []byte {
	var b []byte
	for _, v := range l {
		b = binary.AppendUvarint(b, uint64(v))
	}
	return b
}

func decodeList(b []byte) []int {
	var l []int
	for len(b) > 0 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return append(l, -1) // shows as a garbage read
		}
		l = append(l, int(v))
		b = b[n:]
	}
	return l
}

// client starts a transaction on a node that is up: read-only at its local
// snapshot or at a fresh read index, or appends (each reading its list
// first) queued at the node as a commit record.
func (s *sim) client(c int) {
	var up []*node
	for _, n := range s.nodes {
		if n.up {
			up = append(up, n)
		}
	}
	if len(up) == 0 {
		return
	}
	n := up[s.rng.IntN(len(up))]
	st := n.state // as published: what the replica applied may not be durable yet
	s.model.state(n.name+"'s view", st, s.opts.Keys)
	readOnly := s.rng.IntN(4) == 0
	fresh := readOnly && s.rng.IntN(2) == 0 && n.starved <= s.now
	s.txn++
	txid := uuid.UUID{0: 't', 8: byte(s.txn >> 24), 9: byte(s.txn >> 16), 10: byte(s.txn >> 8), 11: byte(s.txn)}
	rec := &consistency.Record{TxID: txid, Snapshot: st.Index(), Scanned: s.rng.IntN(8) == 0}
	lists := map[int][]int{}
	read := map[int]bool{}
	var mops []check.Mop
	for range 1 + s.rng.IntN(4) {
		k := s.rng.IntN(s.opts.Keys)
		l, seen := lists[k]
		if !seen {
			o, _ := st.Get(listID(k))
			l = decodeList(o.Value)
			if !read[k] {
				rec.Reads = append(rec.Reads, consistency.Read{ID: listID(k), Version: o.Version})
				read[k] = true
			}
		}
		if readOnly || s.rng.IntN(2) == 0 {
			mops = append(mops, check.Mop{Kind: check.Read, Key: k, List: slices.Clone(l)})
			lists[k] = l
			continue
		}
		s.next[k]++
		l = append(slices.Clone(l), s.next[k])
		lists[k] = l
		mops = append(mops, check.Mop{Kind: check.Append, Key: k, Value: s.next[k]})
	}
	txn := check.Txn{ID: len(s.history), Process: c, Mops: mops, Start: int64(s.now), End: int64(s.now)}
	deadline := s.now + time.Duration(300+s.rng.IntN(1700))*time.Millisecond
	switch {
	case fresh:
		// Linearizable: what it reads is filled in when the read index
		// is applied.
		txn.Realtime = true
		s.readID++
		s.reads[s.readID] = &pending{node: n, txn: txn, deadline: deadline, asked: n.eng.Ticks()}
		s.busy[c] = true
		n.eng.Read(s.readID)
		s.ready(n)
		return
	case readOnly:
		txn.Status = check.OK
		s.history = append(s.history, txn)
		return
	}
	keys := make([]int, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rec.Writes = append(rec.Writes, consistency.Write{ID: listID(k), Value: encodeList(lists[k])})
	}
	data, err := rec.Marshal()
	if err != nil {
		s.fail(err)
		return
	}
	txn.Realtime = true
	s.model.records[txid] = rec
	s.busy[c] = true
	s.waiting[txid] = &pending{node: n, txn: txn, deadline: deadline, queued: true}
	n.queue = append(n.queue, engine.Proposal{TxID: txid, Data: data})
}

func appendsOf(mops []check.Mop) []check.Mop {
	var out []check.Mop
	for _, m := range mops {
		if m.Kind == check.Append {
			out = append(out, m)
		}
	}
	return out
}

// waitingIDs returns the transactions awaiting an outcome, in a fixed
// order: map order would make runs differ.
func (s *sim) waitingIDs() []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(s.waiting))
	for id := range s.waiting {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(string(a[:]), string(b[:])) })
	return ids
}

// readIDs returns the fresh reads awaiting an answer, in order.
func (s *sim) readIDs() []uint64 {
	ids := make([]uint64, 0, len(s.reads))
	for id := range s.reads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// resolve records a transaction's outcome as its client learnt it.
func (s *sim) resolve(id uuid.UUID, st check.Status) {
	p := s.waiting[id]
	delete(s.waiting, id)
	s.busy[p.txn.Process] = false
	p.txn.Status, p.txn.End = st, int64(s.now)
	if st == check.Info {
		s.paths["unknown outcome"]++
	}
	if st != check.OK {
		p.txn.Mops = appendsOf(p.txn.Mops)
	}
	p.txn.ID = len(s.history)
	s.history = append(s.history, p.txn)
}

// script runs the scenario Options ask for.
func (s *sim) script() {
	if !s.opts.RemoveDuringPartition {
		return
	}
	v := s.nodes[len(s.nodes)-1]
	switch {
	case s.now == time.Second:
		var rest []string
		for _, n := range s.nodes[:len(s.nodes)-1] {
			rest = append(rest, n.name)
		}
		s.net.Partition([]string{v.name}, rest)
		s.healAt = 2500 * time.Millisecond
		s.faults["partition"]++
	case s.now > time.Second && s.now < s.healAt && s.rejoin == nil && s.faults["removal"] == 0:
		if s.startRemoval(v) {
			s.faults["removal"]++
		}
	}
}

// nemesis injects a fault now and then: one network fault at a time
// (partitions, some long, bridges, loss, duplication, delay, reordering),
// power cuts, failing or slow disks and starved loops of single nodes,
// and removals of replicas, which rejoin.
func (s *sim) nemesis() {
	if s.rng.IntN(20) != 0 {
		return
	}
	names := make([]string, len(s.nodes))
	for i, n := range s.nodes {
		names[i] = n.name
	}
	s.rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	hold := time.Duration(100+s.rng.IntN(900)) * time.Millisecond
	switch s.rng.IntN(10) {
	case 0:
		if s.healAt == 0 && len(names) >= 2 {
			k := 1 + s.rng.IntN(len(names)-1)
			s.net.Partition(names[:k], names[k:])
			s.faults["partition"]++
			s.healAt = s.now + hold
		}
	case 1:
		if s.healAt == 0 && len(names) >= 3 {
			// names[0] bridges two sides that cannot reach each other.
			k := 1 + s.rng.IntN(len(names)-2)
			var cuts [][2]string
			for _, a := range names[1 : 1+k] {
				for _, b := range names[1+k:] {
					cuts = append(cuts, [2]string{a, b})
				}
			}
			s.net.Cut(cuts...)
			s.faults["bridge"]++
			s.healAt = s.now + hold
		}
	case 2:
		if s.healAt == 0 {
			s.net.SetFaults(transporttest.Faults{Drop: 0.2, Duplicate: 0.2, MaxDelay: 30 * time.Millisecond, Reorder: true})
			s.faults["drop+duplicate+delay+reorder"]++
			s.healAt = s.now + hold
		}
	case 3, 4:
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		if n.up {
			s.crash(n, hold)
			s.faults["power loss"]++
		}
	case 5:
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		if n.up {
			errno := syscall.ENOSPC
			if s.rng.IntN(2) == 0 {
				errno = syscall.EIO
			}
			n.disk.SetRule(func(op persist.Op, _ string) error {
				if op == persist.OpWrite || op == persist.OpSync {
					return errno
				}
				return nil
			})
			s.faults["disk "+errno.Error()]++
		}
	case 6:
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		if n.up && n.starved <= s.now {
			n.starved = s.now + hold
			s.faults["starved loop"]++
		}
	case 7:
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		if n.up {
			n.slowDisk = s.now + hold
			s.faults["slow disk"]++
		}
	case 8:
		if s.healAt == 0 {
			// Longer than the leaderless limit and clients' deadlines.
			s.net.Partition(names[:1], names[1:])
			s.faults["long partition"]++
			s.healAt = s.now + time.Duration(1500+s.rng.IntN(1500))*time.Millisecond
		}
	case 9:
		if s.startRemoval(s.nodes[s.rng.IntN(len(s.nodes))]) {
			s.faults["removal"]++
		}
	}
}

// finish waits for the replicas to agree, reads every list at the final
// state, checks the history and sums up the run.
func (s *sim) finish() (*Result, error) {
	for range 1000 {
		if s.converged() {
			break
		}
		s.step(false)
	}
	if s.err != nil {
		return nil, s.err
	}
	var missing []check.Anomaly
	if !s.converged() {
		l := s.leader()
		var b strings.Builder
		for _, n := range s.nodes {
			st := n.r.State()
			fmt.Fprintf(&b, " %s(%d)@%d %x", n.name, n.id, st.Index(), st.Digest())
			if l != nil && !slices.Contains(l.r.ConfState().Voters, n.id) {
				missing = append(missing, check.Anomaly{Kind: "missing-replica",
					Explain: fmt.Sprintf("%s (raft ID %d) is not a voter of the final configuration %v", n.name, n.id, l.r.ConfState().Voters)})
			}
		}
		if len(missing) == 0 || !s.membersEqual(l) {
			return nil, fmt.Errorf("sim: seed %d: the replicas did not converge:%s", s.seed, b.String())
		}
	}
	for _, id := range s.waitingIDs() {
		s.resolve(id, check.Info)
	}
	st := s.leader().r.State()
	final := check.Txn{ID: len(s.history), Process: -1, Status: check.OK, Realtime: true, Start: int64(s.now), End: int64(s.now)}
	for k := range s.opts.Keys {
		o, _ := st.Get(listID(k))
		final.Mops = append(final.Mops, check.Mop{Kind: check.Read, Key: k, List: decodeList(o.Value)})
	}
	s.history = append(s.history, final)
	res := check.CheckListAppend(s.history)
	out := &Result{Seed: s.seed, Txns: res.Txns, Committed: res.OK, Anomalies: slices.Concat(res.Anomalies, s.model.bad, s.bad, missing), Faults: s.faults, Paths: s.paths, Index: st.Index()}
	in := map[[2]int]bool{}
	for _, m := range final.Mops {
		for _, v := range m.List {
			in[[2]int{m.Key, v}] = true
		}
	}
	for _, t := range s.history {
		for _, m := range t.Mops {
			if t.Status == check.OK && m.Kind == check.Append && !in[[2]int{m.Key, m.Value}] {
				out.Lost++
			}
		}
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|", s.net.Trace())
	for _, t := range s.history {
		fmt.Fprintf(h, "%d %d %d %d %v|", t.Process, t.Status, t.Start, t.End, t.Mops)
	}
	d := st.Digest()
	h.Write(d[:])
	h.Write([]byte(strconv.FormatUint(st.Index(), 10)))
	out.Trace = h.Sum64()
	return out, nil
}

// converged reports whether every node is up, a voter, and at the same
// state as the leader.
func (s *sim) converged() bool {
	l := s.leader()
	if l == nil {
		return false
	}
	for _, n := range s.nodes {
		if !n.up || !slices.Contains(l.r.ConfState().Voters, n.id) {
			return false
		}
	}
	return s.membersEqual(l)
}

// membersEqual reports whether the replicas of the leader's configuration
// are up and at its state.
func (s *sim) membersEqual(l *node) bool {
	want := l.r.State()
	for _, id := range l.r.ConfState().Voters {
		n := s.names[id]
		if n.id != id || !n.up {
			return false
		}
		if st := n.r.State(); st.Index() != want.Index() || st.Digest() != want.Digest() {
			return false
		}
	}
	return true
}

// snapshotData encodes a replica's state at its applied index whole, as a
// raft snapshot carries it.
func snapshotData(r *consistency.Replica) ([]byte, error) {
	_, write, err := r.SnapshotStream()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
