package oss

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/persist"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Heap is a node's handle on one heap: a replicated set of objects changed
// in serializable transactions and read from local snapshots. A Heap is safe
// for concurrent use.
type Heap struct {
	name string
	node *Node
	cfg  *Config
	log  *slog.Logger

	state atomic.Pointer[consistency.State] // the latest applied state

	// skipReads is the replica's consistency.Config.SkipReadValidation:
	// only the harness sets it, to prove its checker catches unvalidated
	// commits.
	skipReads atomic.Bool

	propc    chan *proposal
	abandonc chan abandon // proposals whose caller stopped waiting
	// diskWait is set while the loop waits for its disk (a leader's
	// snapshot stored, a checkpoint as the heap closes): a stalled disk
	// may keep it from answering an abandon for as long as it stalls.
	diskWait atomic.Bool
	readc    chan *readRequest
	stop     chan struct{} // closed by close to stop the loop
	done     chan struct{} // closed when the loop has exited

	watchMu  sync.Mutex // protects following fields
	watchers map[*Watch]struct{}
	history  []consistency.ChangeSet // recent change sets, oldest first
	histBase []consistency.ChangeSet // history's array from its start (len 0)
	histSize int                     // their size, as changeSetBytes counts it
	histFrom uint64                  // every change set after this index is in history
	closed   bool

	stats         heapStats
	hot           hotTable      // the keys that made transactions conflict lately
	gates         gates         // this node's transactions on hot keys, in turn (fair.go)
	obs           heapObservers // the heap's histograms (metrics.go)
	snapStats     snapStats     // snapshot transfers (metrics.go)
	leaderChanges atomic.Uint64 // changes of leader the replica saw
	leader        atomic.Uint64 // raft ID of the leader as this replica knows it

	waitMu    sync.Mutex // protects following fields
	waiters   map[*waiter]struct{}
	waitIDs   map[uuid.UUID]map[*waiter]struct{} // waiters by object read
	waitRoots map[string]map[*waiter]struct{}    // waiters by root read
	waitScans map[*waiter]struct{}               // waiters that scanned

	// recvc holds raft messages from peers. Pointers: a channel of
	// 4096 messages by value took 650 KiB of every replica from its
	// start, idle or not, most of an idle heap's memory.
	recvc    chan *raftpb.Message
	recvq    inbox            // recvc's bytes and drops
	joinc    chan uint64      // nodes asking to join as learners
	declinec chan declineNote // learners asking to be removed, having no use for their replicas, or withdrawing it
	// used is set once an application asked to open the heap on this
	// node (Node.Heap and the like), before it joins the group: its
	// replica is then not the node's to give up (unused.go).
	used      atomic.Bool
	declining decliningState   // this node's own requests to be removed (unused.go)
	snapc     chan snapOutcome // outcomes of snapshots streamed to peers
	self      uint64
	group     uint64      // the group's incarnation
	cataloged bool        // opened through the catalog, closed when dropped
	dropped   atomic.Bool // closed because the heap was dropped (syncCatalog)
	catalogAt uint64      // the catalog's applied index when it was opened
	// entryAt is the catalog index at which closedAsStale last found the
	// catalog's entry of the name to be this replica's: found once for
	// each state of the catalog, not decoded at each open.
	entryAt atomic.Uint64
	inConf  atomic.Bool // this node is a member of the group

	// replicas is the group's replication factor, the voters it keeps:
	// its catalog entry's, as the node's catalog replica last gave it
	// (syncCatalog), or its own records' for one recovered from disk
	// until then (factorKnown unset). Set by syncCatalog, read anywhere.
	replicas    atomic.Int32
	factorKnown atomic.Bool
	// factorAt is the catalog index of the sync that last gave the
	// factor (0: none since the open): a sync of an older state, run
	// concurrently, does not give its older factor back. Under n.mu.
	factorAt uint64

	// addedAt is, for each member, the index of the change that made it
	// one, if this replica applied it (rejoin.go); owned by the loop.
	addedAt        map[uint64]uint64
	isVoter        atomic.Bool   // this node is a voter of the group
	confVersion    atomic.Uint64 // counts configuration changes seen
	conf           atomic.Pointer[raftpb.ConfState]
	snapshots      atomic.Uint64 // snapshots from a leader applied
	storeSnapshots atomic.Uint64 // snapshots for peers streamed from the store
	// encodeFault, set by tests, fails the encoding of a log write with
	// its error, as a record that does not marshal would.
	encodeFault atomic.Pointer[func(engine.Write) error]
	// heldHook, set by tests, is called by the loop once it has held a
	// batch of proposals (taken from propc while the log writes, not yet
	// handed to raft: see held), before it does anything else: a test
	// holds the loop there to abandon a held proposal at a known point.
	heldHook atomic.Pointer[func()]
	// wroteHook, set by tests, is called by the loop with a Ready's
	// writes once it has handed them to the log, before it goes on: a
	// test holds a follower's loop there while its log writes.
	wroteHook atomic.Pointer[func([]engine.Write)]
	catchUp   atomic.Bool   // recovered, or opened by the node: the first open waits for a read index
	firstSeq  atomic.Uint64 // the first log record of this replica still needed
	ckptSeq   atomic.Uint64 // the first log record its last checkpoint needs
	// unpin, if not 0, asks the loop to let go of the log's records
	// before it (unpinLog); the compactor sets it, once for each bound
	// (unpinAsked).
	unpin      atomic.Uint64
	unpinAsked atomic.Uint64
	term       atomic.Uint64 // the replica's raft term
	leads      leadHistory   // when this replica became leader
	contact    leaderContact // what the replica last heard from a leader
	// The engine's election clock (engine.ElectionSlowdown), as of the
	// last tick.
	slowdown, slowdowns atomic.Uint64

	// Owned by the loop goroutine.
	eng     *engine.Engine // decides; the loop carries out (loop.go)
	replica *consistency.Replica
	storage *snapStorage
	pending map[uuid.UUID]*proposal // proposals the engine has, by transaction
	props   []engine.Proposal       // the batch being handed to the engine
	// held are proposals taken while the log wrote, in arrival order:
	// they go to raft together when it next answers (or once maxBatch
	// wait, or at the next tick), as one append to each follower rather
	// than one each, as the loop gathered them when it waited for its
	// log. Abandoned, one is dropped, never proposed.
	held         []*proposal
	sent         sentAppends             // the last append sent to each peer (appends.go)
	bound        sendBound               // the bound of the loop's batch of sends (send)
	reads        map[uint64]*readRequest // reads the engine has, by ID
	readSeq      uint64                  // the last read's number, from a random start (newHeap)
	joinReqs     map[uint64]bool
	declines     map[uint64]uint64 // learners that asked to be removed as unused, with the tick heard (unused.go)
	confWait     uint64            // tick until which a proposed change is awaited
	confRetry    bool              // raft could not take the last change planned: plan again at the next tick
	lastTransfer uint64
	lost         error            // why the replica stopped, if it did
	logStopped   bool             // the node's log has stopped: the engine refuses (noteLogStopped)
	lastHard     raftpb.HardState // the last hard state handed to the log
	hardDone     raftpb.HardState // the last hard state durable in the log
	// The log's writes in flight (durable.go): answered in wdone,
	// signalled on wwake; those of an epoch before the last refusal are
	// stale, and chain fails every write after a refused one.
	inflight  int
	epoch     uint64
	chain     *persist.Chain
	rewriting bool // the refused writes are being made again
	// stuck is why the log last refused a write of this replica, nil
	// once it takes one again (diskStuck, logged): a wait for the
	// replica to apply says so (stuckOnDisk).
	stuck    atomic.Pointer[error]
	wmu      sync.Mutex
	wdone    []writeDone // guarded by wmu
	wfree    []writeDone
	wwake    chan struct{}
	dirty    map[uuid.UUID]dirtyObj // objects changed since the last checkpoint, as they are now
	needFull bool                   // the next checkpoint writes every object
	storeGen uint64                 // generation of the replica's objects in the store
	ckpt     checkpointer           // checkpoints off the loop (checkpoint.go)
}

