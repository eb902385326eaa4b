package engine

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"

	"github.com/objectsharing/oss/consistency"
)

// Defaults of Config's tick counts and log sizes.
const (
	DefaultNoLeaderTicks = 40
	DefaultResendTicks   = 20
	DefaultElectionTicks = 10
	DefaultCompactEvery  = 8192
	DefaultKeepEntries   = 1024
	DefaultLogBytes      = 4 << 20
	DefaultKeepBytes     = 1 << 20
	DefaultMaxLogBytes   = 64 << 20
	// DefaultSnapshotGraceElections is SnapshotGraceTicks in election
	// timeouts, if it is zero.
	DefaultSnapshotGraceElections = 60
	DefaultMaxBatch               = 4096
)

// Storage is the replica's raft log in memory, the one its
// consistency.Config names: the engine appends to it what the owner has
// made durable, and compacts it. *raft.MemoryStorage implements it.
type Storage interface {
	Append([]raftpb.Entry) error
	SetHardState(raftpb.HardState) error
	ApplySnapshot(raftpb.Snapshot) error
	Compact(index uint64) error
}

// Config configures an Engine.
type Config struct {
	// Replica is the replica the engine drives. The engine owns it from
	// then on, except for what the owner does with it between a Ready and
	// its Advance (see the package doc). Required.
	Replica *consistency.Replica
	// Storage is the replica's log in memory. Required.
	Storage Storage
	// OutcomesAfterWrite has every Ready's outcomes handed out after its
	// log write (see Ready.OutcomesFirst): for a replica whose states the
	// owner acts on for good, such as a directory of groups it opens and
	// deletes. A power loss may take back entries this replica applied
	// before writing them; the owner must not have acted on them.
	OutcomesAfterWrite bool
	// ApplyApart, with an asynchronous replica, hands a Ready out before
	// the replica applies its committed entries (Ready.ApplyLater): the
	// owner sends its messages and hands out its writes, then calls
	// Apply. A leader's appends and commit index, a follower's
	// acknowledgements and its log write then wait for no apply.
	ApplyApart bool
	// Durable says the owner keeps the replica in a write-ahead log and
	// checkpoints it: the engine asks for a checkpoint every CompactEvery
	// applied entries and never compacts the log in memory past the last.
	Durable bool
	// Checkpoint is the applied index of the checkpoint the replica was
	// recovered from, 0 for a new replica. The log in memory starts there.
	Checkpoint uint64

	// NoLeaderTicks is how long proposals and reads wait for a leader
	// before they fail: long enough for an election, short enough that a
	// minority partition answers instead of hanging. If zero, 40.
	NoLeaderTicks uint64
	// ResendTicks is how long a proposal may go undecided before it is
	// proposed again (a leader that lost it would otherwise leave it
	// waiting forever); a read index is asked again after half of it. If
	// zero, 20.
	ResendTicks uint64
	// ElectionTicks is the replica's election timeout in ticks, as its
	// consistency.Config has it: a leader not heard from for two of them
	// is out of reach. If zero, 10.
	ElectionTicks uint64
	// FixedElectionClock hands raft every tick, however late the answers
	// to the replica's campaigns come (see slowdown.go).
	FixedElectionClock bool
	// CompactEvery and KeepEntries set when applied entries leave the log
	// in memory: every CompactEvery entries, all but the last KeepEntries.
	// If zero, 8192 and 1024.
	CompactEvery, KeepEntries uint64
	// LogBytes and KeepBytes bound the log in memory by size: once the
	// applied entries in it hold more than LogBytes of data, a durable
	// engine asks for a checkpoint and the log is compacted to a tail of
	// at most KeepBytes (and KeepEntries), however few the entries. If
	// zero, 4 MiB and 1 MiB; LogBytes below zero turns the bound off.
	LogBytes, KeepBytes int
	// MaxLogBytes caps what a leader keeps in memory for its followers.
	// A leader compacts no entry a recently active follower has yet to
	// acknowledge, so that a follower a little behind catches up from the
	// log rather than from a snapshot of the whole state, unless that
	// follower is more than MaxLogBytes of entries behind (their data and
	// about 72 bytes an entry): from that far, a snapshot is the quicker
	// way. A follower not heard from for an
	// election timeout holds nothing back, unless it is being sent a
	// snapshot (SnapshotGraceTicks). If zero, 64 MiB (and never less than
	// LogBytes); below zero, followers hold nothing back.
	MaxLogBytes int
	// SnapshotGraceTicks is how long a follower sent a snapshot may stay
	// silent and still hold back the entries after it, within
	// MaxLogBytes: installing a large snapshot on a slow disk keeps a
	// follower from answering for longer than an election timeout. If
	// zero, 60 election timeouts.
	SnapshotGraceTicks uint64
	// MaxBatch caps the records proposed in one raft step. If zero, 4096.
	MaxBatch int

	// Logger receives the engine's log lines. If nil, they are discarded.
	Logger *slog.Logger
}

// Proposal is an encoded commit record and its transaction's ID.
type Proposal struct {
	TxID uuid.UUID
	Data []byte
}

// Completion is the end of a proposal's wait: its decision, or why there
// is none.
type Completion struct {
	TxID   uuid.UUID
	Result consistency.Result // the decision, if Err is nil
	Err    *Failure
}

// ReadDone answers a read index request: nil Err once the replica has
// applied the group's commit index as of the request.
type ReadDone struct {
	ID  uint64
	Err *Failure
}

// Reason says why a proposal or a read got no answer from the log.
type Reason uint8

const (
	// NoLeaderFor: the replica had had no leader in reach for Ticks ticks
	// when the proposal came; it was not proposed.
	NoLeaderFor Reason = iota + 1
	// NoLeaderInReach: the replica went NoLeaderTicks without a leader
	// while the proposal or read waited.
	NoLeaderInReach
	// LogRefused: the write-ahead log did not take a write (Err says
	// why); the replica commits nothing until it does.
	LogRefused
	// ResentStale: a proposal proposed again, or one a leader's
	// snapshot took the replica past entries while it waited, was
	// decided Stale: an earlier copy may have applied before the
	// deduplication window closed. Always Unknown.
	ResentStale
	// Closed: the engine was closed.
	Closed
)

// Failure is why a proposal or a read got no answer from the log.
type Failure struct {
	Reason Reason
	// Unknown means the record may be in the log: it may yet commit, or
	// have committed. Otherwise nothing of it was written.
	Unknown bool
	// Ticks is how long the replica had been without a leader (NoLeaderFor).
	Ticks uint64
	// Err is the log's error (LogRefused).
	Err error
}

func (f *Failure) Error() string {
	var s string
	switch f.Reason {
	case NoLeaderFor:
		s = fmt.Sprintf("no leader for %d ticks", f.Ticks)
	case NoLeaderInReach:
		s = "no leader in reach"
	case LogRefused:
		s = fmt.Sprintf("the log cannot be written: %v", f.Err)
	case ResentStale:
		s = "resent commit record older than the deduplication window"
	case Closed:
		s = "closed"
	default:
		s = fmt.Sprintf("failure %d", f.Reason)
	}
	if f.Unknown {
		s += " (outcome unknown)"
	}
	return s
}

func (f *Failure) Unwrap() error { return f.Err }

