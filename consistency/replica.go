package consistency

import (
	"errors"
	"fmt"
	"io"
	"log"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// Config configures a Replica.
type Config struct {
	// ID is this replica's raft ID within the heap's group. Required.
	ID uint64
	// Storage is the replica's raft log. The caller appends Ready.Entries
	// and Ready.HardState to it (see the package doc). Required.
	Storage raft.Storage
	// Applied is the index the object state was restored at. Zero for a
	// new replica.
	Applied uint64
	// State, if not nil, is the object state at Applied, as a snapshot
	// encoded it: a replica restarting from a checkpoint. With Objects, it
	// is SnapshotMeta's encoding and Objects are the objects.
	State   []byte
	Objects []Object
	// ElectionTick is the number of Ticks without a leader before a
	// follower campaigns. If zero, 10.
	ElectionTick int
	// HeartbeatTick is the number of Ticks between leader heartbeats. If
	// zero, 1.
	HeartbeatTick int
	// DedupWindow is the number of log entries for which the outcome of a
	// transaction ID is remembered. Every replica of a heap must use the same
	// value. If zero, DefaultDedupWindow.
	DedupWindow uint64
	// MaxSizePerMsg caps the bytes of entries (raftpb.Entry.Size) in one
	// append or forwarded proposal message; a single larger entry goes
	// alone. If zero, 1 MiB.
	MaxSizePerMsg uint64
	// MaxInflightMsgs caps the append messages in flight to one follower.
	// If zero, 256.
	MaxInflightMsgs int
	// MaxUncommittedBytes caps the bytes of proposed but uncommitted
	// entries; proposals beyond it are dropped with raft.ErrProposalDropped.
	// If zero, 64 MiB.
	MaxUncommittedBytes uint64
	// MaxCommittedBytesPerReady caps the bytes of entries applied in one
	// Ready. If zero, 16 MiB.
	MaxCommittedBytesPerReady uint64
	// Logger receives raft's log lines. If nil, they are discarded.
	Logger raft.Logger
	// AsyncStorageWrites has the owner write the log while raft goes on
	// (raft's AsyncStorageWrites): a Ready's write comes as Ready.Append,
	// whose responses the owner steps once it is durable, in order, and
	// Advance is not called. Only entries durable here are applied.
	AsyncStorageWrites bool
	// SkipReadValidation exists only to prove that the checkers catch
	// unvalidated commits: while it is not nil and holds true, this replica
	// commits every transaction without checking what it read, a validator
	// broken on purpose. Tests set it; nothing else may.
	SkipReadValidation *atomic.Bool
}

// Replica is one replica of a heap: a raft node and the object state it
// applies. It is not safe for concurrent use; one goroutine owns it, and
// only OfferSnapshot and WithdrawSnapshot may be called from others.
type Replica struct {
	id     uint64
	maxMsg uint64 // raft's MaxSizePerMsg
	rn     *raft.RawNode
	m      *machine
	cs     raftpb.ConfState
	async  bool // raft's AsyncStorageWrites
	store  raft.Storage
	// The last configuration change this replica appended to its log as
	// leader, and its term (ProposeConfChange).
	confIndex, confTerm uint64

	// Snapshots decoded apart, waiting for raft to take their messages
	// (OfferSnapshot); the only part of a Replica other goroutines use.
	offerMu  sync.Mutex
	offers   map[uint64]*DecodedSnapshot
	offerSeq uint64
	offered  atomic.Int32 // len(offers)
}

var discardLogger = &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

// NewReplica returns a replica over cfg.Storage. A replica whose storage is
// empty must be bootstrapped (Bootstrap) or receive a snapshot from a leader.
func NewReplica(cfg *Config) (*Replica, error) {
	if cfg == nil || cfg.ID == 0 {
		return nil, errors.New("consistency: replica ID must not be zero")
	}
	if cfg.Storage == nil {
		return nil, errors.New("consistency: replica needs a storage")
	}
	rc := &raft.Config{
		ID:                        cfg.ID,
		ElectionTick:              orInt(cfg.ElectionTick, 10),
		HeartbeatTick:             orInt(cfg.HeartbeatTick, 1),
		Storage:                   cfg.Storage,
		Applied:                   cfg.Applied,
		MaxSizePerMsg:             orU64(cfg.MaxSizePerMsg, 1<<20),
		MaxInflightMsgs:           orInt(cfg.MaxInflightMsgs, 256),
		MaxUncommittedEntriesSize: orU64(cfg.MaxUncommittedBytes, 64<<20),
		MaxCommittedSizePerReady:  orU64(cfg.MaxCommittedBytesPerReady, 16<<20),
		CheckQuorum:               true,
		PreVote:                   true,
		StepDownOnRemoval:         true,
		Logger:                    cfg.Logger,
		AsyncStorageWrites:        cfg.AsyncStorageWrites,
	}
	if rc.Logger == nil {
		rc.Logger = discardLogger
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return nil, fmt.Errorf("consistency: %w", err)
	}
	m := newMachine(cfg.DedupWindow)
	m.skipReads = cfg.SkipReadValidation
	m.index = cfg.Applied
	if cfg.State != nil {
		if err := m.restoreWith(cfg.State, cfg.Applied, cfg.Objects); err != nil {
			return nil, err
		}
	}
	m.publish()
	_, cs, err := cfg.Storage.InitialState()
	if err != nil {
		return nil, fmt.Errorf("consistency: %w", err)
	}
	return &Replica{id: cfg.ID, maxMsg: rc.MaxSizePerMsg, rn: rn, m: m, cs: cs, async: cfg.AsyncStorageWrites, store: cfg.Storage}, nil
}

func orInt(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func orU64(v, d uint64) uint64 {
	if v == 0 {
		return d
	}
	return v
}

// Bootstrap initialises a new group with the given voters. The storage must
// be empty.
func (r *Replica) Bootstrap(peers []raft.Peer) error {
	return r.rn.Bootstrap(peers)
}

// Campaign makes the replica stand for election now.
func (r *Replica) Campaign() error { return r.rn.Campaign() }

// Tick advances the replica's logical clock by one tick.
func (r *Replica) Tick() { r.rn.Tick() }

// Step feeds a raft message from a peer into the replica.
func (r *Replica) Step(m raftpb.Message) error { return r.rn.Step(m) }

// Propose appends encoded commit records to the log, all in one raft step
// (group commit). It fails with raft.ErrProposalDropped when this replica
// cannot accept proposals (no leader known, a leader transfer, or the
// uncommitted bytes cap reached); then none of the records was proposed.
//
// A replica that does not lead hands the records to the leader in raft
// proposal messages, sent as they are. Like raft's appends, each holds
// entries of at most MaxSizePerMsg bytes together, or one larger entry
// alone, so that a proposal message is never larger than an append
// message. Either every message goes or none: a follower forwards
// every proposal while it knows a leader.
func (r *Replica) Propose(records ...[]byte) error {
	if len(records) == 0 {
		return nil
	}
	ents := make([]raftpb.Entry, len(records))
	for i, d := range records {
		ents[i] = raftpb.Entry{Data: d}
	}
	if r.rn.BasicStatus().RaftState == raft.StateLeader {
		return r.rn.Step(raftpb.Message{Type: raftpb.MsgProp, From: r.id, Entries: ents})
	}
	for len(ents) > 0 {
		n, size := 1, uint64(ents[0].Size())
		for n < len(ents) && size+uint64(ents[n].Size()) <= r.maxMsg {
			size += uint64(ents[n].Size())
			n++
		}
		if err := r.rn.Step(raftpb.Message{Type: raftpb.MsgProp, From: r.id, Entries: ents[:n:n]}); err != nil {
			return err
		}
		ents = ents[n:]
	}
	return nil
}

// ReadIndex asks for the commit index at which a linearizable read may be
// served. The answer arrives in a later Ready's ReadStates with the same
// request context.
func (r *Replica) ReadIndex(rctx []byte) { r.rn.ReadIndex(rctx) }

// Status returns raft's view of the replica.
func (r *Replica) Status() raft.BasicStatus { return r.rn.BasicStatus() }

// State returns the object state as of the last Ready.
func (r *Replica) State() *State { return r.m.state }

// Decided returns the decision the deduplication memory holds for a
// transaction ID: its first copy's, without Duplicate. A replica that a
// leader's snapshot brought past an entry learns its decision only here:
// it never applies the entry.
func (r *Replica) Decided(txid uuid.UUID) (Result, bool) { return r.m.decided(txid) }

// HasReady reports whether Ready would return anything to do.
func (r *Replica) HasReady() bool { return r.rn.HasReady() }

// Ready is a batch of work for the replica's owner; see the package doc for
// the order in which its parts must be handled.
type Ready struct {
	raft.Ready
	// Results are the decisions on the commit records applied in this
	// Ready, in log order.
	Results []Result
	// Changes are the change sets of the committed records, in log order.
	Changes []ChangeSet
	// State is the object state after the applied entries; it is the same
	// pointer as the previous Ready's when nothing was applied.
	State *State
	// Err is set when the replica cannot go on: a snapshot from the leader
	// that does not decode. The owner must stop using the replica and
	// rebuild it; nothing of this Ready was applied.
	Err error
	// Append, with AsyncStorageWrites, is the log write to make (raft's
	// MsgStorageAppend: Entries, the HardState in Term, Vote and Commit,
	// Snapshot), nil if none. Once it and every Append before it are
	// durable, the owner steps its Responses that are addressed to this
	// replica (StepLocal) and sends the rest. Messages then holds only
	// what may go out at once.
	Append *raftpb.Message
	// LeftOut says a configuration change applied here left this replica
	// out of its group, whether or not a later one in the same Ready took
	// it back: the only sign, in one Ready, of a removal the replica
	// missed while cut off and a return made before it asked.
	LeftOut bool
	// Added are the replicas that configuration changes applied here made
	// members of the group while they were not, with each change's index,
	// in log order. A change that makes a voter a learner adds nobody.
	Added []Added

	applyResp []raftpb.Message // raft's, to step once applied
	applied   bool             // Apply has run
}

// Ready applies the newly committed entries and returns what the owner must
// persist, send and report.
func (r *Replica) Ready() Ready {
	rd := r.Take()
	r.Apply(&rd)
	return rd
}

// Take returns what Ready does without applying the committed entries:
// Apply applies them, before the next Take. Between the two the owner may
// send the messages and hand out the log write, which need nothing of the
// apply. State is nil until Apply.
func (r *Replica) Take() Ready {
	rd := Ready{Ready: r.rn.Ready()}
	if r.async {
		rd.applyResp = r.takeLocal(&rd)
	}
	if rd.Append != nil {
		r.noteConfChange(rd.Append.Entries)
	} else {
		r.noteConfChange(rd.Entries)
	}
	return rd
}

// noteConfChange notes the last configuration change among entries this
// replica appends, for ProposeConfChange.
func (r *Replica) noteConfChange(ents []raftpb.Entry) {
	for i := len(ents) - 1; i >= 0; i-- {
		if t := ents[i].Type; t == raftpb.EntryConfChange || t == raftpb.EntryConfChangeV2 {
			if ents[i].Term > r.confTerm || ents[i].Term == r.confTerm && ents[i].Index > r.confIndex {
				r.confIndex, r.confTerm = ents[i].Index, ents[i].Term
			}
			return
		}
	}
}

// Applied reports whether Apply has run on rd.
func (rd *Ready) Applied() bool { return rd.applied }

// Apply applies the committed entries of a Ready from Take, once: it
// installs a leader's snapshot, fills in Results, Changes and State, or
// Err.
func (r *Replica) Apply(rd *Ready) {
	if rd.applied {
		return
	}
	rd.applied = true
	if snap := rd.Ready.Snapshot; !raft.IsEmptySnap(snap) && snap.Metadata.Index > r.m.index {
		// A leader's snapshot replaces the whole state; the entries after
		// it follow in this or later Readies.
		var err error
		if DecodedApart(snap.Data) {
			switch st := r.takeOffer(snap.Data); {
			case st == nil:
				err = fmt.Errorf("consistency: the state decoded for the snapshot at %d is not here", snap.Metadata.Index)
			case st.index != snap.Metadata.Index:
				err = fmt.Errorf("consistency: snapshot holds state at %d, raft says %d", st.index, snap.Metadata.Index)
			default:
				r.m.install(st)
			}
		} else {
			err = r.m.restore(snap.Data, snap.Metadata.Index)
		}
		if err != nil {
			// This replica cannot go on: report it rather than apply
			// entries on top of a state it does not have.
			rd.Err = err
			rd.State = r.m.state
			return
		}
		r.cs = snap.Metadata.ConfState
	}
	if n := len(rd.CommittedEntries); n > 0 {
		// At most one of each an entry: no growing them entry by entry.
		rd.Results, rd.Changes = make([]Result, 0, n), make([]ChangeSet, 0, n)
	}
	for i := range rd.CommittedEntries {
		e := &rd.CommittedEntries[i]
		if e.Index <= r.m.index {
			continue
		}
		switch e.Type {
		case raftpb.EntryNormal:
			r.m.applyNormal(rd, e.Index, e.Data)
		case raftpb.EntryConfChange:
			var cc raftpb.ConfChange
			if err := cc.Unmarshal(e.Data); err == nil {
				r.applyConf(cc, e.Index, rd)
			}
			r.m.skip(e.Index)
		case raftpb.EntryConfChangeV2:
			var cc raftpb.ConfChangeV2
			if err := cc.Unmarshal(e.Data); err == nil {
				r.applyConf(cc, e.Index, rd)
			}
			r.m.skip(e.Index)
		}
	}
	rd.State = r.m.publish()
	r.pruneOffers()
	for _, m := range rd.applyResp {
		// Applied: raft may hand out the next committed entries.
		_ = r.rn.Step(m)
	}
}

// inConf reports whether the configuration applied last holds this
// replica, as a voter or a learner, in either half of a joint one.
func (r *Replica) inConf() bool { return member(&r.cs, r.id) }

// Added is a replica a configuration change made a member of its group.
type Added struct {
	ID    uint64 // the replica's raft ID
	Index uint64 // the change's log index
}

// member reports whether id is a voter or a learner of cs, or becomes one.
func member(cs *raftpb.ConfState, id uint64) bool {
	return slices.Contains(cs.Voters, id) || slices.Contains(cs.VotersOutgoing, id) ||
		slices.Contains(cs.Learners, id) || slices.Contains(cs.LearnersNext, id)
}

// applyConf applies the configuration change at index, and notes in rd
// whether it left this replica out and whom it added.
func (r *Replica) applyConf(cc raftpb.ConfChangeI, index uint64, rd *Ready) {
	before := r.cs
	r.cs = *r.rn.ApplyConfChange(cc)
	rd.LeftOut = rd.LeftOut || !r.inConf()
	for _, ids := range [][]uint64{r.cs.Voters, r.cs.Learners, r.cs.LearnersNext} {
		for _, id := range ids {
			if !member(&before, id) {
				rd.Added = append(rd.Added, Added{ID: id, Index: index})
			}
		}
	}
}

// takeLocal takes from rd's messages those addressed to the local append
// and apply threads of raft's AsyncStorageWrites: the append becomes
// rd.Append; the apply's entries are rd.CommittedEntries, which Ready
// applies itself, and it returns the apply's responses to step once they
// are applied.
func (r *Replica) takeLocal(rd *Ready) (applyResp []raftpb.Message) {
	msgs := rd.Messages
	n := 0
	for i := range msgs {
		switch msgs[i].To {
		case raft.LocalAppendThread:
			m := msgs[i]
			rd.Append = &m
		case raft.LocalApplyThread:
			applyResp = msgs[i].Responses
		default:
			msgs[n] = msgs[i]
			n++
		}
	}
	clear(msgs[n:])
	rd.Messages = msgs[:n]
	return applyResp
}

// StepLocal steps a response of an Append made durable: raft's own
// acknowledgement of the write (MsgStorageAppendResp) and those of its
// messages addressed to itself.
func (r *Replica) StepLocal(m raftpb.Message) error { return r.rn.Step(m) }

// ReadIndexReady reports whether a read index asked now is safe to
// answer: false while this replica leads and has not yet applied an
// entry of its own term. Raft holds such reads on a leader of several
// voters until it commits one, but answers a lone voter's with its commit
// index at once, and a lone voter restarted with asynchronous writes
// leads before its election's entry is durable, with the commit index it
// recovered, which may lag what it acknowledged before (found by the
// simulation, seed 49). The applied entry is the one to look at: it is
// in the log in memory, where a leader's commit index may run ahead of
// its own durable entries while followers acknowledge them first (asking
// for that one held a busy leader's reads indefinitely).
func (r *Replica) ReadIndexReady() bool {
	st := r.rn.BasicStatus()
	if st.RaftState != raft.StateLeader {
		return true
	}
	t, err := r.store.Term(st.Applied)
	return err == nil && t == st.Term
}

// Async reports whether the replica writes its log asynchronously
// (Config.AsyncStorageWrites).
func (r *Replica) Async() bool { return r.async }

// Advance tells the replica that the owner has handled rd. With
// AsyncStorageWrites it does nothing: StepLocal takes its place.
func (r *Replica) Advance(rd Ready) {
	if !r.async {
		r.rn.Advance(rd.Ready)
	}
}

// ConfState is the group's configuration as of the applied index.
func (r *Replica) ConfState() raftpb.ConfState { return r.cs }

// ReportUnreachable tells raft that a message to the peer could not be
// sent.
func (r *Replica) ReportUnreachable(id uint64) { r.rn.ReportUnreachable(id) }

// ReportSnapshot tells raft whether a snapshot reached the peer.
func (r *Replica) ReportSnapshot(id uint64, failed bool) {
	status := raft.SnapshotFinish
	if failed {
		status = raft.SnapshotFailure
	}
	r.rn.ReportSnapshot(id, status)
}

// ErrConfChangePending is returned by ProposeConfChange when the leader
// cannot take a configuration change yet; the caller proposes it again
// later.
var ErrConfChangePending = errors.New("consistency: a configuration change is pending")

// ProposeConfChange proposes a change of the group's configuration. Raft
// takes one at a time: a leader declines a change while one it appended
// has not been applied, and also until it has applied an entry of its own
// term (a change from an earlier term may be in its log), while the group
// is in a joint configuration (other than the change that leaves it), and
// a change that leaves a joint configuration the group is not in. Raft
// declines silently, turning the change into an empty entry; here the
// leader refuses it with ErrConfChangePending instead, and nothing is
// appended, so the caller knows to propose it again.
func (r *Replica) ProposeConfChange(cc raftpb.ConfChangeV2) error {
	if why := r.confChangeBlocked(len(cc.Changes) == 0); why != "" {
		return fmt.Errorf("%w: %s", ErrConfChangePending, why)
	}
	return r.rn.ProposeConfChange(cc)
}

// confChangeBlocked says why raft, on a leader, would decline a
// configuration change now ("" if it would not): raft's own checks
// (pendingConfIndex, which it sets to its last index when it becomes
// leader, and the joint configuration), from what this replica can see.
func (r *Replica) confChangeBlocked(leaveJoint bool) string {
	st := r.rn.BasicStatus()
	if st.RaftState != raft.StateLeader {
		return "" // raft hands it to the leader, which decides
	}
	if t, err := r.store.Term(st.Applied); err != nil || t != st.Term {
		return fmt.Sprintf("the leader has not yet applied an entry of its term %d (applied %d)", st.Term, st.Applied)
	}
	if r.confTerm == st.Term && r.confIndex > st.Applied {
		return fmt.Sprintf("the change at %d is not applied yet (applied %d)", r.confIndex, st.Applied)
	}
	joint := len(r.cs.VotersOutgoing) > 0
	switch {
	case joint && !leaveJoint:
		return "the group is in a joint configuration"
	case !joint && leaveJoint:
		return "the group is in no joint configuration to leave"
	}
	return ""
}

// TransferLeader asks the leader to hand leadership to the voter to.
func (r *Replica) TransferLeader(to uint64) { r.rn.TransferLeader(to) }

// FullStatus returns raft's view of the replica including, on the leader,
// the progress of every peer.
func (r *Replica) FullStatus() raft.Status { return r.rn.Status() }

// WithProgress calls visit with the progress of every peer, this replica
// included, as raft tracks it (meaningful on the leader only), without
// FullStatus's copies.
func (r *Replica) WithProgress(visit func(id uint64, pr tracker.Progress)) {
	r.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) { visit(id, pr) })
}