// openMode says how a replica starts: as the sole voter of a new group
// (bootstrap), as one of a new group's first voters (spec), or empty, to
// be filled by the group's leader once this node is a member.
type openMode struct {
	bootstrap bool
	spec      *groupSpec
	replicas  int
	group     uint64          // the group's incarnation (heapEntry.Group)
	recovered *recoveredGroup // the replica's state from the write-ahead log
	// retired: opened empty after the node retired its replica of the
	// group (retire.go), given up until a leader adds it back or an
	// application's open uses it; no removal to count (noteRemoved).
	retired   bool
	retiredAt uint64 // the last index the retired replica held
}

type heapStats struct {
	commits   atomic.Uint64
	conflicts atomic.Uint64
	retries   atomic.Uint64
	checks    atomic.Uint64
	waits     atomic.Uint64
	wakes     atomic.Uint64 // waiters the loop woke
	unknown   atomic.Uint64 // commits whose outcome was not learned
	resyncs   atomic.Uint64 // EventResync handed to watch consumers
}

// Stats describe one heap as this node's replica sees it: its counters,
// how far it may trail its group, and the group.
type Stats struct {
	// Applied is the index of the last log entry applied locally.
	Applied uint64
	// Objects is the number of objects in the local replica.
	Objects int
	// Commits counts transactions of this node that committed.
	Commits uint64
	// Conflicts counts commit attempts of this node that conflicted.
	Conflicts uint64
	// Retries counts re-runs of Update functions after a conflict, after
	// an error they returned was found to rest on a stale read, or after
	// a refusal by a heap leader that had not yet applied a write grant.
	Retries uint64
	// Checks counts errors returned by Update functions that were
	// checked against the group's commit index (a read index: no log
	// entry, no disk write) because the function had read something.
	Checks uint64
	// Waits counts the times an Update function returned ErrRetry and
	// its transaction waited for something it read to change.
	Waits uint64
	// Unknown counts commits of this node whose outcome was not learned
	// (errors matching ErrCommitUnknown).
	Unknown uint64
	// Resyncs counts the EventResync events this node's watches handed
	// out: consumers that fell behind, or whose history was gone.
	Resyncs uint64

	// LeaderCommit is the group's commit index as the replica last heard
	// it from the group's leader (its own if it leads), 0 if it has heard
	// from none.
	LeaderCommit uint64
	// LeaderContact is when the replica last heard from the group's
	// leader, zero if never; if it leads, when Stats was called (a leader
	// that loses its quorum steps down within an election timeout).
	LeaderContact time.Time
	// Lag is how many entries the replica knows committed but has not
	// applied: LeaderCommit − Applied, or 0. A plain View may miss these,
	// and whatever the group committed since LeaderContact.
	Lag uint64
	// Rejoins counts the times the replica found that its group had
	// removed it (while it was cut off, or down) and asked to be taken
	// back.
	Rejoins uint64

	// Leader is the node that leads the group, "" if none is known.
	Leader string
	// LeaderInReach reports whether the replica leads, or has heard from
	// its leader within two election timeouts and not heard that it left
	// the cluster (a node that closed says so to the others: a commit
	// made then is not sent to it, and fails with ErrNoQuorum unless
	// another leader appears). A learner keeps the leader it last heard
	// of (it never campaigns), so Leader alone still names one that has
	// since died.
	LeaderInReach bool
	// Voters and Learners name the members of the group's configuration;
	// a member whose name this node does not know shows as its raft ID,
	// and a former incarnation of a node (the raft ID it ran under before
	// it lost its data and joined again under a new one) as NAME/RAFTID.
	Voters, Learners []string
	// Joint is true while the group moves between two sets of voters.
	Joint bool
	// Term is the replica's raft term.
	Term uint64
	// ElectionSlowdown is how many ticks make one of the replica's raft
	// clock: 1, or 2 or 4 while answers to its campaigns come late (its
	// elections, heartbeats and failure detection that many times
	// slower); ElectionSlowdowns counts its doublings.
	ElectionSlowdown, ElectionSlowdowns uint64
	// Incarnation identifies this incarnation of the heap: one dropped and
	// created again under its name is another, whose log indexes (Applied,
	// a watch's versions) start anew (WatchOptions.Incarnation).
	Incarnation uint64
	// Closed says that the replica is closed (its node closed, or the
	// heap was dropped): it knows no leader and no group (Leader, Voters
	// and Learners empty, LeaderInReach and Joint false); the rest is as
	// it left it, LeaderContact the last time it heard from a leader.
	Closed bool
}