// Ready is a batch of effects for the owner to carry out, in the order the
// package doc gives. The embedded consistency.Ready is the replica's part,
// empty when HasRaft is false; State is always the replica's latest.
type Ready struct {
	consistency.Ready
	// HasRaft says the Ready carries a part from the replica: a log write
	// to make durable first (possibly empty), then messages, state,
	// results, change sets and read states. Err set instead says the
	// replica cannot go on (a leader's snapshot that does not decode):
	// nothing of what raft handed out was applied; the owner closes the
	// engine and stops using the replica.
	HasRaft bool
	// Early are the messages that may go out before the log write is
	// durable, while it is being made: all but the answers that vouch
	// for this replica's log or vote (raft's MsgAppResp, MsgVoteResp and
	// MsgPreVoteResp, which it holds back itself with async storage
	// writes) and snapshots. A leader's appends thus reach its followers
	// while it writes them too (raft thesis, 10.2.1); raft counts the
	// leader's own copy only after Advance. Messages holds the rest, to
	// send once the write is durable. A Retry carries no Early: they
	// went out when the Ready was first handed out.
	Early []raftpb.Message
	// Retry says the log write is one the log refused before (DiskFailed).
	Retry bool
	// Completions end proposals' waits.
	Completions []Completion
	// Reads answer read index requests.
	Reads []ReadDone
	// Conf is the group's configuration, when it changed.
	Conf *raftpb.ConfState
	// Checkpoint, if not zero, asks for a checkpoint of the replica's
	// state, which stands at that index; Checkpointed reports it taken.
	// A Ready that asks for one carries nothing from the replica.
	Checkpoint uint64
	// Writes, from an asynchronous engine (see Write), are the log writes
	// to make, in order, each reported with Written once durable: the
	// Ready's own, or with Retry every write the log refused and those
	// after it. Messages are then answers that may go out at once.
	Writes []Write
	// WriteFirst, from an asynchronous engine, says the Ready installs a
	// leader's snapshot: its Writes, and every write before them, are
	// made durable before its outcomes are handed out.
	WriteFirst bool
	// ApplyLater says the replica has not applied the Ready's committed
	// entries yet (Config.ApplyApart): State, Results, Changes and the
	// Completions and Reads they bring are filled in by Apply, which the
	// owner calls once it has sent Early and Messages and handed out
	// Writes, before it carries out anything else of the Ready.
	ApplyLater bool

	afterWrite bool // Config.OutcomesAfterWrite
	async      bool // the replica writes asynchronously
}

// Engine is the runtime of one heap replica as a deterministic state
// machine; see the package doc. It is not safe for concurrent use.
type Engine struct {
	cfg Config
	r   *consistency.Replica
	id  uint64 // the replica's raft ID
	log *slog.Logger

	ticks       uint64
	term        uint64 // the replica's term as of the last resend
	termTick    uint64 // tick term was first seen at
	lead        uint64 // the leader as of the last Ready
	leftLead    uint64 // a leader that left the cluster (LeaderLeft), 0 if none
	heardTick   uint64 // tick of the last message from the leader
	notice      notice // the commit notice stepped since the last Ready (notice.go)
	leaderless  uint64 // ticks without a leader to hand proposals to
	stallLogged uint64 // tick of the last log line about failing for want of a leader

	clock electionClock // how raft gets its ticks (slowdown.go)

	pending   map[uuid.UUID]proposal
	reads     map[uint64]*read
	readWaits []*read // read index known, waiting for apply

	rd      *consistency.Ready // taken from the replica, not yet advanced: &rdv or nil
	rdv     consistency.Ready  // where rd points, not an allocation a Ready
	early   []raftpb.Message   // rd's messages that may go out before its write
	late    []raftpb.Message   // and those that wait for it
	refused bool               // the log refused rd's write (or, async, a write in flight)
	handed  bool               // rd's outcomes were handed out before its refused write
	retry   bool               // a tick asks to write it again
	diskErr error              // why the log refused it
	lost    bool               // the replica cannot go on
	closed  bool
	// readsHeld: a read index was not asked, the replica leading without
	// a commit of its term (askReadIndex), or a peer's was not stepped
	// (heldAsks).
	readsHeld bool
	// heldAsks are peers' read index requests held while the replica led
	// without a commit of its term (Step).
	heldAsks []raftpb.Message

	lastCkpt    uint64 // applied index of the last checkpoint
	lastCompact uint64
	applied     uint64               // the applied index compact last saw
	held        logSizes             // the sizes of the entries the log holds in memory
	heardFrom   map[uint64]uint64    // on a leader, the tick each peer was last heard at since it took the lead
	leadTick    uint64               // on a leader, the tick it took the lead at
	joinedTick  map[uint64]uint64    // the tick each member's joining the configuration was applied at, if here
	voterTick   map[uint64]uint64    // the tick each voter was first seen one at, here (unsteady.go)
	unsteadyAt  map[uint64]uint64    // on a leader, the tick each peer was last heard at after an election timeout's silence (unsteady.go)
	matchAt     map[uint64]matchMark // on a leader, each peer's match index and the tick it was first seen at
	large       map[uuid.UUID]logPos // large records the log holds, not yet applied
	ckptAsk     uint64               // a checkpoint to ask for in the next Ready
	conf        raftpb.ConfState

	// An asynchronous replica's writes (async.go).
	inflight  []*write         // handed out, not yet all durable, in order
	wseq      uint64           // the last write's Seq
	snapWrite bool             // rd's write installs a leader's snapshot
	retrying  bool             // the refused writes are being made again
	outbox    []raftpb.Message // answers made sendable by Written
	obuf      []raftpb.Message
	confAt    uint64 // the last configuration change written
	confKept  uint64 // the last one a kept commit index covers

	completions []Completion // not yet handed out in a Ready
	recalled    []uuid.UUID  // proposals a snapshot's decisions answered in the Ready given (recall)
	answers     []ReadDone
	given       given  // what the last Ready handed out
	gen         uint64 // counts calls of Ready
	cbuf        []Completion
	rbuf        []ReadDone
}

// given is what a Ready handed out, for Advance.
type given struct {
	raft        bool
	retry       bool // async: the refused writes, offered again
	checkpoint  uint64
	completions int
	answers     int
	outbox      int
}

type proposal struct {
	data     []byte
	gen      uint64 // the last Ready that decided it
	tick     uint64 // tick of the last (re)proposal
	term     uint64 // term of the entry of the replica's log holding it, 0 until seen there
	at       uint64 // the replica's term when last handed to raft
	resends  uint8  // doublings of the wait before it goes again (shift)
	proposed bool   // handed to raft at least once: it may be in the log
	resent   bool   // proposed more than once: a Stale decision is unknown
	// passed: a leader's snapshot took the replica past entries it
	// never applied while the proposal waited, so a copy of it there
	// (the network may deliver a message twice) may have been decided
	// unseen: a Stale decision is unknown.
	passed bool
}

// maxResendShift caps the doubling of the wait before a proposal not yet
// seen in the log is proposed again: at most 8 times ResendTicks.
const maxResendShift = 3

// largeRecord is the size from which a record counts as large: its first
// wait before it goes again is doubled once for each doubling of its size
// past largeRecord (shift), and a leader drops forwarded copies of it that
// its log already holds (dropCopies).
const largeRecord = 64 << 10

// shift is the doublings of ResendTicks a proposal of n bytes waits before
// it first goes again: none for a small one; for a large one, as many as
// its size has doublings past largeRecord, up to maxResendShift. Its
// message takes longer to reach the leader than a small one's, and every
// copy sent again queues behind it.
func shift(n int) uint8 {
	var s uint8
	for n >= largeRecord<<1 && s < maxResendShift {
		n >>= 1
		s++
	}
	return s
}

// logPos is where a replica's log holds an entry.
type logPos struct{ term, index uint64 }

type read struct {
	gen   uint64 // the last Ready that answered it
	id    uint64
	index uint64 // the read index, once known
	tick  uint64 // tick it was last asked at
}

// New returns an engine driving cfg.Replica.
func New(cfg Config) (*Engine, error) {
	if cfg.Replica == nil || cfg.Storage == nil {
		return nil, errors.New("engine: a replica and its storage are required")
	}
	or := func(v *uint64, d uint64) {
		if *v == 0 {
			*v = d
		}
	}
	or(&cfg.NoLeaderTicks, DefaultNoLeaderTicks)
	or(&cfg.ResendTicks, DefaultResendTicks)
	or(&cfg.ElectionTicks, DefaultElectionTicks)
	or(&cfg.CompactEvery, DefaultCompactEvery)
	or(&cfg.KeepEntries, DefaultKeepEntries)
	if cfg.LogBytes == 0 {
		cfg.LogBytes = DefaultLogBytes
	}
	if cfg.KeepBytes <= 0 {
		cfg.KeepBytes = DefaultKeepBytes
	}
	if cfg.MaxLogBytes == 0 {
		cfg.MaxLogBytes = max(DefaultMaxLogBytes, cfg.LogBytes)
	}
	or(&cfg.SnapshotGraceTicks, DefaultSnapshotGraceElections*cfg.ElectionTicks)
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Engine{
		cfg:         cfg,
		r:           cfg.Replica,
		id:          cfg.Replica.Status().ID,
		log:         log,
		pending:     make(map[uuid.UUID]proposal),
		reads:       make(map[uint64]*read),
		heardFrom:   make(map[uint64]uint64),
		joinedTick:  make(map[uint64]uint64),
		voterTick:   make(map[uint64]uint64),
		unsteadyAt:  make(map[uint64]uint64),
		matchAt:     make(map[uint64]matchMark),
		large:       make(map[uuid.UUID]logPos),
		lastCkpt:    cfg.Checkpoint,
		lastCompact: cfg.Checkpoint,
		clock:       electionClock{factor: 1},
	}, nil
}

// Replica returns the replica the engine drives, for what the engine does
// not do itself (bootstrap, configuration changes, snapshot offers, status).
func (e *Engine) Replica() *consistency.Replica { return e.r }

// Ticks returns the ticks since the engine started.
func (e *Engine) Ticks() uint64 { return e.ticks }

// Silence returns, on a leader, the ticks since the peer of raft ID id
// last sent it anything, or since the replica took the lead if it has
// sent nothing since (0 on a replica that does not lead), and whether a
// snapshot is on its way to the peer or being installed by it (needs):
// a follower is silent while it writes a snapshot to its store, after
// the leader has heard that it arrived.
//
// A member that joined the configuration while this replica led counts
// from its joining instead: until 2026-12-06 a learner added by a leader
// of long standing was silent at once, however soon it was to answer,
// and the plan passed it over for another spare before it could.
func (e *Engine) Silence(id uint64) (ticks uint64, snap bool) {
	if e.lead != e.id || id == e.id {
		return 0, false
	}
	from := e.memberSince(id)
	if heard, ok := e.heardFrom[id]; ok {
		from = max(from, heard)
	}
	return e.ticks - from, e.snapFor(id)
}

// Stalled returns, on a leader, the ticks since the peer of raft ID id
// last acknowledged more of the log to it (its match index rose), counted
// at most from this replica's taking the lead or the peer's joining the
// configuration, and whether a snapshot is on its way to the peer or
// being installed by it (0, false on a replica that does not lead). A
// peer that answers heartbeats but takes no entries (its disk stuck, its
// snapshots lost on the way) is not silent, but stalled.
func (e *Engine) Stalled(id uint64) (ticks uint64, snap bool) {
	if e.lead != e.id || id == e.id {
		return 0, false
	}
	from := e.memberSince(id)
	if m, ok := e.matchAt[id]; ok {
		from = max(from, m.tick)
	}
	return e.ticks - from, e.snapFor(id)
}

// matchMark is a peer's match index and the tick the leader first saw it.
type matchMark struct{ match, tick uint64 }

// memberSince is the tick from which a leader times a member: its taking
// the lead, or the member's joining the configuration if later.
func (e *Engine) memberSince(id uint64) uint64 {
	return max(e.leadTick, e.joinedTick[id])
}

// snapFor reports whether a snapshot is on its way to the peer or being
// installed by it (needs).
func (e *Engine) snapFor(id uint64) (snap bool) {
	e.r.WithProgress(func(peer uint64, pr tracker.Progress) {
		if peer == id {
			_, snap = needs(pr, e.lastCompact)
		}
	})
	return snap
}

// noteMatches notes, on a leader, each peer whose match index changed
// since the last tick, with the tick (Stalled).
func (e *Engine) noteMatches() {
	if e.lead != e.id {
		return
	}
	e.r.WithProgress(func(peer uint64, pr tracker.Progress) {
		if m, ok := e.matchAt[peer]; !ok || m.match != pr.Match {
			e.matchAt[peer] = matchMark{match: pr.Match, tick: e.ticks}
		}
	})
}

// Lead returns the leader as of the last Ready, 0 if none is known.
func (e *Engine) Lead() uint64 { return e.lead }

// Pending returns the number of proposals that wait for a decision.
func (e *Engine) Pending() int { return len(e.pending) }

// LeaderInReach reports whether the replica leads, or knows its leader,
// has heard from it within two election timeouts, and was not told that
// it left the cluster (LeaderLeft).
func (e *Engine) LeaderInReach() bool {
	return e.lead == e.id || (e.lead != 0 && !e.leadLeft() && e.ticks-e.heardTick < 2*e.cfg.ElectionTicks)
}

// LeaderLeft tells the engine that the node of raft ID id has left the
// cluster gracefully (0: no leader known to it has): it closed its
// replicas before it said so, so a proposal forwarded to it would reach
// nothing that could commit it. While the replica's leader is that node,
// proposals are not handed to raft (which would forward them to it, and
// they would end unknown): they wait, as without a leader, for another
// leader, and fail definitely after NoLeaderTicks.
func (e *Engine) LeaderLeft(id uint64) { e.leftLead = id }

// leadLeft reports whether the replica's leader is one that left.
func (e *Engine) leadLeft() bool {
	return e.leftLead != 0 && e.leftLead == e.lead && e.lead != e.id
}

// Tick advances the engine's clock by one tick: the replica's (one in
// ElectionSlowdown's factor, slowdown.go), the wait for a leader, resends
// and read index retries; a log write the log refused is offered again,
// and a checkpoint still due is asked for again.
func (e *Engine) Tick() {
	if e.closed {
		return
	}
	e.tickRaft()
	e.ticks++
	if e.refused && !e.retrying {
		e.retry = true
	}
	e.checkLeader()
	e.noteSteady()
	e.resend()
	e.askDueCheckpoint()
	e.noteMatches()
}

// askDueCheckpoint asks again, in the next Ready, for a checkpoint that is
// due at the last applied index and has not been reported: one asked for
// while the owner's previous checkpoint ran (an owner that checkpoints
// apart takes one at a time) and left due once that one is reported.
// Otherwise only the next apply would ask again, and an idle replica
// with no peers (no messages, so no Readies) would keep its last entries
// in the log until a later commit. Not while a Ready is held (its log
// write refused): the replica's state may be ahead of the log.
func (e *Engine) askDueCheckpoint() {
	if !e.cfg.Durable || e.ckptAsk != 0 || e.rd != nil || e.refused || e.lost || e.applied <= e.lastCkpt {
		return
	}
	if _, heavy, _ := e.trimDue(e.applied); e.checkpointDue(e.applied, heavy) {
		e.ckptAsk = e.applied
	}
}