// Stats returns the heap's counters, how far the local replica may trail
// its group, and the group as the replica sees it; of a closed replica,
// its counters and what it held, with Closed set.
func (h *Heap) Stats() Stats {
	st := h.state.Load()
	s := Stats{
		Applied:   st.Index(),
		Objects:   st.Len(),
		Commits:   h.stats.commits.Load(),
		Conflicts: h.stats.conflicts.Load(),
		Retries:   h.stats.retries.Load(),
		Checks:    h.stats.checks.Load(),
		Waits:     h.stats.waits.Load(),
		Unknown:   h.stats.unknown.Load(),
		Resyncs:   h.stats.resyncs.Load(),
		Rejoins:   h.contact.rejoins.Load(),

		Incarnation:       h.group,
		ElectionSlowdown:  max(h.slowdown.Load(), 1),
		ElectionSlowdowns: h.slowdowns.Load(),
	}
	s.LeaderCommit, s.LeaderContact = h.contact.last()
	if s.LeaderCommit > s.Applied {
		s.Lag = s.LeaderCommit - s.Applied
	}
	if h.isClosed() {
		// Out of its group: it knows no leader and no members.
		s.Closed, s.Term = true, h.term.Load()
		return s
	}
	s.LeaderInReach = h.contact.inReach.Load()
	if h.leaderIs(h.self) {
		s.LeaderContact = time.Now()
		s.LeaderInReach = true
	}
	h.fillGroup(&s)
	return s
}

// Name returns the heap's name.
func (h *Heap) Name() string { return h.name }

type proposal struct {
	txid uuid.UUID
	data []byte
	ctx  context.Context // the caller's: names its operation, if it lost a conflict
	// done, buffered, receives exactly one value, once result is set
	// (answer): a channel of an empty struct is one allocation, one of
	// results two, and a caller makes one for every commit.
	done   chan struct{}
	result proposalResult

	// handover is where the proposal stands between its caller and the
	// loop: queued in propc, taken by the loop, or abandoned by its
	// caller before the loop took it. Whichever of the two moves it out
	// of queued first decides: a proposal abandoned while queued is never
	// handed to raft, so its caller may report a definite failure.
	handover atomic.Uint32
}

// Values of proposal.handover.
const (
	queued uint32 = iota
	taken
	abandoned
)

// take moves a proposal from propc to the loop. It reports false for one
// whose caller abandoned it first: the loop drops it unproposed.
func (p *proposal) take() bool { return p.handover.CompareAndSwap(queued, taken) }

// answer gives the proposal's caller its result; the loop answers a
// proposal once.
func (p *proposal) answer(r proposalResult) {
	p.result = r
	p.done <- struct{}{}
}

// abandon tells the loop that a proposal it took has lost its caller; the
// loop answers whether it was ever handed to raft.
type abandon struct {
	txid     uuid.UUID
	proposed chan bool // buffered
}

type proposalResult struct {
	res consistency.Result
	err error
}

type readRequest struct {
	id   uint64
	done chan error // buffered
}

const maxBatch = engine.DefaultMaxBatch

func newHeap(n *Node, name string, o openMode) (*Heap, error) {
	h := &Heap{
		name:  name,
		node:  n,
		cfg:   n.cfg,
		log:   n.log.With("heap", name),
		propc: make(chan *proposal, maxBatch),
		// An asker waits for the loop's answer (askAbandon), and one
		// that finds no room waits as one queued would: room for 1024
		// took 32 KiB of every replica, idle or not.
		abandonc: make(chan abandon, 64),
		readc:    make(chan *readRequest, 64),
		recvc:    make(chan *raftpb.Message, 4096),
		wwake:    make(chan struct{}, 1),
		chain:    new(persist.Chain),
		joinc:    make(chan uint64, 64),
		declinec: make(chan declineNote, 16),
		declines: make(map[uint64]uint64),
		snapc:    make(chan snapOutcome, 16),
		joinReqs: make(map[uint64]bool),
		group:    o.group,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		watchers: make(map[*Watch]struct{}),
		storage:  newSnapStorage(),
		pending:  make(map[uuid.UUID]*proposal),
		reads:    make(map[uint64]*readRequest),
		sent:     sentAppends{},
		self:     n.id,
		gates:    gates{self: uint32(n.id)},
		obs:      n.met.observers(name),
	}
	// The engine's read-index context is the raft ID and the read's
	// number, and raft's leader answers a request with the context it
	// came with: numbered from 1 in each incarnation (a restart, a close
	// and open again), a read was answered by a late answer to the
	// previous incarnation's read of that number, with a read index from
	// before it began (or the leader, holding that one, dropped the new
	// as a copy and answered the old).
	h.replicas.Store(int32(max(o.replicas, 1)))
	// A replica recovered from disk has its own records' factor, which
	// may have changed since: the catalog's gives it (syncCatalog). The
	// catalog's own is fixed.
	h.factorKnown.Store(o.recovered == nil || name == catalogName)
	h.readSeq = rand.Uint64() >> 1
	if n.disk != nil {
		h.dirty = map[uuid.UUID]dirtyObj{}
	}
	from, err := h.restore(o)
	if err != nil {
		return nil, err
	}
	r, err := h.newReplica(from)
	if err != nil {
		return nil, err
	}
	// The change sets up to the restored state are not kept: a watch
	// resuming from before it resyncs.
	h.histFrom = from.applied
	if err := h.stand(o); err != nil {
		return nil, err
	}
	h.noteConf(r.ConfState(), false)
	if o.recovered != nil && appliedOwnRemoval(r.ConfState(), h.self) {
		h.contact.dropped.Store(true) // given up if no application opens it (unused.go)
	}
	if o.retired {
		// Set before the loop runs: its return is no rejoin, nor is
		// the retired replica's removal, which it may apply again from
		// a leader's snapshot taken before (loop.go).
		h.contact.told.Store(true)
		h.contact.dropped.Store(true)
		h.contact.retiredAt = o.retiredAt
	}
	h.state.Store(r.State())
	h.startCheckpointer(o.recovered)
	go h.run()
	return h, nil
}