// Step feeds a raft message from a peer to the replica.
func (e *Engine) Step(m raftpb.Message) {
	if m.From == e.lead {
		e.heardTick = e.ticks
	}
	if e.lead == e.id && m.From != e.id {
		e.noteHeard(m.From)
		e.heardFrom[m.From] = e.ticks
	}
	e.noteLate(&m)
	if m.Type == raftpb.MsgProp && len(e.large) > 0 {
		if m.Entries = e.dropCopies(m.Entries); len(m.Entries) == 0 {
			return
		}
	}
	e.noteNotice(&m)
	if m.Type == raftpb.MsgReadIndex && m.From != e.id && !e.r.ReadIndexReady() {
		e.holdAsk(m)
		return
	}
	if err := e.r.Step(m); err != nil {
		e.log.Debug("raft message not stepped", "err", err)
	}
	if m.From != e.lead && fromLeader(m.Type) && e.r.Status().Lead == m.From {
		// A leader heard anew (after an election, or by a replica that
		// had lost its own): it is in reach from now, not from the
		// next message after the Ready that names it.
		e.heardTick = e.ticks
	}
}

// fromLeader reports whether only a leader sends a raft message of this
// type to a follower.
func fromLeader(t raftpb.MessageType) bool {
	return t == raftpb.MsgApp || t == raftpb.MsgHeartbeat || t == raftpb.MsgSnap
}

// ReportSnapshot tells raft whether a snapshot reached the peer id.
func (e *Engine) ReportSnapshot(id uint64, failed bool) { e.r.ReportSnapshot(id, failed) }

// Propose hands commit records to raft, in raft steps of at most MaxBatch
// records. One that cannot be taken (the log refuses writes, no leader for
// NoLeaderTicks, the engine closed) fails in the next Ready; the others
// wait for their decision, proposed again while no leader takes them or
// after ResendTicks undecided.
func (e *Engine) Propose(props []Proposal) {
	var fail *Failure
	switch {
	case e.closed:
		fail = &Failure{Reason: Closed}
	case e.refused:
		fail = &Failure{Reason: LogRefused, Err: e.diskErr}
	case e.leaderless >= e.cfg.NoLeaderTicks && !e.LeaderInReach():
		// Nothing of the batch entered the log: a definite failure.
		// leaderless is counted at ticks: a replica that has heard its
		// leader since the last one (a snapshot that woke the caller)
		// takes the batch.
		fail = &Failure{Reason: NoLeaderFor, Ticks: e.leaderless}
	}
	if fail != nil {
		for _, p := range props {
			e.completions = append(e.completions, Completion{TxID: p.TxID, Err: fail})
		}
		return
	}
	if e.leadLeft() {
		// Not handed to raft: resend proposes them once another
		// leader is known.
		for _, p := range props {
			e.pending[p.TxID] = proposal{data: p.Data, tick: e.ticks, resends: shift(len(p.Data))}
		}
		return
	}
	for len(props) > 0 {
		batch := props[:min(len(props), e.cfg.MaxBatch)]
		props = props[len(batch):]
		data := make([][]byte, len(batch))
		for i, p := range batch {
			data[i] = p.Data
		}
		// Without a leader raft drops the batch; it waits in pending
		// and is proposed again by resend.
		proposed := e.r.Propose(data...) == nil
		at := e.r.Status().Term
		for _, p := range batch {
			e.pending[p.TxID] = proposal{data: p.Data, tick: e.ticks, at: at, proposed: proposed, resends: shift(len(p.Data))}
		}
	}
}

// Abandon stops proposing again a proposal whose caller stopped waiting;
// its outcome stays as it is. It reports whether the proposal was ever
// handed to raft: false for one never proposed, or already decided (its
// Completion is in a Ready already handed out).
func (e *Engine) Abandon(txid uuid.UUID) (proposed bool) {
	p, ok := e.pending[txid]
	delete(e.pending, txid)
	return ok && p.proposed
}

// Read asks for the group's commit index under the caller's id; a later
// Ready answers it once the replica has applied that index. The id must
// not repeat, across the replica's incarnations too (a restart, a close
// and open again under the same raft ID): raft's leader answers a
// request with the context it came with (readContext), and an answer to
// an earlier incarnation's read of the same id, arriving late, answers
// the new one with a read index from before it began.
func (e *Engine) Read(id uint64) {
	if e.closed {
		e.answers = append(e.answers, ReadDone{ID: id, Err: &Failure{Reason: Closed}})
		return
	}
	rq := &read{id: id}
	e.reads[id] = rq
	e.askReadIndex(rq)
}

// askReadIndex asks raft for the read index of a request. Raft drops the
// question when no leader is known, and a leader change can lose it, so
// checkLeader asks again for requests unanswered for ResendTicks/2.
func (e *Engine) askReadIndex(rq *read) {
	rq.tick = e.ticks
	if !e.r.ReadIndexReady() {
		// A new leader without a commit of its term: asked once it has
		// one (askHeldReads), or again after ResendTicks/2.
		e.readsHeld = true
		return
	}
	e.r.ReadIndex(e.readContext(rq.id))
}

// readContext is the read-index context of the replica's read id: the
// replica's raft ID, then the read's. A leader keys its pending reads by
// the context alone and drops a request whose context is pending, and
// every replica numbers its reads from 1: under the number alone, two
// replicas' reads asked together were one to the leader, and the second
// waited ResendTicks/2 to be asked again.
func (e *Engine) readContext(id uint64) []byte {
	var rctx [16]byte
	binary.BigEndian.PutUint64(rctx[:8], e.id)
	binary.BigEndian.PutUint64(rctx[8:], id)
	return rctx[:]
}

// readOf returns the read id of a read state's context, and false if the
// context is not one of this replica's (readContext): a leader answers a
// request with the context it came with, whatever that was.
func (e *Engine) readOf(rs raft.ReadState) (uint64, bool) {
	if len(rs.RequestCtx) != 16 || binary.BigEndian.Uint64(rs.RequestCtx[:8]) != e.id {
		return 0, false
	}
	return binary.BigEndian.Uint64(rs.RequestCtx[8:]), true
}

// holdAsk holds a peer's read index request while the replica leads
// without a commit of its term (ReadIndexReady), a copy asked again
// replacing the first. Raft holds such requests itself on a leader of
// several voters, but a lone voter answers a learner's at once with its
// commit index, and one restarted leads with the commit index it
// recovered, which may lag what it acknowledged before: the learner then
// read a state older than commits acknowledged before its read began
// (found by the simulation, seed 21482). askHeldReads steps them.
func (e *Engine) holdAsk(m raftpb.Message) {
	e.readsHeld = true
	for i, h := range e.heldAsks {
		if h.From == m.From && len(h.Entries) == 1 && len(m.Entries) == 1 && bytes.Equal(h.Entries[0].Data, m.Entries[0].Data) {
			e.heldAsks[i] = m
			return
		}
	}
	e.heldAsks = append(e.heldAsks, m)
}

// askHeldReads asks the read indexes held while the replica led without
// a commit of its term, once it has one (or leads no more: raft then
// passes peers' requests on to the leader, or drops them, and they are
// asked again), and steps the peers' requests held so.
func (e *Engine) askHeldReads() {
	if !e.readsHeld || !e.r.ReadIndexReady() {
		return
	}
	e.readsHeld = false
	asks := e.heldAsks
	e.heldAsks = nil
	for _, m := range asks {
		if err := e.r.Step(m); err != nil {
			e.log.Debug("held read index request not stepped", "err", err)
		}
	}
	var held []*read
	for _, rq := range e.reads {
		if rq.index == 0 {
			held = append(held, rq)
		}
	}
	// In a fixed order: what raft is asked must not depend on map order.
	slices.SortFunc(held, func(a, b *read) int { return cmp.Compare(a.id, b.id) })
	for _, rq := range held {
		e.askReadIndex(rq)
	}
}

// Checkpointed reports a checkpoint of the replica's state at index taken:
// the log in memory may be compacted up to it.
func (e *Engine) Checkpointed(index uint64) {
	if index > e.lastCkpt {
		e.lastCkpt = index
	}
}

// DiskFailed reports that the log write of the Ready just handed out was
// not made. The owner carries out nothing more of that Ready and does not
// call Advance; the outcomes it handed out before the write
// (OutcomesFirst) stand. The other proposals waiting fail in the next
// Ready: with an
// unknown outcome if they were handed to raft (their entries may yet be
// written, or be in a leader's log), definitely if not; new proposals fail
// at once until the log takes the write, offered again after every Tick.
// Reads of the local state go on.
//
// An asynchronous engine hears of a refused Write at any time; if between
// a Ready and its Advance (a WriteFirst Ready), the owner carries out
// nothing more of that Ready and does not call Advance. Every write in
// flight is offered again, in order, after the next Tick.
func (e *Engine) DiskFailed(err error) {
	e.refused, e.retry, e.diskErr = true, false, err
	if e.r.Async() {
		e.diskFailedAsync()
	} else if g := e.given; g.raft && !e.cfg.OutcomesAfterWrite && raft.IsEmptySnap(e.rd.Snapshot) {
		// The owner handed out the Ready's outcomes before the write:
		// they stand, and are not handed out again.
		e.handed = true
		e.completions = append(e.completions[:0], e.completions[g.completions:]...)
		e.answers = append(e.answers[:0], e.answers[g.answers:]...)
		for _, res := range e.rd.Results {
			delete(e.pending, res.TxID)
		}
	}
	decided := e.applyRefused()
	e.given = given{}
	for id, p := range e.pending {
		if decided[id] {
			continue
		}
		delete(e.pending, id)
		e.completions = append(e.completions, Completion{TxID: id, Err: &Failure{Reason: LogRefused, Unknown: p.proposed, Err: err}})
	}
}

// applyRefused applies an asynchronous Ready handed out with ApplyLater
// whose write the log refused before Apply, and returns the proposals its
// results decide: its committed entries were durable here before its
// write, so they are applied as they would have been with the Ready, and
// Apply, or the Ready handed out again, reports them.
func (e *Engine) applyRefused() map[uuid.UUID]bool {
	if !e.r.Async() || !e.given.raft || e.rd == nil || e.rd.Applied() {
		return nil
	}
	e.r.Apply(e.rd)
	decided := make(map[uuid.UUID]bool, len(e.rd.Results))
	for _, res := range e.rd.Results {
		decided[res.TxID] = true
	}
	return decided
}

// Close fails everything that waits: proposals handed to raft with an
// unknown outcome, those raft never took (no leader known since they
// came) definitely; reads with Closed. The next Ready hands the failures
// out; the engine takes nothing more from the replica.
func (e *Engine) Close() {
	if e.closed {
		return
	}
	e.closed = true
	e.given, e.heldAsks = given{}, nil
	for id, p := range e.pending {
		delete(e.pending, id)
		// Not in any log unless raft took a copy of it.
		e.completions = append(e.completions, Completion{TxID: id, Err: &Failure{Reason: Closed, Unknown: p.proposed}})
	}
	for id := range e.reads {
		delete(e.reads, id)
		e.answers = append(e.answers, ReadDone{ID: id, Err: &Failure{Reason: Closed}})
	}
	for _, rq := range e.readWaits {
		e.answers = append(e.answers, ReadDone{ID: rq.id, Err: &Failure{Reason: Closed}})
	}
	e.readWaits = nil
}

// checkLeader asks again read indexes unanswered for ResendTicks/2,
// counts the ticks this replica has had no leader to hand proposals to
// (none known, or none heard from for two election timeouts), and past
// NoLeaderTicks fails what waits: reads (those waiting for their apply
// too) and never-proposed proposals definitely, the rest with an unknown
// outcome.
func (e *Engine) checkLeader() {
	var again []*read
	for _, rq := range e.reads {
		if e.ticks-rq.tick >= e.cfg.ResendTicks/2 {
			again = append(again, rq)
		}
	}
	// In a fixed order: what raft is asked must not depend on map order.
	slices.SortFunc(again, func(a, b *read) int { return cmp.Compare(a.id, b.id) })
	for _, rq := range again {
		e.askReadIndex(rq)
	}
	if e.LeaderInReach() {
		e.leaderless = 0
		return
	}
	e.leaderless++
	if e.leaderless < e.cfg.NoLeaderTicks {
		return
	}
	if e.leaderless == e.cfg.NoLeaderTicks || len(e.reads)+len(e.pending) > 0 && e.ticks-e.stallLogged >= 10*e.cfg.NoLeaderTicks {
		// What a stalled replica looks like, for the next one seen: when
		// it passes the limit, and then at most every 10 × the limit
		// while it fails what waits.
		e.stallLogged = e.ticks
		e.log.Warn("no leader in reach: failing what waits", "leader", e.lead, "tick", e.ticks,
			"heard", e.heardTick, "leaderless", e.leaderless, "reads", len(e.reads), "proposals", len(e.pending))
	}
	for id := range e.reads {
		delete(e.reads, id)
		e.answers = append(e.answers, ReadDone{ID: id, Err: &Failure{Reason: NoLeaderInReach}})
	}
	// Reads with their index, waiting for the apply: what they wait for
	// can only come from a leader.
	for _, rq := range e.readWaits {
		e.answers = append(e.answers, ReadDone{ID: rq.id, Err: &Failure{Reason: NoLeaderInReach}})
	}
	clear(e.readWaits)
	e.readWaits = e.readWaits[:0]
	for id, p := range e.pending {
		delete(e.pending, id)
		// Not a definite failure if proposed: it may be in the log.
		e.completions = append(e.completions, Completion{TxID: id, Err: &Failure{Reason: NoLeaderInReach, Unknown: p.proposed}})
	}
}