// restorePoint is where a new replica starts: the index its state was
// restored at, the state, and the last checkpoint's index.
type restorePoint struct {
	applied, ckpt uint64
	state         []byte
	objects       []consistency.Object
}

// restore fills the replica's storage: from what a durable node
// recovered, or from the group's initial configuration for a first voter.
func (h *Heap) restore(o openMode) (restorePoint, error) {
	n, name := h.node, h.name
	var applied, ckpt uint64
	var state []byte
	var objects []consistency.Object
	if g := o.recovered; g != nil {
		st, err := g.storage()
		if err != nil {
			return restorePoint{}, fmt.Errorf("oss: heap %q: recover: %w", name, err)
		}
		h.storage = st
		applied, state = g.snap.Metadata.Index, g.snap.Data
		if g.stateMeta != nil {
			state, objects = g.stateMeta, g.objects
			h.storeGen = g.storeGen
		} else {
			h.storeGen = n.freshStoreGen() // nothing in the store (space)
			h.needFull = applied > 1       // its state is in the log, not the store
		}
		h.firstSeq.Store(g.firstSeq)
		h.lastHard, h.hardDone = g.hard, g.hard
		h.ckptSeq.Store(g.keepSeq())
		ckpt = applied
	} else {
		h.storeGen = n.freshStoreGen() // opened empty: a space of its own (space)
	}
	if spec := o.spec; o.recovered == nil && spec != nil {
		// Every first voter starts from the same configuration, as if
		// restored from a snapshot at index 1.
		cs, err := spec.confState()
		if err != nil {
			return restorePoint{}, err
		}
		if !slices.Contains(cs.Voters, h.self) && !slices.Contains(cs.Learners, h.self) {
			return restorePoint{}, fmt.Errorf("oss: heap %q: node %q is not in the group", name, n.cfg.Name)
		}
		snap := raftpb.Snapshot{Data: consistency.EmptySnapshotData(1), Metadata: raftpb.SnapshotMetadata{Index: 1, Term: 1, ConfState: cs}}
		if err := h.persistNow(engine.Write{Snapshot: snap}); err != nil {
			return restorePoint{}, fmt.Errorf("oss: heap %q: %w", name, err)
		}
		if err := h.storage.ApplySnapshot(snap); err != nil {
			return restorePoint{}, err
		}
		applied = 1
	}
	return restorePoint{applied: applied, ckpt: ckpt, state: state, objects: objects}, nil
}

// newReplica makes the heap's replica and the engine around it, starting
// at from.
func (h *Heap) newReplica(from restorePoint) (*consistency.Replica, error) {
	n, name := h.node, h.name
	r, err := consistency.NewReplica(&consistency.Config{
		ID:      h.self,
		Storage: h.storage,
		Applied: from.applied,
		State:   from.state,
		Objects: from.objects,
		Logger:  raftLogger{h.log},
		// The loop takes the next Ready while the log writes the last
		// (engine, async.go).
		AsyncStorageWrites: true,

		SkipReadValidation: &h.skipReads,
		// See limits.go.
		MaxSizePerMsg:             n.limits.perMsg,
		MaxUncommittedBytes:       n.limits.uncommitted,
		MaxCommittedBytesPerReady: n.limits.perReady,
	})
	if err != nil {
		return nil, fmt.Errorf("oss: heap %q: %w", name, err)
	}
	h.eng, err = engine.New(engine.Config{
		Replica:       r,
		Storage:       h.storage,
		Durable:       n.walOf() != nil,
		Checkpoint:    from.ckpt,
		ElectionTicks: electionTicks,
		CompactEvery:  uint64(n.cfg.CheckpointEvery),
		KeepEntries:   uint64(n.cfg.KeepEntries),
		LogBytes:      n.cfg.CheckpointBytes,
		KeepBytes:     n.cfg.KeepBytes,
		MaxLogBytes:   n.cfg.MaxLogBytes,
		// Config.SnapshotGrace in ticks: a follower installing a
		// snapshot answers nothing while it does.
		SnapshotGraceTicks: n.cfg.snapshotGraceTicks(),
		MaxBatch:           maxBatch,
		Logger:             h.log,
		// A node acts on a catalog state for good (it deletes the
		// replicas of heaps dropped): after a power loss it must recover
		// at least the state it acted on, or it follows an older
		// directory and reopens a heap it dropped.
		OutcomesAfterWrite: name == catalogName,
		// The apply waits for the sends and the log write (loop.go).
		ApplyApart: true,
	})
	if err != nil {
		return nil, fmt.Errorf("oss: heap %q: %w", name, err)
	}
	h.replica = r
	h.storage.replica = r
	return r, nil
}