// resend proposes again every proposal that may have been lost (due).
func (e *Engine) resend() {
	if len(e.pending) == 0 || e.leadLeft() {
		return
	}
	if term := e.r.Status().Term; term != e.term {
		e.term, e.termTick = term, e.ticks
	}
	var again []uuid.UUID
	for id, p := range e.pending {
		if e.due(p) {
			again = append(again, id)
		}
	}
	if len(again) == 0 {
		return
	}
	// In a fixed order: the log's order must not depend on map order.
	slices.SortFunc(again, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	data := make([][]byte, len(again))
	for i, id := range again {
		data[i] = e.pending[id].data
	}
	if err := e.r.Propose(data...); err != nil {
		return // no leader yet: try again later
	}
	for _, id := range again {
		p := e.pending[id]
		if p.proposed {
			p.resends = min(p.resends+1, maxResendShift)
		}
		p.tick, p.term, p.at, p.resent, p.proposed = e.ticks, 0, e.term, p.proposed, true
		e.pending[id] = p
	}
}

// due reports whether a pending proposal is to be proposed again:
//   - one raft never took (no leader known), at once;
//   - one the replica's log holds at an earlier term, or that was handed
//     to raft at an earlier term and not seen in the log since: a leader
//     change may have dropped it. Half of ResendTicks into the new term,
//     which gives the new leader the time to commit what it kept;
//   - one handed to the term's leader and not yet seen in the log: the
//     message may have been lost. After ResendTicks, doubled with each
//     resend up to 8 times: a large record on a slow link takes longer
//     than ResendTicks to reach the followers, and every copy sent again
//     is one more they must take before any of them can commit.
//
// One the log holds at the current term is never proposed again: the
// term's leader holds it too and replicates it for as long as it leads.
func (e *Engine) due(p proposal) bool {
	switch {
	case !p.proposed:
		return true
	case p.term != 0:
		return p.term < e.term && e.ticks-e.termTick >= e.cfg.ResendTicks/2
	case p.at < e.term:
		return e.ticks-e.termTick >= e.cfg.ResendTicks/2
	default:
		return e.ticks-p.tick >= e.cfg.ResendTicks<<p.resends
	}
}

// logged notes the pending proposals among entries written to the
// replica's log, with the term of their entries, and where the log holds
// large records.
func (e *Engine) logged(ents []raftpb.Entry) {
	for i := range ents {
		ent := &ents[i]
		if ent.Type != raftpb.EntryNormal || len(e.pending) == 0 && len(ent.Data) < largeRecord {
			continue
		}
		id, ok := consistency.RecordTxID(ent.Data)
		if !ok {
			continue
		}
		if p, ok := e.pending[id]; ok {
			p.term = ent.Term
			e.pending[id] = p
		}
		if len(ent.Data) >= largeRecord {
			e.large[id] = logPos{term: ent.Term, index: ent.Index}
		}
	}
}

// unlogged forgets where the log held pending proposals, when a snapshot
// replaces the log: the entries it covers are never applied here, so their
// results never come, and a copy proposed again reports them. Each is
// marked passed: a Stale decision of a later copy is then unknown.
func (e *Engine) unlogged() {
	for id, p := range e.pending {
		p.term, p.passed = 0, true
		e.pending[id] = p
	}
	clear(e.large)
}

// dropCopies returns the entries of a proposal forwarded to a leader
// without the large records its log holds at its term, not yet applied:
// a follower sent it again before it saw the first copy, which the leader
// replicates for as long as it leads, and the follower learns the
// outcome when it applies that copy. Each copy let through would be one
// more large append to every follower before anything after it commits.
// A record already applied here goes through: its copy is how a follower
// whose log a snapshot replaced learns the outcome (the deduplication
// window answers it).
func (e *Engine) dropCopies(ents []raftpb.Entry) []raftpb.Entry {
	st := e.r.Status()
	if st.RaftState != raft.StateLeader {
		return ents
	}
	copyOf := func(ent *raftpb.Entry) bool {
		if ent.Type != raftpb.EntryNormal || len(ent.Data) < largeRecord {
			return false
		}
		id, ok := consistency.RecordTxID(ent.Data)
		at, held := e.large[id]
		return ok && held && at.term == st.Term
	}
	var kept []raftpb.Entry
	for i := range ents {
		switch {
		case !copyOf(&ents[i]):
			if kept != nil {
				kept = append(kept, ents[i])
			}
		case kept == nil:
			// The message's entries may be shared with its sender (an
			// in-memory transport): the kept ones go to a new slice.
			kept = append(make([]raftpb.Entry, 0, len(ents)-1), ents[:i]...)
		}
	}
	if kept == nil {
		return ents
	}
	e.log.Debug("dropped forwarded copies of large records the log holds", "dropped", len(ents)-len(kept))
	return kept
}

// HasReady reports whether Ready has anything to hand out.
func (e *Engine) HasReady() bool {
	if len(e.completions) > 0 || len(e.answers) > 0 || e.ckptAsk != 0 || len(e.outbox) > 0 && !e.closed {
		return true
	}
	if e.closed || e.lost {
		return false
	}
	if e.r.Async() {
		if e.refused {
			return e.retry
		}
		return e.rd != nil || e.r.HasReady()
	}
	if e.rd != nil {
		return !e.refused || e.retry
	}
	return e.r.HasReady()
}

// Ready returns the effects to carry out. It changes nothing until
// Advance (or DiskFailed): called again, it returns the same. The slices
// Completions and Reads are the engine's, valid until the next Ready.
func (e *Engine) Ready() Ready {
	rd := Ready{Checkpoint: e.ckptAsk, afterWrite: e.cfg.OutcomesAfterWrite, async: e.r.Async()}
	e.given = given{checkpoint: e.ckptAsk}
	if rd.async && !e.closed {
		if e.ckptAsk == 0 {
			e.readyAsync(&rd)
		}
		rd.Messages = append(e.obuf[:0], e.outbox...)
		e.obuf, e.given.outbox = rd.Messages[:0], len(e.outbox)
	} else if e.ckptAsk == 0 && !e.closed {
		if e.rd == nil && !e.lost && e.r.HasReady() {
			e.rdv = e.r.Ready()
			e.rd = &e.rdv
			e.lost = e.rdv.Err != nil
			e.early, e.late = splitMessages(e.rdv.Messages)
			e.late = e.trimAnswers(e.late)
		}
		switch {
		case e.lost:
			rd.Err = e.rd.Err
		case e.rd != nil && (!e.refused || e.retry):
			rd.Ready, rd.HasRaft, rd.Retry = *e.rd, true, e.refused
			rd.Messages = e.late
			if !e.refused {
				rd.Early = e.early
			}
			if e.handed {
				// Handed out before the write the log refused.
				rd.Results, rd.Changes = nil, nil
			}
			e.given.raft = true
		}
	}
	e.gen++
	rd.Completions = append(e.cbuf[:0], e.completions...)
	rd.Reads = append(e.rbuf[:0], e.answers...)
	defer func() { e.cbuf, e.rbuf = rd.Completions[:0], rd.Reads[:0] }()
	e.given.completions, e.given.answers = len(e.completions), len(e.answers)
	if rd.State == nil {
		rd.State = e.r.State()
	}
	if !e.given.raft {
		return rd
	}
	if !e.rd.Applied() {
		rd.ApplyLater = true
		return rd
	}
	e.decided(&rd)
	return rd
}

// Apply applies the committed entries of a Ready handed out with
// ApplyLater and fills in what they decide.
func (e *Engine) Apply(rd *Ready) {
	if !rd.ApplyLater {
		return
	}
	rd.ApplyLater = false
	e.applyTo(rd)
	e.cbuf, e.rbuf = rd.Completions[:0], rd.Reads[:0]
}

// applyTo applies the held Ready and fills in rd what it decides.
func (e *Engine) applyTo(rd *Ready) {
	e.r.Apply(e.rd)
	rd.Results, rd.Changes, rd.State, rd.Err = e.rd.Results, e.rd.Changes, e.rd.State, e.rd.Err
	rd.LeftOut, rd.Added = e.rd.LeftOut, e.rd.Added
	e.decided(rd)
}

// decided adds to rd the completions its results bring, the reads its
// state answers and the configuration if it changed.
func (e *Engine) decided(rd *Ready) {
	// Results decide the proposals that wait for them; a record decided
	// twice (a resent copy) reports the first decision.
	for _, res := range rd.Results {
		p, ok := e.pending[res.TxID]
		if !ok || p.gen == e.gen {
			continue
		}
		p.gen = e.gen
		e.pending[res.TxID] = p
		if res.Outcome == consistency.Stale && (p.resent || p.passed) {
			// An earlier copy may have applied before the window closed.
			rd.Completions = append(rd.Completions, Completion{TxID: res.TxID, Err: &Failure{Reason: ResentStale, Unknown: true}})
			continue
		}
		rd.Completions = append(rd.Completions, Completion{TxID: res.TxID, Result: res})
	}
	if !raft.IsEmptySnap(e.rd.Snapshot) {
		e.recall(rd)
	}
	if !e.handed {
		e.answerReads(rd)
	}
	for _, a := range rd.Added {
		e.joinedTick[a.ID] = e.ticks
	}
	if cs := e.r.ConfState(); !sameConf(cs, e.conf) {
		changed := cs // allocated only when it changed
		rd.Conf = &changed
		for id := range e.joinedTick {
			if !slices.Contains(cs.Voters, id) && !slices.Contains(cs.Learners, id) &&
				!slices.Contains(cs.VotersOutgoing, id) && !slices.Contains(cs.LearnersNext, id) {
				delete(e.joinedTick, id)
			}
		}
	}
}

// recall adds to rd the completions of the proposals waiting here that
// the leader's snapshot rd installs decided: their entries are behind the
// snapshot, so this replica never applies them, and their decisions come
// from its deduplication memory. Before, such a proposal waited for a
// resend to bring it a copy's outcome; on a replica the leader kept
// sending snapshots (a restarted node under a load that outran its catch
// up), no copy ever reached its log as an entry, and the caller waited
// forever. A decision older than the window is not there: the proposal
// is proposed again (unlogged), as before.
func (e *Engine) recall(rd *Ready) {
	var ids []uuid.UUID
	for id, p := range e.pending {
		if p.gen != e.gen {
			ids = append(ids, id)
		}
	}
	// In a fixed order: the completions' order must not depend on map order.
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		res, ok := e.r.Decided(id)
		if !ok {
			continue
		}
		p := e.pending[id]
		p.gen = e.gen
		e.pending[id] = p
		e.recalled = append(e.recalled, id)
		// Never Stale: the memory keeps no Stale decision (a record
		// decided so is proposed again, and its copy's Stale is unknown,
		// as in decided).
		rd.Completions = append(rd.Completions, Completion{TxID: id, Result: res})
	}
}