// stand has the new replica take its place in the group: a bootstrapped
// or recovered sole voter, or a group's first-placed voter, campaigns at
// once rather than after an election timeout.
func (h *Heap) stand(o openMode) error {
	r, name := h.replica, h.name
	switch {
	case o.bootstrap:
		if err := h.becomeSoleVoter(); err != nil {
			return err
		}
	case o.recovered != nil:
		h.catchUp.Store(true)
		h.settle() // apply what is known committed: the configuration too
		if cs := r.ConfState(); len(cs.Voters) == 1 && cs.Voters[0] == h.self {
			// A sole voter need not wait an election timeout.
			if err := r.Campaign(); err != nil {
				return fmt.Errorf("oss: heap %q: campaign: %w", name, err)
			}
			h.settle()
		}
	case o.spec != nil && o.spec.voters[0].ID == h.self:
		// The first-placed voter stands at once rather than after an
		// election timeout; a sole voter is leader when this returns.
		if err := r.Campaign(); err != nil {
			return fmt.Errorf("oss: heap %q: campaign: %w", name, err)
		}
		h.settle()
	}
	return nil
}

// settle carries out the engine's Readies until it has none and the log
// has answered every write, before the loop runs.
func (h *Heap) settle() {
	for {
		for h.eng.HasReady() {
			h.handleReady()
		}
		if h.inflight == 0 {
			return
		}
		<-h.wwake
		h.writesDone()
	}
}

// becomeSoleVoter bootstraps a one-voter group and elects this node.
func (h *Heap) becomeSoleVoter() error {
	r := h.replica
	if err := r.Bootstrap([]raft.Peer{{ID: h.self}}); err != nil {
		return fmt.Errorf("oss: heap %q: bootstrap: %w", h.name, err)
	}
	h.settle()
	if err := r.Campaign(); err != nil {
		return fmt.Errorf("oss: heap %q: campaign: %w", h.name, err)
	}
	h.settle()
	if st := r.Status(); st.RaftState != raft.StateLeader {
		return fmt.Errorf("oss: heap %q: single voter did not become leader (%v)", h.name, st.RaftState)
	}
	return nil
}

// close stops the heap's loop and returns once it has exited: also when
// the heap is closed already, by another close or by the loop itself (a
// lost replica), whose shutdown may still run (a checkpoint to wait for).
// It is not called on the loop.
func (h *Heap) close() {
	h.watchMu.Lock()
	first := !h.closed
	h.closed = true
	h.watchMu.Unlock()
	if first {
		close(h.stop)
	}
	<-h.done
}

// commit hands an encoded record to the loop and waits for its decision.
func (h *Heap) commit(ctx context.Context, txid uuid.UUID, data []byte) (consistency.Result, error) {
	if err := ctx.Err(); err != nil {
		return consistency.Result{}, err // not proposed
	}
	if h.isClosed() {
		return consistency.Result{}, h.closedErr() // a select would take propc as readily
	}
	p := &proposal{txid: txid, data: data, ctx: ctx, done: make(chan struct{}, 1)}
	select {
	case h.propc <- p:
	case <-ctx.Done():
		return consistency.Result{}, ctx.Err()
	case <-h.stop:
		return consistency.Result{}, h.closedErr()
	}
	select {
	case <-p.done:
		return p.result.res, p.result.err
	case <-ctx.Done():
		if p.handover.CompareAndSwap(queued, abandoned) {
			// Still in propc: the loop will drop it when it gets there.
			return consistency.Result{}, &notProposedError{cause: ctx.Err()}
		}
		proposed := h.askAbandon(abandon{txid: txid, proposed: make(chan bool, 1)})
		select { // decided before the loop took the abandon
		case <-p.done:
			return p.result.res, p.result.err
		default:
		}
		if !proposed {
			return consistency.Result{}, &notProposedError{cause: ctx.Err()}
		}
		return consistency.Result{}, &UnknownOutcomeError{Err: ctx.Err()}
	case <-h.done:
		// The loop answers every proposal it took before it exits; one
		// it did not take never will be.
		if p.handover.CompareAndSwap(queued, abandoned) {
			return consistency.Result{}, h.closedErr()
		}
		<-p.done
		return p.result.res, p.result.err
	}
}

// abandonPoll is how often a caller waiting for the loop's answer to an
// abandon looks whether the loop waits for its disk (askAbandon).
const abandonPoll = 10 * time.Millisecond

// askAbandon tells the loop that a proposal it took has lost its caller
// and returns whether the loop says it was ever handed to raft. The loop
// never waits on callers, so the answer is brief, unless the loop waits
// for its disk (diskWait), which a stalled disk can make last as long as
// it stalls: then the caller waits no longer, and the proposal counts as
// proposed (its outcome unknown, which is the truth for a proposal the
// loop took). Until 2026-12-05 the caller waited for the answer: a
// follower storing its leader's snapshot on a disk that hung kept every
// commit it had taken from returning, whatever their contexts said.
func (h *Heap) askAbandon(a abandon) (proposed bool) {
	tick := time.NewTicker(abandonPoll)
	defer tick.Stop()
	send := h.abandonc
	for {
		select {
		case send <- a:
			send = nil // asked: wait for the answer
		case proposed := <-a.proposed:
			return proposed
		case <-h.done:
			return true // the loop answered every proposal it took
		case <-tick.C:
			if h.diskWait.Load() {
				return true
			}
		}
	}
}

// notProposedError is a commit whose context ended before the loop
// handed it to raft: certainly not committed. It matches ErrNoQuorum
// (the error of a commit the log did not take, safe to send again) and
// the context's error, and says what happened: on a busy heap, or one
// with no quorum, the commit waited its turn and was never proposed.
type notProposedError struct{ cause error }

func (e *notProposedError) Error() string {
	return "oss: not committed: its context ended before the commit was proposed (no quorum, or the log was busy): " + e.cause.Error()
}

func (e *notProposedError) Unwrap() []error { return []error{ErrNoQuorum, e.cause} }

// readIndex waits until the local replica has applied everything committed
// when it was called: the basis of a linearizable read.
func (h *Heap) readIndex(ctx context.Context) error {
	rq := &readRequest{done: make(chan error, 1)}
	select {
	case h.readc <- rq:
	case <-ctx.Done():
		return ctx.Err()
	case <-h.stop:
		return h.closedErr()
	}
	select {
	case err := <-rq.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-h.done:
		return h.closedErr()
	}
}

// freshRead is readIndex for a caller's linearizable read (a Fresh View
// or Begin, the check of an Update function's error): a ctx that ends
// before the read index is answered and applied gives an error matching
// ErrNoQuorum, as ViewOptions.Fresh promises, and the context's error
// too. The context's error alone used to be returned whenever ctx ended
// before the replica's engine gave up on its leader (NoLeaderTicks,
// four election timeouts, after a cut), so a caller could not tell a
// partition from a slow call.
func (h *Heap) freshRead(ctx context.Context) error {
	err := h.readIndex(ctx)
	if cerr := ctx.Err(); err != nil && err == cerr {
		if s := h.stuckOnDisk(); s != "" {
			return fmt.Errorf("%w: heap %q: no read index of its leader answered and applied before the context ended (%s): %w", ErrNoQuorum, h.name, s, cerr)
		}
		return fmt.Errorf("%w: heap %q: no read index of its leader answered and applied before the context ended: %w", ErrNoQuorum, h.name, cerr)
	}
	return err
}

func (h *Heap) isClosed() bool {
	select {
	case <-h.stop:
		return true
	default:
		return false
	}
}

// Update runs fn in a read-write transaction and commits it. fn reads the
// latest local snapshot; its writes are buffered and sent, with what it
// read, as one commit record to the heap's log. If something fn read
// changed before the record was decided, Update runs fn again on a newer
// snapshot, up to Config.MaxRetries times, then returns ErrConflict. The
// retry waits its turn on the keys it read (if they and the key it lost
// on are at most 64; else on the key it lost on, and, before it commits,
// on up to 63 more), behind the transactions of this node that lost more
// often, and behind other nodes' older losses on the key it lost on: a
// transaction on hot objects does not starve.
//
// fn may therefore be called several times: it must not have side effects
// outside the transaction. Put them in tx.OnCommit, which runs once, after
// the commit. If fn panics, the transaction is rolled back and the panic
// goes on; if an OnCommit function panics, Update panics with an
// *OnCommitPanic, after the commit. fn and the goroutines it starts must
// not use tx at once: a call made while another is inside tx fails with
// an error matching ErrInvalidArgument, and Update returns that error,
// having written nothing. Transactions do not nest: an Update called
// inside fn is a transaction of its own, committed whatever fn's does,
// once for every run of fn (on a run after a conflict, one that reads
// an object fn read first waits for fn's turn on it: until fn has run
// 4 times as long as its shortest run, at least 25 ms and at most
// 250 ms). That wait slows others too: while it lasts, fn's Update
// holds its turn on every key it read, so this node's other clients of
// those keys wait as well, and then go on without their turns. Call
// Update on keys fn read from tx.OnCommit, or not at all.
//
// If fn returns an error, the transaction is rolled back and the error is
// returned, but an error fn returns after reading something is a decision
// taken on what it read ("not found", "insufficient funds"), and the local
// replica may trail its group. So Update first checks that what fn read is
// current: it asks the group's leader for its commit index (a read index:
// one heartbeat round to a quorum of voters, no log entry and no disk
// write; no round at all where this node is the group's only voter),
// waits until the local replica has applied it, and compares the versions
// fn read with that state's. If they agree, fn's error is returned; if
// not, fn runs again on the newer state. Each check is counted in
// Stats.Checks. If the check cannot be made (no leader within reach, ctx
// ended, the heap closed), Update returns that error, not fn's. An error
// returned before fn read anything, and an encoding or decoding error of
// the transaction, is returned at once, with no check. fn's error is
// returned as fn returned it, also one that matches an Err value of this
// package (ErrConflict or ErrCommitUnknown from a transaction on another
// heap, say): Update does not retry on it, and what those values say of
// an Update's own outcome (below) does not hold for it. An fn that
// passes on another transaction's error and must tell the two apart wraps
// it in an error type of its own.
//
// If fn returns ErrRetry (for instance through tx.Retry), the transaction
// waits until something it read changes (an object or a root it read, or,
// if it scanned, the set of objects) and then runs fn again on the new
// state: a worker waits for its queue to be non-empty, a player for a
// ball to be free, without polling. The change may come from any node. If
// what fn read has already changed when it returns ErrRetry, fn runs again
// at once. The wait ends with ctx (returning ctx's error) or when the heap
// closes (ErrClosed); nothing was written then. Waits are counted in
// Stats.Waits.
//
// If the heap's leader refuses the commit for want of a write grant (a
// grant revoked, or not yet applied by the leader's catalog replica,
// while the record was on its way), Update asks the catalog's leader for
// the latest grants: if they deny this node the write, Update returns an
// error matching ErrPermission; if they allow it, fn runs again.
//
// A nil fn is an error matching ErrInvalidArgument, with nothing written.
//
// When Update returns nil, the transaction has committed and a View on this
// node sees its writes. An error that matches ErrCommitUnknown means the
// record reached the log but its outcome is not known; every other error
// means nothing was written.
func (h *Heap) Update(ctx context.Context, fn func(tx *Tx) error) error {
	gh := gateHold{gs: &h.gates}
	defer gh.drop()
	for attempt := 0; ; {
		if err := gh.yield(ctx, h.stop); err != nil {
			return err
		}
		tx, err := h.begin(ctx, false)
		if err != nil {
			return err
		}
		tx.managed = true
		ferr := gh.call(tx, fn)
		if ferr == errTxShared {
			return ferr // another goroutine may still be inside tx
		}
		if ferr == nil {
			stale, err := h.awaitTurn(ctx, &gh, tx, attempt)
			if err != nil || stale {
				tx.end()
			}
			if err != nil {
				return err
			}
			if stale {
				continue // not a conflict: attempt stays as it is
			}
		}
		switch {
		case ferr == nil:
			err := tx.commit()
			switch {
			case errors.Is(err, ErrPermission):
				// Give the gates up first: the node's other clients of
				// these keys need not wait while the catalog's leader is
				// asked and a tick passes.
				gh.drop()
				if err := h.afterRefusal(ctx, err, attempt); err != nil {
					return err
				}
			case err == nil || !errors.Is(err, ErrConflict):
				return err
			default:
				if err := h.afterConflict(ctx, &gh, tx, err, attempt); err != nil {
					return err
				}
			}
		case tx.err != nil:
			// A poisoned transaction (Put of a value that does not
			// encode, Get of one that does not decode): checking or
			// waiting cannot make it right.
			if errors.Is(ferr, ErrRetry) {
				return tx.err
			}
			return ferr
		case errors.Is(ferr, ErrRetry):
			if !tx.hasReads() {
				return fmt.Errorf("%w: the Update function returned ErrRetry without reading anything, so no change could wake it", ErrInvalidArgument)
			}
			gh.drop()
			if err := h.waitChange(ctx, tx); err != nil {
				return err
			}
			continue // not a conflict: attempt stays as it is
		case !tx.hasReads():
			return ferr
		default:
			// fn's error is a decision taken on what it read; it stands
			// only if that is still current.
			gh.drop()
			if err := h.recheckDecision(tx, ferr, attempt); err != nil {
				return err
			}
		}
		attempt++
	}
}