// answerReads adds to rd the reads its state covers: those whose read
// index was known before, and those rd brings.
func (e *Engine) answerReads(rd *Ready) {
	applied := rd.State.Index()
	for _, rq := range e.readWaits {
		if rq.index <= applied {
			rd.Reads = append(rd.Reads, ReadDone{ID: rq.id})
		}
	}
	for _, rs := range rd.ReadStates {
		// A read asked again may be answered twice: the first counts.
		id, mine := e.readOf(rs)
		rq, ok := e.reads[id]
		if !mine || !ok || rq.gen == e.gen {
			continue
		}
		rq.gen = e.gen
		if rs.Index <= applied {
			rd.Reads = append(rd.Reads, ReadDone{ID: id})
		}
	}
}

// OutcomesFirst reports whether the owner hands out the Ready's outcomes
// (publishes State, hands out Completions, delivers Changes, answers
// Reads) before its log write rather than after: for every Ready from
// the replica but one that installs a leader's snapshot, unless
// Config.OutcomesAfterWrite. What the replica applied is committed,
// durable on a quorum already; nothing of it waits for this replica's
// write.
func (rd *Ready) OutcomesFirst() bool {
	if rd.async {
		return rd.HasRaft && !rd.WriteFirst
	}
	return rd.HasRaft && !rd.afterWrite && raft.IsEmptySnap(rd.Snapshot)
}

// splitMessages parts a Ready's messages into those that may go out
// before its log write is durable and those that wait for it, each in
// raft's order.
func splitMessages(msgs []raftpb.Message) (early, late []raftpb.Message) {
	k := 0
	for k < len(msgs) && beforeSync(msgs[k]) {
		k++
	}
	if !slices.ContainsFunc(msgs[k:], beforeSync) {
		// Raft queues the answers after the rest: the common case.
		return msgs[:k:k], msgs[k:]
	}
	for _, m := range msgs {
		if beforeSync(m) {
			early = append(early, m)
		} else {
			late = append(late, m)
		}
	}
	return early, late
}

// beforeSync reports whether m may go out before the log write of its
// Ready is durable. An append's acknowledgement and a vote promise that
// this replica keeps what they answer for, so raft itself holds them
// back until the write (its msgsAfterAppend); a snapshot is streamed
// from what the owner has stored.
func beforeSync(m raftpb.Message) bool {
	switch m.Type {
	case raftpb.MsgAppResp, raftpb.MsgVoteResp, raftpb.MsgPreVoteResp, raftpb.MsgSnap:
		return false
	}
	return true
}

// Advance tells the engine that the owner has carried out the last Ready.
func (e *Engine) Advance() {
	g := e.given
	e.given = given{}
	e.completions = append(e.completions[:0], e.completions[g.completions:]...)
	e.answers = append(e.answers[:0], e.answers[g.answers:]...)
	e.outbox = append(e.outbox[:0], e.outbox[g.outbox:]...)
	if g.checkpoint != 0 {
		e.ckptAsk = 0
		if e.lastCkpt >= g.checkpoint {
			e.compact(g.checkpoint)
		}
	}
	if e.r.Async() {
		e.advanceAsync(g)
		return
	}
	if !g.raft {
		return
	}
	rd := *e.rd
	e.rd, e.rdv, e.refused, e.retry, e.diskErr = nil, consistency.Ready{}, false, false, nil
	e.early, e.late, e.handed = nil, nil, false
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := e.cfg.Storage.ApplySnapshot(rd.Snapshot); err != nil {
			panic(fmt.Sprintf("engine: apply snapshot: %v", err))
		}
		e.held.reset()
		e.unlogged()
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := e.cfg.Storage.SetHardState(rd.HardState); err != nil {
			panic(fmt.Sprintf("engine: set hard state: %v", err))
		}
	}
	if err := e.cfg.Storage.Append(rd.Entries); err != nil {
		panic(fmt.Sprintf("engine: append: %v", err))
	}
	e.held.append(rd.Entries)
	e.logged(rd.Entries)
	e.r.Advance(rd)
	e.settle(rd.Results, rd.ReadStates, rd.State.Index(), rd.SoftState)
}

// settle ends the waits a Ready handed out the answers to: its results',
// and those of reads its state covers; reads whose index it brings wait
// for their apply. It notes the leader and the configuration and compacts
// the log in memory.
func (e *Engine) settle(results []consistency.Result, states []raft.ReadState, applied uint64, soft *raft.SoftState) {
	for _, res := range results {
		delete(e.pending, res.TxID)
	}
	for _, id := range e.recalled {
		delete(e.pending, id)
	}
	clear(e.recalled)
	e.recalled = e.recalled[:0]
	for _, rs := range states {
		id, mine := e.readOf(rs)
		if rq, ok := e.reads[id]; mine && ok {
			delete(e.reads, id)
			rq.index = rs.Index
			e.readWaits = append(e.readWaits, rq)
		}
	}
	n := 0
	for _, rq := range e.readWaits {
		if rq.index > applied {
			e.readWaits[n] = rq
			n++
		}
	}
	clear(e.readWaits[n:])
	e.readWaits = e.readWaits[:n]
	if soft != nil {
		e.noteCampaign(soft)
		if soft.Lead == e.id && e.lead != e.id {
			// A leadership begins: raft tracks every follower's progress
			// afresh, and the engine what it hears from them (retain).
			clear(e.heardFrom)
			clear(e.matchAt)
			clear(e.unsteadyAt)
			e.leadTick = e.ticks
		}
		e.lead = soft.Lead
	}
	e.askHeldReads()
	e.noteVoters(e.r.ConfState())
	e.conf = e.r.ConfState()
	for id, at := range e.large {
		if at.index <= applied {
			delete(e.large, id)
		}
	}
	e.compact(applied)
}