// awaitTurn waits, if other transactions of this node contend for keys
// tx read whose gates it does not hold, for this one's turn at those
// gates (held in gh after, with those it held), and reports whether what
// tx read went stale meanwhile: then tx is not proposed, and fn runs
// again.
func (h *Heap) awaitTurn(ctx context.Context, gh *gateHold, tx *Tx, attempt int) (stale bool, err error) {
	ks := h.gates.gatedKeys(tx, gh.keys)
	ks = ks[:min(len(ks), max(0, maxGates-len(gh.keys)))]
	if len(ks) == 0 {
		return false, nil
	}
	want := append(slices.Clone(gh.keys), ks...)
	slices.SortFunc(want, compareHotKeys)
	if err := gh.take(ctx, h.stop, want, attempt); err != nil {
		return false, err
	}
	for _, k := range ks {
		if err := h.gates.yield(ctx, h.stop, k); err != nil {
			return false, err
		}
	}
	rs := tx.readSet()
	return rs.staleIn(h.state.Load()) != nil, nil
}

// afterConflict prepares the next attempt after a commit of tx lost to
// err, a conflict: at once, holding the gates of every key tx read and
// of the one it lost on (of that one only, if they are more than
// maxGates), or after a backoff.
// It returns err, with the attempts counted, once MaxRetries is spent, and
// nil when fn is to run again.
func (h *Heap) afterConflict(ctx context.Context, gh *gateHold, tx *Tx, err error, attempt int) error {
	var ce *ConflictError
	errors.As(err, &ce)
	if attempt >= h.cfg.MaxRetries {
		if ce != nil {
			ce.Attempts = attempt + 1
		}
		return err
	}
	h.stats.retries.Add(1)
	if ce != nil {
		// Run again at once, holding the keys' gates: the local state
		// has the winning commit, and no other transaction of this
		// node goes before this one on any key it read.
		return gh.take(ctx, h.stop, readKeys(tx, conflictKey(ce)), attempt+1)
	}
	return h.backoff(ctx, attempt)
}

// afterRefusal decides what follows a commit the heap's leader refused,
// err: nothing was written. The refusal stands (returned) if this node's
// own grants deny it the write once its catalog replica has caught up
// with the catalog's leader, or cannot be checked, or MaxRetries is
// spent. If they allow it, the leader's catalog replica had not yet
// applied a grant made a moment ago: fn runs again (nil) after a tick,
// the time a catalog follower takes to hear of it.
func (h *Heap) afterRefusal(ctx context.Context, err error, attempt int) error {
	n := h.node
	cat := n.catalog.Load()
	if attempt >= h.cfg.MaxRetries || cat == nil || h.name == catalogName || cat.readIndex(ctx) != nil ||
		n.authorize(n.cfg.Name, n.cfg.Role, h.name, PermWrite) != nil {
		return err
	}
	h.stats.retries.Add(1)
	return h.pause(ctx, h.cfg.TickInterval)
}

// recheckDecision checks that what tx read, on which fn decided to return
// ferr, is current at the group's commit index. It returns ferr if so, the
// conflict once MaxRetries is spent, the error if the check cannot be
// made, and nil when fn is to run again on the newer state.
func (h *Heap) recheckDecision(tx *Tx, ferr error, attempt int) error {
	stale, err := tx.checkCurrent()
	if err != nil {
		return &uncheckedError{err: err, ferr: ferr}
	}
	if stale == nil {
		return ferr
	}
	if attempt >= h.cfg.MaxRetries {
		stale.Hot, stale.Attempts = h.hotness(stale), attempt+1
		return stale
	}
	// The local state is now at least the group's commit index: run fn
	// again at once, there is no contention to back off from.
	h.stats.retries.Add(1)
	return nil
}