// compact asks for a checkpoint when one is due, and drops applied log
// entries from memory, keeping a tail and what followers need (retain),
// never past the last checkpoint. A checkpoint is due every CompactEvery
// entries, and sooner once the entries in memory that may leave it hold
// more than LogBytes.
func (e *Engine) compact(applied uint64) {
	e.applied = max(e.applied, applied)
	due, heavy, floor := e.trimDue(applied)
	if e.cfg.Durable && e.checkpointDue(applied, heavy) {
		// Entries may leave memory only once a checkpoint covers them;
		// those it already covers may leave now.
		e.ckptAsk = applied
	}
	if !due && !heavy {
		return
	}
	// Peers that fall behind the first entry left catch up from a
	// snapshot the storage makes when raft asks for it.
	at := min(e.held.tailStart(applied, e.cfg.KeepEntries, e.cfg.KeepBytes), floor)
	if e.cfg.Durable {
		// Snapshots stream from the last checkpoint: the log keeps what
		// follows it.
		at = min(at, e.lastCkpt)
	}
	if at <= e.lastCompact {
		return
	}
	if err := e.cfg.Storage.Compact(at); err != nil && !errors.Is(err, raft.ErrCompacted) {
		e.log.Error("compact", "index", at, "err", err)
		return
	}
	e.held.compact(at)
	e.lastCompact = at
}

// trimDue reports whether the log in memory is due a trim at applied:
// every CompactEvery entries (due), or once the entries that may leave it
// hold more than LogBytes (heavy); and floor, the index up to which the
// followers let it be compacted (retain).
func (e *Engine) trimDue(applied uint64) (due, heavy bool, floor uint64) {
	due = applied >= e.lastCompact+e.cfg.CompactEvery+e.cfg.KeepEntries
	heavy = e.cfg.LogBytes > 0 && e.held.upTo(applied) > e.cfg.LogBytes
	floor = applied
	if due || heavy {
		floor = e.retain(applied)
		heavy = heavy && e.held.upTo(floor) > e.cfg.LogBytes
	}
	return due, heavy, floor
}

// checkpointDue reports whether a checkpoint is due at applied: every
// CompactEvery entries, or sooner if the log in memory is heavy.
func (e *Engine) checkpointDue(applied uint64, heavy bool) bool {
	return applied >= e.lastCkpt+e.cfg.CompactEvery || heavy && applied > e.lastCkpt
}

// retain returns the index up to which the log in memory may be compacted
// for the followers' sake, at most applied. A leader keeps what each
// recently active follower it replicates to has yet to acknowledge, unless
// that is more than MaxLogBytes or already gone: such a follower needs a
// snapshot anyway; one being sent a snapshot needs what follows it
// (needs). A follower not heard from for an election timeout, or for
// SnapshotGraceTicks once a snapshot is on its way to it, and every
// follower of a replica that is not the leader, hold nothing back: only
// a leader sends entries.
//
// Recently active is the engine's own reckoning since the replica took the
// lead (a new leadership tracks every follower afresh), not raft's
// RecentActive: raft clears that every election timeout (CheckQuorum) and
// sets it again only when the follower next answers, and a compaction in
// between would drop what the follower needs.
func (e *Engine) retain(applied uint64) uint64 {
	at := applied
	if e.cfg.MaxLogBytes < 0 || e.lead != e.id {
		return at
	}
	e.r.WithProgress(func(id uint64, pr tracker.Progress) {
		heard, ok := e.heardFrom[id]
		need, snap := needs(pr, e.lastCompact)
		patience := e.cfg.ElectionTicks
		if snap {
			patience = e.cfg.SnapshotGraceTicks
		}
		switch {
		case id == e.id || !ok || e.ticks-heard > patience:
		case need >= at || need < e.lastCompact:
		case e.held.upTo(applied)-e.held.upTo(need)+int(applied-need)*entryOverhead > e.cfg.MaxLogBytes:
		default:
			at = need
		}
	})
	return at
}

// needs returns the index after which a follower needs the leader's log:
// what it acknowledged, or, once a snapshot is on its way to it, the
// snapshot's index (raft then sends from there), and whether it is the
// latter. Until 2026-12-04 a follower being sent a snapshot held nothing
// back, nor one probed after it, whose acknowledgements lay before the
// first entry left: the leader compacted past the snapshot while it was
// sent and installed, and the follower needed another. Under a load that
// fills a checkpoint's worth of log faster than a snapshot travels (a
// restarted node, hundreds of Wissenheim bots), it never caught up, fed
// nothing but snapshots.
//
// Such a follower is silent while it installs the snapshot: its loop
// writes the whole state to its store before it answers again, which on
// a slow disk outlasts an election timeout. It holds the log back for
// SnapshotGraceTicks of silence instead (retain).
func needs(pr tracker.Progress, compacted uint64) (uint64, bool) {
	switch {
	case pr.State == tracker.StateSnapshot:
		return pr.PendingSnapshot, true
	case pr.State == tracker.StateProbe && pr.Match < compacted && pr.Next > 0:
		return pr.Next - 1, true // after a snapshot: where raft probes from
	default:
		return pr.Match, false
	}
}

// entryOverhead is what an entry takes in memory besides its data: its
// raftpb.Entry in the storage and its entrySize. MaxLogBytes counts it.
const entryOverhead = 72

// logSizes is the data size of each entry the log holds in memory, in
// index order.
type logSizes struct {
	ents  []entrySize
	bytes int
}

// entrySize is an entry's index and data size, and the data size of the
// entries held up to it and of those compacted since the last reset, which
// makes upTo a binary search.
type entrySize struct {
	index uint64
	size  int
	end   int
}

func (l *logSizes) reset() { l.ents, l.bytes = l.ents[:0], 0 }

// append notes entries appended to the log; they replace any from their
// first index on.
func (l *logSizes) append(ents []raftpb.Entry) {
	if len(ents) == 0 {
		return
	}
	for n := len(l.ents); n > 0 && l.ents[n-1].index >= ents[0].Index; n-- {
		l.bytes -= l.ents[n-1].size
		l.ents = l.ents[:n-1]
	}
	end := 0
	if n := len(l.ents); n > 0 {
		end = l.ents[n-1].end
	}
	for i := range ents {
		size := len(ents[i].Data)
		end += size
		l.ents = append(l.ents, entrySize{ents[i].Index, size, end})
		l.bytes += size
	}
}

// compact forgets the entries up to index.
func (l *logSizes) compact(index uint64) {
	k := 0
	for k < len(l.ents) && l.ents[k].index <= index {
		l.bytes -= l.ents[k].size
		k++
	}
	l.ents = slices.Delete(l.ents, 0, k)
}

// upTo returns the data size of the entries up to index.
func (l *logSizes) upTo(index uint64) int {
	k, _ := slices.BinarySearchFunc(l.ents, index+1, func(s entrySize, i uint64) int { return cmp.Compare(s.index, i) })
	if k == 0 {
		return 0
	}
	first := l.ents[0].end - l.ents[0].size
	return l.ents[k-1].end - first
}

// tailStart returns the index to compact at to keep, of the entries up to
// applied, a tail of at most keep entries and keepBytes bytes.
func (l *logSizes) tailStart(applied, keep uint64, keepBytes int) uint64 {
	at := applied - min(applied, keep)
	i := len(l.ents) - 1
	for i >= 0 && l.ents[i].index > applied {
		i--
	}
	n := 0
	for ; i >= 0 && l.ents[i].index > at; i-- {
		if n+l.ents[i].size > keepBytes {
			return l.ents[i].index
		}
		n += l.ents[i].size
	}
	return at
}

// ConfState returns the group's configuration as the replica has applied it.
func (e *Engine) ConfState() raftpb.ConfState { return e.r.ConfState() }

func sameConf(a, b raftpb.ConfState) bool {
	return slices.Equal(a.Voters, b.Voters) && slices.Equal(a.Learners, b.Learners) && slices.Equal(a.VotersOutgoing, b.VotersOutgoing)
}