// uncheckedError is recheckDecision's error when what the Update function
// read could not be checked: it matches err (ErrClosed, ctx's error,
// ErrNoQuorum), and keeps the function's error, ferr, for callers of the
// node's own that say it their way (uncheckedRemoval).
type uncheckedError struct{ err, ferr error }

func (e *uncheckedError) Error() string {
	return fmt.Sprintf("%v (the Update function returned %q, which could not be checked against the group's commit index)", e.err, e.ferr.Error())
}

func (e *uncheckedError) Unwrap() error { return e.err }

// backoff sleeps before the next attempt: exponential from 50µs to 10ms,
// with full jitter.
func (h *Heap) backoff(ctx context.Context, attempt int) error {
	d := 50 * time.Microsecond << min(attempt, 8)
	d = min(d, 10*time.Millisecond)
	return h.pause(ctx, time.Duration(rand.Int64N(int64(d))+1))
}

// pause waits d, or until ctx ends (its error) or the heap closes
// (ErrClosed).
func (h *Heap) pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-h.stop:
		return h.closedErr()
	}
}

// ViewOptions configure a View. A nil *ViewOptions is a plain View.
type ViewOptions struct {
	// Fresh makes the View linearizable: before fn runs, the heap's leader
	// is asked for its commit index and the local replica waits until it
	// has applied it, so the View sees every commit acknowledged before
	// View was called. The View's ctx bounds the wait, which fails with
	// an error matching ErrNoQuorum if no leader answers (and ctx's error
	// too when ctx ends first).
	Fresh bool
}

// View runs fn in a read-only transaction on a consistent snapshot of the
// local replica: the state after some log index, never a partial commit. A
// View does not conflict and, unless opts asks for Fresh, does not touch
// the network: ctx then only refuses a View whose ctx has ended. Writes in
// fn fail with ErrReadOnly. A nil fn is an error matching
// ErrInvalidArgument.
//
// A plain View (opts nil) is possibly stale, and this is its bound: it
// sees every commit that an Update or a Fresh read on this node has
// waited for, and successive Views on a node never go back in the log; it
// may miss the Stats().Lag entries the replica knows committed but has not
// applied yet, and whatever the group committed since the replica last
// heard from its leader, at Stats().LeaderContact. A connected replica
// hears its leader every TickInterval (every two or four while the
// leader's raft clock is slowed, Stats.ElectionSlowdown); one cut off
// falls behind for as long as the cut lasts, and if its group removed it meanwhile it rejoins
// by itself once it can reach the group again. A caller that needs a bound
// checks Stats().LeaderContact, or reads with Fresh.
//
// While fn runs the View holds its snapshot, as does a transaction from
// Begin until it ends: whatever commits follow, the objects and values
// they replace stay in memory for it, at most one copy of the heap's
// state as the snapshot had it.
func (h *Heap) View(ctx context.Context, fn func(tx *Tx) error, opts *ViewOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.isClosed() {
		return h.closedErr()
	}
	if opts != nil && opts.Fresh {
		if err := h.freshRead(ctx); err != nil {
			return err
		}
	}
	tx := Tx{heap: h, snap: h.state.Load(), readOnly: true, managed: true}
	err := tx.call(fn)
	if err == nil {
		tx.end()
	}
	return err
}

// TxOptions configure a transaction started with Begin.
type TxOptions struct {
	// ReadOnly makes the transaction read-only: writes fail with
	// ErrReadOnly and Commit only ends it.
	ReadOnly bool
	// Fresh waits, before the transaction reads anything, until the local
	// replica has applied everything committed when Begin was called, as
	// ViewOptions.Fresh does for a View; ctx bounds the wait, and its
	// errors are the Fresh View's.
	Fresh bool
}

// Begin starts a transaction to be ended by Commit or Rollback: the manual
// form of Update and View, for callers that cannot use a closure. Commit
// does not retry: it returns ErrConflict and the caller decides. ctx bounds
// the transaction and its commit. A nil opts is a read-write transaction.
func (h *Heap) Begin(ctx context.Context, opts *TxOptions) (*Tx, error) {
	var o TxOptions
	if opts != nil {
		o = *opts
	}
	if o.Fresh {
		if err := h.freshRead(ctx); err != nil {
			return nil, err
		}
	}
	return h.begin(ctx, o.ReadOnly)
}

func (h *Heap) begin(ctx context.Context, readOnly bool) (*Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h.isClosed() {
		return nil, h.closedErr()
	}
	if err := h.authorizeWrite(ctx, readOnly); err != nil {
		return nil, err
	}
	if readOnly {
		return &Tx{heap: h, snap: h.state.Load(), readOnly: true}, nil
	}
	// One allocation for both: every attempt of an Update makes them.
	both := &struct {
		tx Tx
		st txState
	}{Tx{heap: h, snap: h.state.Load()}, txState{ctx: ctx}}
	both.tx.txState = &both.st
	both.st.reads, both.st.writeList = both.st.readArr[:0], both.st.writeArr[:0]
	return &both.tx, nil
}

// Digest is a consistency check, for operators and tests: it returns the
// index of the local replica's latest state and a SHA-256 digest of it,
// so that replicas compared at the same index hold identical objects and
// roots exactly when their digests match (ossd's admin interface serves
// it; the demo compares every node's). It hashes the whole state, every
// object's value included: it costs time in proportion to the heap's
// size, and is not a way to detect changes (Watch is).
func (h *Heap) Digest() (uint64, [32]byte) {
	st := h.state.Load()
	return st.Index(), st.Digest()
}
