// Package sim runs a whole cluster of replicated heaps in deterministic
// simulation: replicas (consistency and raft) driven by the heap's runtime
// (engine) with asynchronous log writes, as package oss drives them, their
// write-ahead logs and checkpoints on crashable in-memory disks whose
// writes take time (disk.go), the in-memory network with virtual time,
// and the catalog, a replicated heap like the others whose entries name
// the heaps' groups.
// Clients create and drop heaps in the catalog and run list-append
// transactions on them through the engine's proposal and read paths;
// every node follows its catalog replica as engine.Sync decides, opening
// and closing heap replicas; a reconciler places each group's replicas
// with engine.Plan, removes catalog replicas and lets them rejoin; and a
// nemesis partitions the network, loses, duplicates and delays messages,
// cuts the power of nodes, fails and slows their disks and starves their
// loops — all driven from one seeded generator on one goroutine, so that a
// seed replays bit for bit. The histories of every heap's incarnation are
// checked with internal/check, every decision and State against a serial
// model per group, and the nodes' replicas against the catalog.
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
	"hash"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"math/rand/v2"
	"path"
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
	// DedupWindow, if not zero, is the replicas' deduplication window
	// (consistency.Config.DedupWindow), 4096 entries otherwise: a small
	// one decides many records Stale, and closes on resent copies.
	DedupWindow uint64
	// Impatient has one commit in two given up 0 to 60 ms after it is
	// queued, and deadlines checked before each node's turn in a step
	// as well as after all of them: commits are abandoned while queued,
	// in raft's hands, forwarded, while the log writes them and once
	// they are decided.
	Impatient bool
	// Closes closes a node's engines (Engine.Close), as a heap closes,
	// before one power loss in two, and hands their answers to the
	// clients.
	Closes bool
	// FollowPartitions has the reconciler count as live servers only the
	// up nodes its leader's node can reach, as membership that follows
	// the network does: with ReplaceAfter, replicas cut off are replaced,
	// or removed by a shrink, and ask to join again once healed.
	FollowPartitions bool
	// HardPartitions adds the network faults of hardPartition: a node cut
	// off again and again, two at once, flapping, healed late.
	HardPartitions bool
	// Mutations break one thing of the runtime on purpose.
	Mutations Mutations
	// ReplaceAfter, if not zero, is the reconciler's ReplaceAfter, with
	// members timed missing from when it first missed them and removed
	// replicas asking to join again, so that engine.Plan replaces and
	// shrinks (with an hour, the default, it never does).
	ReplaceAfter time.Duration
	// SlowNetwork holds every message 1 to 1.5 election timeouts (100 to
	// 150 ms) until Duration ends, from the start: every answer to a
	// vote comes after the candidate's timeout unless its election clock
	// slows (engine, slowdown.go). Meant without Faults.
	SlowNetwork bool
}

// Mutations break one thing each, to show that the checks see it.
type Mutations struct {
	// WrittenBeforeDurable reports a log write written (engine.Written)
	// as the disk queue takes it rather than once it is durable: raft
	// then counts, acknowledges and applies entries a power loss takes
	// back.
	WrittenBeforeDurable bool
	// CatalogWrittenBeforeDurable does so for the catalog replicas only:
	// a node then follows, and acts on, catalog states a power loss
	// takes back.
	CatalogWrittenBeforeDurable bool
	// WritesReordered has a node's disk make its writes durable in the
	// order their delays end, not in the order handed out (each written
	// on its own, at once), reporting each as it ends: a replica's log on
	// disk then holds its writes out of order.
	WritesReordered bool
	// AbandonedLeftQueued tells a client that gives up on a proposal
	// still queued at its node that it failed, and leaves it in the
	// queue: the loop hands it to the engine, and it may commit.
	AbandonedLeftQueued bool
	// AbandonedFailed tells a client whose proposal the engine had handed
	// to raft when it gave up that it failed: it may commit afterwards.
	AbandonedFailed bool
	// AbandonedCommitted tells such a client that it committed.
	AbandonedCommitted bool
	// ClosedFailed tells the clients of a closed engine that every
	// proposal it held failed, those raft took included (Options.Closes).
	ClosedFailed bool
	// SkipRejoin never lets a removed replica rejoin.
	SkipRejoin bool
	// ConfSnapshotStale serves snapshots with the configuration of the
	// last checkpoint after a change: a replica added since refuses them.
	ConfSnapshotStale bool
	// RestartEmpty restarts nodes from an empty disk.
	RestartEmpty bool
	// RemoveBelowQuorum lets the reconciler remove a voter even when the
	// voters left up would not be a quorum of the new configuration.
	RemoveBelowQuorum bool
	// KeepDropped has nodes leave open the replicas of heaps dropped from
	// the catalog, which engine.Sync tells them to close.
	KeepDropped bool
	// SyncBeforeCatalogCommit has nodes follow their catalog replica
	// before it has applied the log recovered with it: a directory older
	// than the replicas recovered from disk.
	SyncBeforeCatalogCommit bool
	// OpenBeforeCatalogCommit has nodes open the replicas such a
	// directory names (closing none): heaps they closed as dropped
	// before they restarted may be among them.
	OpenBeforeCatalogCommit bool
	// CatalogGateByIndex holds a restarted node's catalog gate by the
	// recovered log's last index alone, as the simulation did until
	// 2026-12-08: an uncommitted tail of that log, cut by a later leader,
	// may never be reached, and the node then opens no heap a leader
	// reaches it for.
	CatalogGateByIndex bool
	// FixedElectionClock hands raft every tick however late the answers
	// to a campaign come (engine.Config.FixedElectionClock): with
	// SlowNetwork, no group elects a leader while the delay holds.
	FixedElectionClock bool
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
	// Told counts the outcomes clients were told, heaps' and the
	// catalog's: "committed", "failed", "unknown".
	Told map[string]int
	// Paths counts the runtime paths the run took, by name ("resend",
	// "unknown outcome", ...): what a range of seeds covered.
	Paths map[string]int
	Index uint64 // the catalog replicas' final applied index
}

func (r *Result) String() string {
	return fmt.Sprintf("seed %d: %d transactions (%d committed), index %d, told: %s; faults: %s; paths: %s; anomalies %d, acknowledged appends lost %d, trace %016x",
		r.Seed, r.Txns, r.Committed, r.Index, Counts(r.Told), Counts(r.Faults), Counts(r.Paths), len(r.Anomalies), r.Lost, r.Trace)
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
	dedupWindow  = 4096
	compactEvery = 100 // applied entries between a heap's checkpoints
	keepEntries  = 20
	// The catalog changes seldom: it checkpoints and compacts its log
	// after a few entries, so that a replica that rejoins it is sent a
	// snapshot.
	catalogCompactEvery = 4
	catalogKeepEntries  = 1
	resendTicks         = engine.DefaultResendTicks
	// stillTicks is how long a run's end waits, with no new
	// transactions, before it checks outcomes: longer than any client's
	// deadline and a few resends.
	stillTicks = 250
	// maxDeliveries bounds the messages delivered in one tick.
	maxDeliveries = 100000
)

type node struct {
	// id is the node's raft ID, under which it opens replicas of new
	// groups; a replica keeps the ID it was opened under (removal and
	// rejoin give the catalog's a new one).
	id   uint64
	name string
	up   bool
	mem  *persist.MemFS
	disk *persist.FaultFS
	ep   *transporttest.Endpoint
	back time.Duration // when a node that is down comes back

	cat  *replica            // its replica of the catalog
	reps map[string]*replica // its open replicas by heap name, the catalog's included
	// byName is reps by heap name, nil when reps changed since.
	byName []*replica
	// catalogCommit is the last index of the catalog log it recovered:
	// it follows the catalog once its replica has applied that, or an
	// entry of a later term than catalogTerm, as oss's catalogGate
	// (catalogApplied). catalogTerm is the term of the recovered log's
	// last entry; 0 once the gate is passed, or for a floor recorded by
	// a replica it replaced that the log recovered has not reached, held
	// by index alone.
	catalogCommit, catalogTerm uint64
	resync                     bool              // a replica the catalog asks for could not be opened yet
	durable                    map[string]uint64 // by replica directory, the highest log index its log made durable
	closed                     map[uint64]bool   // the groups whose replicas it closed as dropped

	starved  time.Duration
	missed   int      // ticks it missed while starved
	inbox    [][]byte // messages that arrived while starved
	slowDisk time.Duration

	// The node's disk queue: log writes handed out by its engines, in
	// the order handed out, each durable at its due time (disk.go).
	queue   []diskWrite
	diskAt  time.Duration // the due time of the last write queued
	answers []diskAnswer  // the disk's answers its starved loop has not heard
}

// replica is a node's replica of one group, in its own directory.
type replica struct {
	g     *group
	id    uint64 // its raft ID
	dir   string
	wal   *persist.WAL
	store *raft.MemoryStorage
	r     *consistency.Replica
	eng   *engine.Engine
	state *consistency.State // the last State its replica published

	queue   []engine.Proposal // proposals its loop has not taken yet
	refused time.Duration     // since when the log refuses writes, 0 if it takes them
	broken  bool              // the log refused a write the engine has not heard of
	// queued is the hard state of the last write handed to the disk
	// queue; written, that of the last write the log made durable.
	queued, written raftpb.HardState
	copies          map[uuid.UUID]int // copies of each record this replica applied
	catalogAt       uint64            // the catalog's applied index when it was opened; 0 if recovered
	// snapsSent are the peers sent a snapshot, reported to raft as
	// delivered on the next tick (a transfer takes time).
	snapsSent []uint64
}

type pending struct {
	rep      *replica // the replica the transaction runs on
	txn      check.Txn
	deadline time.Duration
	queued   bool   // not taken by the node's loop yet
	asked    uint64 // a read: the node's tick when it asked
}

// told is one commit's outcome as its client learnt it.
type told struct {
	id uuid.UUID
	g  *group
	st check.Status
}

type rejoin struct {
	victim *node
	old    uint64          // its raft ID when removed
	up     map[uint64]bool // the voters up when the removal was last proposed
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
	catalog *group
	groups  []*group          // the catalog, then the heaps' incarnations as proposed
	byGroup map[uint64]*group // by the catalog entry's Group
	created map[uint64]bool   // the groups whose creation committed
	waiting map[uuid.UUID]*pending
	reads   map[uint64]*pending
	readID  uint64
	busy    map[int]bool // clients with a transaction in flight
	next    []int        // the next value to append, per key
	txn     uint64
	faults  map[string]int
	paths   map[string]int // runtime paths taken, by name
	healAt  time.Duration  // when the current network fault ends
	netPlan []netEvent     // the current network fault's steps to come
	rejoin  *rejoin
	bad     []check.Anomaly // found by the runtime's own invariants
	err     error

	// told is what each client was told of its commit, in the order
	// told; still stops the clients once the run is over.
	told  []told
	still bool

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
	if opts.DedupWindow == 0 {
		opts.DedupWindow = dedupWindow
	}
	s := &sim{opts: opts, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x73696d)), net: transporttest.NewNetwork(seed),
		names: map[uint64]*node{}, byGroup: map[uint64]*group{}, created: map[uint64]bool{}, waiting: map[uuid.UUID]*pending{}, reads: map[uint64]*pending{}, busy: map[int]bool{},
		next: make([]int, opts.Keys), faults: map[string]int{}, paths: map[string]int{}}
	s.skipReads.Store(opts.BreakValidation)
	s.catalog = s.newGroup(catalogHeap, 0, opts.Nodes)
	defer s.close()
	var peers []raft.Peer
	for i := range opts.Nodes {
		peers = append(peers, raft.Peer{ID: uint64(i + 1)})
	}
	s.nextID = uint64(opts.Nodes)
	for i := range opts.Nodes {
		n := &node{id: uint64(i + 1), name: fmt.Sprintf("n%d", i+1), mem: persist.NewMemFS(), durable: map[string]uint64{}, closed: map[uint64]bool{}}
		n.ep = s.net.Endpoint(n.name, handler{s, n})
		s.nodes = append(s.nodes, n)
		s.names[n.id] = n
		if err := s.boot(n, peers); err != nil {
			return nil, err
		}
	}
	if opts.SlowNetwork {
		s.net.SetFaults(transporttest.Faults{MinDelay: 10 * tick, MaxDelay: 15 * tick})
		s.faults["slow network"]++
	}
	end := opts.Duration
	for s.now < end && s.err == nil {
		s.step(opts.Faults)
	}
	// The faults end; every node comes back; the cluster settles.
	s.net.Heal()
	s.netPlan = nil
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

// boot starts a node on its disk: every replica it finds there, from its
// checkpoint and log, and the catalog's, bootstrapped with the catalog's
// first configuration (peers) on a new disk; then it follows the catalog.
func (s *sim) boot(n *node, peers []raft.Peer) error {
	n.disk = &persist.FaultFS{FS: n.mem}
	n.reps, n.cat, n.byName = map[string]*replica{}, nil, nil
	n.inbox, n.missed, n.catalogCommit, n.catalogTerm, n.resync = nil, 0, 0, 0, false
	dirs, err := n.disk.ReadDir("/data")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	found := map[string]bool{}
	for _, d := range dirs {
		dir := "/data/" + d
		b, err := readFile(n.disk, dir+"/meta")
		if err != nil {
			continue // a replica closed for good, or never opened
		}
		var gid, id, floor uint64
		if _, err := fmt.Sscan(string(b), &gid, &id, &floor); err != nil {
			return fmt.Errorf("sim: %s: %s: %w", n.name, dir, err)
		}
		g := s.byGroup[gid]
		if g == nil {
			return fmt.Errorf("sim: %s: %s holds a replica of group %x, which no client proposed", n.name, dir, gid)
		}
		found[dir] = true
		if r := n.reps[g.heap]; r != nil {
			// An older incarnation of a heap recreated under its name
			// (its closing did not reach the disk); the later one wins.
			if slices.Index(s.groups, r.g) > slices.Index(s.groups, g) {
				continue
			}
			r.wal.Close()
		}
		rep, commit, err := s.openReplica(n, g, id, dir, nil)
		if err != nil {
			return err
		}
		if g == s.catalog {
			n.cat = rep
			n.catalogCommit, n.catalogTerm = max(commit, floor), 0
			if t, err := rep.store.Term(commit); err == nil && commit >= floor {
				n.catalogTerm = t
			}
			continue
		}
		if commit == 0 {
			// Nothing of it reached the log: as if never opened. The
			// catalog opens it again if the node is a first voter.
			s.closeReplica(n, rep)
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(n.durable)) {
		if d := n.durable[dir]; d > 0 && !found[dir] {
			// What the log made durable must come back: a replica that
			// restarts empty under its old raft ID could vote twice or
			// lose commits.
			return fmt.Errorf("sim: %s restarted with an empty replica (its log had made index %d durable in %s)", n.name, d, dir)
		}
	}
	if n.cat == nil {
		if n.cat, err = s.newReplica(n, s.catalog, n.id, peers, 0); err != nil {
			return err
		}
	}
	n.up = true
	s.syncCatalog(n)
	return nil
}

// newReplica opens a new replica of g on n under raft ID id: first its
// directory, with what says whose it is, then the replica, bootstrapped
// with peers if any, else empty, to be caught up by the leader. floor is
// how far the node's catalog had come, for a catalog replica that
// replaces one.
func (s *sim) newReplica(n *node, g *group, id uint64, peers []raft.Peer, floor uint64) (*replica, error) {
	dir := fmt.Sprintf("/data/%x-%d", g.id, id)
	if err := writeFile(n.disk, dir+"/meta", fmt.Appendf(nil, "%d %d %d", g.id, id, floor)); err != nil {
		return nil, err
	}
	rep, _, err := s.openReplica(n, g, id, dir, peers)
	return rep, err
}

// openReplica opens n's replica of g in dir: from its checkpoint and log
// if it has them, else bootstrapped with the group's first configuration
// (peers), or empty, to be caught up by the leader (peers nil). commit is
// the last index of the log it recovered.
func (s *sim) openReplica(n *node, g *group, id uint64, dir string, peers []raft.Peer) (_ *replica, commit uint64, _ error) {
	rep := &replica{g: g, id: id, dir: dir, store: raft.NewMemoryStorage(), copies: map[uuid.UUID]int{}}
	var snap raftpb.Snapshot
	if b, err := readFile(n.disk, dir+"/checkpoint"); err == nil {
		if err := snap.Unmarshal(b); err != nil {
			return nil, 0, fmt.Errorf("sim: %s: checkpoint: %w", n.name, err)
		}
		if err := rep.store.ApplySnapshot(snap); err != nil {
			return nil, 0, err
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
	wal, err := persist.OpenWAL(n.disk, dir+"/wal", wopts, func(_ uint64, rec []byte) error {
		var m raftpb.Message
		if err := m.Unmarshal(rec); err != nil {
			return err
		}
		empty = false
		if m.Term != 0 || m.Commit != 0 {
			hs = raftpb.HardState{Term: m.Term, Vote: m.Index, Commit: m.Commit}
		}
		return rep.store.Append(m.Entries)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sim: %s: %w", n.name, err)
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
	if err := rep.store.SetHardState(hs); err != nil {
		return nil, 0, err
	}
	last, _ := rep.store.LastIndex()
	if d := n.durable[dir]; d > 0 && last == 0 {
		// What the log made durable must come back: a replica that
		// restarts empty under its old raft ID could vote twice or
		// lose commits.
		return nil, 0, fmt.Errorf("sim: %s restarted with an empty replica (its log had made index %d durable in %s)", n.name, d, dir)
	}
	rep.wal = wal
	rep.queued, rep.written = hs, hs
	if err := s.startReplica(n, rep, snap.Metadata.Index, snap.Data, empty, peers); err != nil {
		return nil, 0, err
	}
	rep.state = rep.r.State() // as recovered
	n.reps[g.heap], n.byName = rep, nil
	s.names[id] = n
	booted = true
	return rep, max(hs.Commit, last), nil
}

// startReplica makes a replica recovered at applied (its state data) and
// its engine, with asynchronous log writes as oss makes every replica:
// bootstrapped with peers if it is empty and they are given, its first
// write durable before it goes on.
func (s *sim) startReplica(n *node, rep *replica, applied uint64, data []byte, empty bool, peers []raft.Peer) error {
	g := rep.g
	var err error
	rep.r, err = consistency.NewReplica(&consistency.Config{ID: rep.id, Storage: rep.store, DedupWindow: s.opts.DedupWindow,
		Applied: applied, State: data, SkipReadValidation: &s.skipReads, AsyncStorageWrites: true})
	if err != nil {
		return err
	}
	bootstrap := empty && peers != nil
	if bootstrap {
		if err := rep.r.Bootstrap(peers); err != nil {
			return err
		}
	}
	rep.eng, err = engine.New(engine.Config{Replica: rep.r, Storage: rep.store, Durable: true, Checkpoint: applied,
		CompactEvery: g.compactEvery, KeepEntries: g.keepEntries, ResendTicks: resendTicks,
		// As oss's catalog: a node acts on its states for good. (An
		// asynchronous replica applies only what its log made durable,
		// and hands out every outcome at once.)
		OutcomesAfterWrite: g.heap == catalogHeap,
		// As oss's heaps: the apply after the sends and the write.
		ApplyApart:         true,
		FixedElectionClock: s.opts.Mutations.FixedElectionClock})
	if err != nil {
		return err
	}
	if bootstrap {
		return s.settle(n, rep)
	}
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
	dir := path.Dir(name)
	if err := fsys.MkdirAll(dir); err != nil {
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
	return fsys.SyncDir(dir)
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
	if rep := h.s.deliver(h.n, msg); rep != nil {
		h.s.ready(h.n, rep)
	}
}

// deliver hands a message to the node's replica of its group, and returns
// that replica; nil if the node has none. A node with no replica of a
// heap that the leader of the group its catalog names reaches opens one,
// empty: a learner to be.
func (s *sim) deliver(n *node, msg []byte) *replica {
	gid, heap, raw, ok := unwrap(msg)
	var m raftpb.Message
	if !ok || m.Unmarshal(raw) != nil {
		s.fail(fmt.Errorf("sim: %s: a message that does not decode", n.name))
		return nil
	}
	rep := n.reps[heap]
	if rep == nil && m.To == n.id && (m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap || m.Type == raftpb.MsgHeartbeat) &&
		(n.cat.state.Index() >= n.catalogCommit || s.opts.Mutations.OpenBeforeCatalogCommit) {
		// Only from a catalog caught up with its recovered log, as oss's
		// route: an older one may name a heap this node dropped (seed 1968).
		if o, ok := n.cat.state.Get(engine.EntryID(heap)); ok {
			if e, ok := engine.DecodeEntry(o); ok && e.Group == gid {
				rep = s.openHeap(n, e, "on a leader's message")
			}
		}
	}
	if rep != nil && rep.g.id != gid {
		s.paths["catalog: message of another incarnation refused"]++
	}
	if rep == nil || rep.g.id != gid || m.To != rep.id {
		return nil // not a replica of this group (yet), of an earlier incarnation, or the replica this node had before it rejoined
	}
	if m.Type == raftpb.MsgSnap && m.Snapshot != nil {
		if cs := m.Snapshot.Metadata.ConfState; !slices.Contains(slices.Concat(cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext), m.To) {
			// Raft ignores it: a replica sent only such snapshots
			// never catches up.
			s.bad = append(s.bad, check.Anomaly{Kind: "snapshot-without-recipient",
				Explain: fmt.Sprintf("%s (raft ID %d) of heap %s was sent a snapshot at %d whose configuration %v does not name it", n.name, m.To, heap, m.Snapshot.Metadata.Index, cs)})
		}
	}
	rep.eng.Step(m)
	return rep
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

// deliverDue delivers the messages due before next, at most maxDeliveries:
// raft on a log that lost what it acknowledged can trade messages without
// end (a run that lost it is caught), and the run fails.
// Log writes that become durable meanwhile are answered in their turn.
func (s *sim) deliverDue(next time.Duration) {
	for k := 0; s.err == nil; k++ {
		at, ok := s.net.Next()
		dn, due := s.nextDurable()
		disk := dn != nil && due <= next && (!ok || due <= at)
		if !disk && (!ok || at > next) {
			return
		}
		if k == maxDeliveries {
			s.fail(fmt.Errorf("sim: seed %d: more than %d deliveries in one tick", s.seed, maxDeliveries))
			return
		}
		if disk {
			s.net.AdvanceTo(due)
			s.durable(dn)
			continue
		}
		s.net.Step()
	}
}

// step delivers the messages due before the next tick, then ticks: node
// loops run (a starved one gets its missed ticks late), clients, the
// reconciler and the nemesis act.
func (s *sim) step(faults bool) {
	next := s.now + tick
	s.deliverDue(next)
	s.now = next
	s.net.AdvanceTo(s.now)
	for _, n := range s.nodes {
		if s.opts.Impatient {
			s.giveUp() // between two nodes' turns too
		}
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
		if slices.ContainsFunc(n.replicas(), func(r *replica) bool { return r.refused != 0 && s.now-r.refused > 300*time.Millisecond }) {
			// A log that keeps refusing: the operator restarts the node
			// (a failed sync leaves persist's log failed until then).
			s.crash(n, 0)
			continue
		}
		s.hearDisk(n)
		for _, msg := range n.inbox {
			s.deliver(n, msg)
		}
		n.inbox = nil
		if n.resync {
			s.syncCatalog(n)
		}
		for _, r := range n.replicas() {
			if n.reps[r.g.heap] != r {
				continue // closed meanwhile
			}
			for _, to := range r.snapsSent {
				r.eng.ReportSnapshot(to, false)
				s.paths["snapshot sent"]++
			}
			r.snapsSent = nil
			for range 1 + n.missed {
				r.eng.Tick()
			}
			s.take(r)
			s.ready(n, r)
		}
		n.missed = 0
	}
	s.giveUp()
	for _, id := range s.readIDs() {
		if s.now >= s.reads[id].deadline {
			delete(s.reads, id) // the client stopped waiting; the answer is ignored
			s.paths["read given up"]++
		}
	}
	s.netSchedule()
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
		if !s.still && !s.busy[c] && s.rng.IntN(3) == 0 {
			s.client(c)
		}
	}
}

// replicas returns the node's open replicas, by heap name. The slice is
// not changed afterwards: a replica closed meanwhile stays in it.
func (n *node) replicas() []*replica {
	if n.byName == nil {
		n.byName = make([]*replica, 0, len(n.reps))
		for _, name := range slices.Sorted(maps.Keys(n.reps)) {
			n.byName = append(n.byName, n.reps[name])
		}
	}
	return n.byName
}

// take hands the proposals queued at a replica to its engine, as the
// heap's loop takes a batch.
func (s *sim) take(r *replica) {
	if len(r.queue) == 0 {
		return
	}
	for _, q := range r.queue {
		if p, ok := s.waiting[q.TxID]; ok {
			p.queued = false
		}
	}
	r.eng.Propose(r.queue)
	r.queue = nil
}

// giveUp abandons the commits whose deadline has come.
func (s *sim) giveUp() {
	for _, id := range s.waitingIDs() {
		if p := s.waiting[id]; s.now >= p.deadline {
			s.abandon(id)
		}
	}
}

// impatient returns a commit's deadline: the one given, or, for one in
// two commits of impatient clients, 0 to 60 ms from now.
func (s *sim) impatient(deadline time.Duration) time.Duration {
	if s.opts.Impatient && s.rng.IntN(2) == 0 {
		return s.now + time.Duration(s.rng.IntN(61))*time.Millisecond
	}
	return deadline
}

// abandon is a client giving up on its transaction at its deadline.
func (s *sim) abandon(id uuid.UUID) {
	p := s.waiting[id]
	r := p.rep
	if p.queued {
		// Never given to the engine: it cannot commit, once out of
		// the queue.
		if !s.opts.Mutations.AbandonedLeftQueued {
			r.queue = slices.DeleteFunc(r.queue, func(q engine.Proposal) bool { return q.TxID == id })
		}
		s.paths["abandon while queued"]++
		s.resolve(id, check.Fail)
		return
	}
	s.paths["abandon"]++
	proposed := r.eng.Abandon(id)
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

// ready carries out what a replica's engine has ready, as the heap's loop
// does over an asynchronous replica: send the Ready's messages (a
// leader's appends, and answers its written log vouches for), hand out
// its outcomes (only what the log made durable is applied), hand its
// writes to the node's disk queue without waiting, or, for a Ready that
// installs a leader's snapshot, make them and every write queued before
// them durable first and then hand out its outcomes; note the
// configuration, checkpoint. A node follows its catalog after each Ready
// of its catalog replica that published a new state.
func (s *sim) ready(n *node, r *replica) {
	if len(n.answers) > 0 && n.starved <= s.now {
		s.hearDisk(n) // heard first, as the heap's loop hears the log
	}
	for n.up && n.starved <= s.now && n.reps[r.g.heap] == r && r.eng.HasReady() && s.err == nil {
		rd := r.eng.Ready()
		if rd.Err != nil {
			s.fail(fmt.Errorf("sim: %s: %w", n.name, rd.Err))
			return
		}
		var snapTo []uint64
		if !s.send(n, r, rd.Early, &snapTo) || !s.send(n, r, rd.Messages, &snapTo) {
			return
		}
		first := rd.OutcomesFirst()
		if rd.Retry {
			s.paths["log write retried"]++
		}
		if rd.WriteFirst {
			if !s.writeFirst(n, r, rd.Writes) {
				continue // refused: the engine holds the Ready
			}
			s.paths["snapshot installed"]++
		} else {
			s.enqueue(n, r, rd.Writes)
		}
		// Applied after the sends and the write, as oss's loop does
		// (engine.Config.ApplyApart).
		r.eng.Apply(&rd)
		published := first && s.outcomes(n, r, rd)
		if !first && s.outcomes(n, r, rd) {
			published = true
		}
		if rd.Checkpoint != 0 {
			s.checkpoint(n, r, rd.Checkpoint)
		}
		r.eng.Advance()
		if rd.Conf != nil && !s.opts.Mutations.ConfSnapshotStale {
			// Snapshots carry the configuration they are sent under: a
			// replica added since the last checkpoint refuses one that
			// does not name it. The applied state, with the new
			// configuration, is served from now on.
			if data, err := snapshotData(r.r); err == nil {
				if _, err := r.store.CreateSnapshot(rd.State.Index(), rd.Conf, data); err == nil {
					s.paths["snapshot after configuration change"]++
				}
			}
		}
		r.snapsSent = append(r.snapsSent, snapTo...)
		if r == n.cat && rd.HasRaft && rd.State != nil && s.catalogApplied(n, rd.CommittedEntries, rd.State.Index()) {
			published = true // the node acts on its catalog at once
		}
		if published && r == n.cat && n.reps[r.g.heap] == r {
			s.syncCatalog(n)
		}
	}
}

// outcomes publishes a Ready's state, then hands out its decisions,
// completions and read answers. It reports whether a new state was
// published.
func (s *sim) outcomes(n *node, r *replica, rd engine.Ready) (published bool) {
	if rd.HasRaft {
		for _, res := range rd.Results {
			s.decided(n, r, res)
		}
		if rd.State != r.state {
			r.state, published = rd.State, true
			r.g.model.state(n.name, rd.State)
		}
	}
	completions := slices.Clone(rd.Completions)
	slices.SortFunc(completions, func(a, b engine.Completion) int { return bytes.Compare(a.TxID[:], b.TxID[:]) })
	for _, c := range completions {
		s.complete(r, c)
	}
	reads := slices.Clone(rd.Reads)
	slices.SortFunc(reads, func(a, b engine.ReadDone) int { return cmpUint(a.ID, b.ID) })
	for _, rd2 := range reads {
		s.answer(n, r, rd2, rd.State)
	}
	return published
}

// send sends a replica's raft messages in its group's envelope, noting in
// snapTo the peers sent a snapshot, and marks commit notices as package
// oss does when it sends (engine.MarkNotice), so that the faults play on
// followers that leave them unanswered. It reports false if a message
// does not encode (the run fails).
func (s *sim) send(n *node, r *replica, msgs []raftpb.Message, snapTo *[]uint64) bool {
	for i := range msgs {
		m := &msgs[i]
		r.eng.MarkNotice(m)
		b, err := m.Marshal()
		if err != nil {
			s.fail(err)
			return false
		}
		if to, ok := s.names[m.To]; ok {
			n.ep.Send(context.Background(), to.name, wrap(r.g, b))
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

// persist makes a log write's snapshot, hard state and entries durable:
// what the disk queue does once the write is due. A write without a hard
// state is logged with the last one logged before it.
func (s *sim) persist(n *node, r *replica, w engine.Write) error {
	if !raft.IsEmptySnap(w.Snapshot) {
		b, err := w.Snapshot.Marshal()
		if err != nil {
			return err
		}
		if err := writeFile(n.disk, r.dir+"/checkpoint", b); err != nil {
			return err
		}
	}
	if raft.IsEmptyHardState(w.HardState) && len(w.Entries) == 0 {
		return nil
	}
	hs := w.HardState
	if raft.IsEmptyHardState(hs) {
		hs = r.written
	}
	rec, err := (&raftpb.Message{Term: hs.Term, Index: hs.Vote, Commit: hs.Commit, Entries: w.Entries}).Marshal()
	if err != nil {
		return err
	}
	if _, err := r.wal.Append(rec); err != nil {
		return err
	}
	r.written = hs
	if k := len(w.Entries); k > 0 && !s.opts.AckBeforeSync {
		n.durable[r.dir] = max(n.durable[r.dir], w.Entries[k-1].Index)
	}
	return nil
}

// checkpoint takes the checkpoint a node's engine asks for: its state at
// index, durable on its disk and served to followers behind the log.
func (s *sim) checkpoint(n *node, r *replica, index uint64) {
	data, err := snapshotData(r.r)
	if err != nil {
		s.fail(err)
		return
	}
	cs := r.r.ConfState()
	snap, err := r.store.CreateSnapshot(index, &cs, data)
	if errors.Is(err, raft.ErrSnapOutOfDate) {
		snap, err = r.store.Snapshot()
	}
	if err != nil {
		s.fail(fmt.Errorf("sim: %s: checkpoint at %d: %w", n.name, index, err))
		return
	}
	b, err := snap.Marshal()
	if err == nil {
		err = writeFile(n.disk, r.dir+"/checkpoint", b)
	}
	if err != nil {
		return // the disk fails: asked again later
	}
	r.eng.Checkpointed(index)
	s.paths["checkpoint"]++
	if len(s.waiting) > 0 {
		s.paths["checkpoint under load"]++
	}
}

// decided holds a decision against the model and counts the copies of
// records that reached the log more than once (resent).
func (s *sim) decided(n *node, r *replica, res consistency.Result) {
	first := r.g.model.decide(n.name, res)
	if first && r.g == s.catalog {
		s.catalogDecided(res)
	}
	r.copies[res.TxID]++
	c := r.copies[res.TxID]
	if c <= r.g.copies[res.TxID] {
		return // another replica applied this copy first
	}
	r.g.copies[res.TxID] = c
	switch {
	case c > 1:
		s.paths["resend"]++
	case res.Outcome == consistency.Conflicted && r.g == s.catalog:
		s.paths["catalog: conflict"]++ // two creates or drops of one name at once
	case res.Outcome == consistency.Conflicted:
		s.paths["conflict"]++
	}
}

// complete hands a client the outcome of its proposal.
func (s *sim) complete(r *replica, c engine.Completion) {
	p, ok := s.waiting[c.TxID]
	if !ok || p.rep != r {
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
		// Proposed once, and no leader's snapshot passed over entries
		// while it waited (the engine fails either as unknown): no
		// earlier copy was decided. oss reports it as a conflict.
		s.paths["stale"]++
		s.resolve(c.TxID, check.Fail)
	default:
		s.resolve(c.TxID, check.Fail)
	}
}

// answer completes a fresh read-only transaction at the state its read
// index covers.
func (s *sim) answer(n *node, r *replica, d engine.ReadDone, st *consistency.State) {
	p, ok := s.reads[d.ID]
	if !ok || p.rep != r {
		return
	}
	delete(s.reads, d.ID)
	s.busy[p.txn.Process] = false
	if d.Err != nil {
		s.paths["read failed"]++
		return // a read that got no answer has no effect to check
	}
	if r.eng.Ticks()-p.asked >= resendTicks/2 {
		s.paths["read retry"]++
	}
	r.g.model.state(n.name+"'s fresh read", st)
	for i, m := range p.txn.Mops {
		o, _ := st.Get(listID(m.Key))
		p.txn.Mops[i].List = decodeList(o.Value)
	}
	p.txn.Status, p.txn.End, p.txn.ID = check.OK, int64(s.now), len(r.g.history)
	r.g.history = append(r.g.history, p.txn)
}

// crash cuts a node's power: what its disk had not synced is lost, and
// every write still in its disk queue. It
// comes back after down (now, if zero: on the next tick after a delay the
// nemesis did not choose).
func (s *sim) crash(n *node, down time.Duration) {
	if len(n.queue) > 0 {
		s.paths["power loss with writes in flight"]++
		if n.slowDisk > s.now {
			s.paths["power loss during a slow write"]++
		}
	}
	n.queue, n.answers = nil, nil // what the disk had not made durable is lost
	disk := n.mem.Crash(s.rng)
	for _, r := range n.replicas() {
		r.wal.Close()
		s.forget(r)
	}
	n.up, n.mem, n.reps, n.cat, n.byName = false, disk, nil, nil, nil
	if down == 0 {
		down = time.Duration(50+s.rng.IntN(300)) * time.Millisecond
	}
	n.back = s.now + down
}

// forget ends the waits of the clients of a replica that is gone: a
// proposal still queued never reached the engine, one handed to raft may
// have committed.
func (s *sim) forget(r *replica) {
	for _, id := range s.waitingIDs() {
		if p := s.waiting[id]; p.rep == r {
			if p.queued {
				s.resolve(id, check.Fail)
			} else {
				s.resolve(id, check.Info)
			}
		}
	}
	for _, id := range s.readIDs() {
		if p := s.reads[id]; p.rep == r {
			delete(s.reads, id)
			s.busy[p.txn.Process] = false
		}
	}
	r.queue = nil
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
		for _, r := range n.replicas() {
			r.wal.Close()
		}
	}
}

// leader returns the node whose replica of g leads and that replica, nil
// if none is up and sure.
func (s *sim) leader(g *group) (*node, *replica) {
	for _, n := range s.nodes {
		if !n.up || n.starved > s.now {
			continue
		}
		if r := n.reps[g.heap]; r != nil && r.g == g && r.r.Status().RaftState == raft.StateLeader {
			return n, r
		}
	}
	return nil, nil
}

// reconcile is the leaders' replica management, group by group.
func (s *sim) reconcile() {
	for _, g := range s.groups {
		s.reconcileGroup(g)
	}
}

// unsteady is the leader's engine.Engine.Unsteady of voters, as oss
// passes it to engine.Plan, moved from the engine's ticks (counted since
// it started) to the simulation's, now.
func unsteady(eng *engine.Engine, voters []uint64, now uint64) map[uint64]uint64 {
	out := eng.Unsteady(voters)
	for id, at := range out {
		out[id] = now - min(now, eng.Ticks()-at)
	}
	return out
}

// reconcileGroup is the replica management of one group by its leader. A
// removal is the simulation's (an operator's, or an eviction) and is of a
// catalog replica: the leader removes the victim's replica; once the
// victim reaches the leader again it finds it is out, wipes its replica
// and asks to join under a new raft ID. The rest is engine.Plan's, as in
// oss: the join as a learner, its promotion once caught up, a heap placed
// on fewer voters than it wants grown, leadership moved to the
// best-placed voter.
func (s *sim) reconcileGroup(g *group) {
	_, l := s.leader(g)
	if l == nil {
		return
	}
	cs := l.r.ConfState()
	rj := s.rejoin
	if g != s.catalog {
		rj = nil
	}
	if rj != nil && !s.rejoinStep(l, cs, rj) {
		return
	}
	if s.now < g.planWait {
		return
	}
	st := l.r.FullStatus()
	match := make(map[uint64]uint64, len(st.Progress))
	for id, pr := range st.Progress {
		match[id] = pr.Match
	}
	in := engine.PlanInput{Heap: g.heap, Self: l.id, Replicas: g.replicas, Leader: true, Transferring: st.LeadTransferee != 0,
		Conf: cs, Commit: st.Commit, Match: match, Tick: uint64(s.now / tick), LastTransfer: g.lastTransfer,
		Now: time.Unix(0, 0).Add(s.now), ReplaceAfter: time.Hour, Missing: map[uint64]time.Time{}}
	if s.opts.ReplaceAfter > 0 {
		in.ReplaceAfter = s.opts.ReplaceAfter
	}
	in.Unsteady = unsteady(l.eng, cs.Voters, in.Tick)
	ln := s.names[l.id]
	for _, n := range s.nodes {
		if !s.live(n, ln) || rj != nil && rj.victim == n && rj.phase != joining {
			continue // a removed replica is not a server until it rejoins
		}
		// Membership names a node by the ID of its replica of the
		// group, or by the node's own for a group it has no replica of.
		id := n.id
		if r := n.reps[g.heap]; r != nil && r.g == g {
			id = r.id
		}
		in.Live = append(in.Live, engine.Member{ID: id, Name: n.name, Server: true})
		if rj != nil && rj.victim == n && !slices.Contains(cs.Learners, id) && !slices.Contains(cs.Voters, id) {
			in.Joins = append(in.Joins, id)
		}
	}
	if s.opts.ReplaceAfter > 0 {
		s.missingAndJoins(g, &in, cs, rj)
	}
	a := engine.Plan(in)
	s.noteHeld(in, a)
	switch a.Kind {
	case engine.ChangeConf:
		s.changeConf(l, a.Why.String(), a.Changes...)
	case engine.TransferLeader:
		l.r.TransferLeader(a.To)
		g.lastTransfer = uint64(s.now / tick)
		s.paths["reconcile: "+a.Why.String()]++
		g.planWait = s.now + 300*time.Millisecond
	}
}

// noteHeld counts a placement transfer the plan held back because its
// voter was not yet steady (PlanInput.Unsteady): the path of the rule.
func (s *sim) noteHeld(in engine.PlanInput, a engine.Action) {
	if a.Kind != engine.Nothing || len(in.Unsteady) == 0 {
		return
	}
	in.Unsteady = nil
	if b := engine.Plan(in); b.Kind == engine.TransferLeader && b.Why == engine.Place {
		s.paths["reconcile: placement held for an unsteady voter"]++
	}
}

// rejoinStep takes the catalog's removal and rejoin a step further; false
// while the removal is not applied yet (the leader plans nothing else).
// The removal is proposed again until it applies, each time only while
// the voters left up are a quorum of the configuration it would leave:
// the leader's configuration may have changed since it was decided.
func (s *sim) rejoinStep(l *replica, cs raftpb.ConfState, rj *rejoin) bool {
	v := rj.victim
	switch rj.phase {
	case removing:
		if slices.Contains(cs.Voters, rj.old) || slices.Contains(cs.Learners, rj.old) {
			if s.now >= rj.retry {
				rj.retry = s.now + 300*time.Millisecond
				if up, ok := s.quorumLeft(cs, rj.old); ok {
					rj.up = up
					s.changeConf(l, "remove", raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode, NodeID: rj.old})
				}
			}
			return false
		}
		rj.phase = removed
		s.checkQuorum(rj, cs)
	case removed:
		if s.opts.Mutations.SkipRejoin || !v.up || v.starved > s.now || !s.net.Reachable(v.name, s.names[l.id].name) {
			break
		}
		if s.wipe(v) {
			rj.phase = joining
		}
	case joining:
		if v.up && slices.Contains(cs.Voters, v.cat.id) {
			s.paths["removal+rejoin"]++
			s.rejoin = nil
		}
	}
	return true
}

// quorumLeft returns the voters of cs other than old that are up, and
// whether they are a quorum of the configuration without old (always
// with Mutations.RemoveBelowQuorum).
func (s *sim) quorumLeft(cs raftpb.ConfState, old uint64) (map[uint64]bool, bool) {
	up := map[uint64]bool{}
	for _, id := range cs.Voters {
		if n := s.names[id]; id != old && n.up && n.cat.id == id {
			up[id] = true
		}
	}
	left := len(cs.Voters)
	if slices.Contains(cs.Voters, old) {
		left--
	}
	ok := len(up) >= left/2+1 && left >= 2
	return up, ok || s.opts.Mutations.RemoveBelowQuorum
}

// changeConf has the leader propose a configuration change.
func (s *sim) changeConf(l *replica, why string, changes ...raftpb.ConfChangeSingle) {
	if l.r.ProposeConfChange(raftpb.ConfChangeV2{Changes: changes}) != nil {
		return // raft cannot take it yet (a node plans again at its next tick)
	}
	s.paths["reconcile: "+why]++
	l.g.planWait = s.now + 300*time.Millisecond
	s.ready(s.names[l.id], l)
}

// checkQuorum holds an applied removal against the voters up when it was
// last proposed: crashes since are not the reconciler's doing.
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

// wipe replaces a removed catalog replica by a new, empty one under a new
// raft ID, to be caught up by the leader, and closes the old one for
// good; false if the disk refuses. The node follows the catalog again
// once the new replica has come as far as the old one had.
func (s *sim) wipe(v *node) bool {
	old := v.cat
	floor := max(v.catalogCommit, old.state.Index())
	s.nextID++
	r, err := s.newReplica(v, s.catalog, s.nextID, nil, floor)
	if err != nil {
		v.reps[catalogHeap], v.byName = old, nil
		return false
	}
	s.closeReplica(v, old)
	// A gate not yet passed (catalogTerm not 0) is the old log's, and
	// the old replica applied nothing past it: it stays, with its term.
	v.cat, v.catalogCommit = r, floor
	return true
}

// startRemoval has the reconciler remove a catalog voter other than the
// leader, when the voters left up would still be a quorum.
func (s *sim) startRemoval(v *node) bool {
	ln, l := s.leader(s.catalog)
	if s.rejoin != nil || l == nil || v == ln || !v.up {
		return false
	}
	cs := l.r.ConfState()
	if !slices.Contains(cs.Voters, v.cat.id) || len(cs.VotersOutgoing) > 0 {
		return false
	}
	upAt, ok := s.quorumLeft(cs, v.cat.id)
	if !ok {
		return false
	}
	s.rejoin = &rejoin{victim: v, old: v.cat.id, up: upAt}
	s.reconcileGroup(s.catalog)
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

// client starts a transaction on a node that is up: now and then a
// change of the catalog (catalogClient), else one on a heap replica of a
// node (heapClient).
func (s *sim) client(c int) {
	var up, holders []*node // holders: of a heap replica
	for _, n := range s.nodes {
		if n.up {
			up = append(up, n)
			if len(n.reps) > 1 {
				holders = append(holders, n)
			}
		}
	}
	if len(up) == 0 {
		return
	}
	if len(holders) == 0 || s.rng.IntN(catalogEvery) == 0 {
		s.catalogClient(c, up[s.rng.IntN(len(up))])
		return
	}
	n := holders[s.rng.IntN(len(holders))]
	var heaps []*replica
	for _, r := range n.replicas() {
		if r != n.cat {
			heaps = append(heaps, r)
		}
	}
	s.heapClient(c, n, heaps[s.rng.IntN(len(heaps))])
}

// heapClient starts a transaction on a node's heap replica: read-only at
// its local snapshot or at a fresh read index, or appends (each reading
// its list first) queued at the replica as a commit record.
func (s *sim) heapClient(c int, n *node, r *replica) {
	g := r.g
	st := r.state // as published: what the replica applied may not be durable yet
	g.model.state(n.name+"'s view", st)
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
	txn := check.Txn{ID: len(g.history), Process: c, Mops: mops, Start: int64(s.now), End: int64(s.now)}
	deadline := s.now + time.Duration(300+s.rng.IntN(1700))*time.Millisecond
	switch {
	case fresh:
		// Linearizable: what it reads is filled in when the read index
		// is applied.
		txn.Realtime = true
		s.readID++
		s.reads[s.readID] = &pending{rep: r, txn: txn, deadline: deadline, asked: r.eng.Ticks()}
		s.busy[c] = true
		r.eng.Read(s.readID)
		s.ready(n, r)
		return
	case readOnly:
		txn.Status = check.OK
		g.history = append(g.history, txn)
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
	g.model.records[txid] = rec
	s.busy[c] = true
	s.waiting[txid] = &pending{rep: r, txn: txn, deadline: s.impatient(deadline), queued: true}
	r.queue = append(r.queue, engine.Proposal{TxID: txid, Data: data})
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
	if st == check.Info {
		s.paths["unknown outcome"]++
	}
	g := p.rep.g
	if st == check.OK && g != s.catalog && s.opts.SlowNetwork && s.now < s.opts.Duration {
		s.paths["committed while slow"]++
	}
	s.told = append(s.told, told{id, g, st})
	if g == s.catalog {
		return // the catalog's changes are checked by their decisions
	}
	p.txn.Status, p.txn.End = st, int64(s.now)
	if st != check.OK {
		p.txn.Mops = appendsOf(p.txn.Mops)
	}
	p.txn.ID = len(g.history)
	g.history = append(g.history, p.txn)
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
	switch kind := s.rng.IntN(10); kind {
	case 0, 1, 2, 8:
		if s.opts.HardPartitions && kind != 2 {
			s.hardPartition(names)
			break
		}
		s.networkFault(kind, names, hold)
	case 3, 4, 5, 6, 7:
		s.nodeFault(kind, hold)
	case 9:
		if s.startRemoval(s.nodes[s.rng.IntN(len(s.nodes))]) {
			s.faults["removal"]++
		}
	}
}

// networkFault starts the network fault of nemesis's kind, unless one is
// on: a partition of the shuffled names, a bridge across one, loss with
// duplication, delay and reordering, or a partition longer than the
// leaderless limit; all but the long one heal after hold.
func (s *sim) networkFault(kind int, names []string, hold time.Duration) {
	if s.healAt != 0 || len(names) < 2 {
		return // one on, or one node: no network to break
	}
	switch kind {
	case 0:
		k := 1 + s.rng.IntN(len(names)-1)
		s.net.Partition(names[:k], names[k:])
		s.faults["partition"]++
		s.healAt = s.now + hold
	case 1:
		if len(names) >= 3 {
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
		s.net.SetFaults(transporttest.Faults{Drop: 0.2, Duplicate: 0.2, MaxDelay: 30 * time.Millisecond, Reorder: true})
		s.faults["drop+duplicate+delay+reorder"]++
		s.healAt = s.now + hold
	case 8:
		// Longer than the leaderless limit and clients' deadlines.
		s.net.Partition(names[:1], names[1:])
		s.faults["long partition"]++
		s.healAt = s.now + time.Duration(1500+s.rng.IntN(1500))*time.Millisecond
	}
}

// nodeFault strikes a node drawn at random, if it is up, with the fault
// of nemesis's kind for hold: a power cut, a disk whose writes and syncs
// fail, a starved loop or a slow disk.
func (s *sim) nodeFault(kind int, hold time.Duration) {
	n := s.nodes[s.rng.IntN(len(s.nodes))]
	if !n.up {
		return
	}
	switch kind {
	case 3, 4:
		if s.opts.Closes && s.rng.IntN(2) == 0 {
			s.closeEngines(n)
		}
		s.crash(n, hold)
		s.faults["power loss"]++
	case 5:
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
	case 6:
		if n.starved <= s.now {
			n.starved = s.now + hold
			s.faults["starved loop"]++
		}
	case 7:
		n.slowDisk = s.now + hold
		s.faults["slow disk"]++
	}
}

// closeEngines closes a node's engines as oss's loop closes its heap's
// (Engine.Close) and hands out what they answer: an unknown outcome for
// each proposal raft took, a definite failure for one it never did.
func (s *sim) closeEngines(n *node) {
	for _, r := range n.replicas() {
		if n.reps[r.g.heap] != r {
			continue
		}
		r.eng.Close()
		for r.eng.HasReady() {
			rd := r.eng.Ready()
			completions := slices.Clone(rd.Completions)
			slices.SortFunc(completions, func(a, b engine.Completion) int { return bytes.Compare(a.TxID[:], b.TxID[:]) })
			for _, c := range completions {
				if c.Err != nil && c.Err.Reason == engine.Closed && !c.Err.Unknown {
					s.paths["closed before raft took it"]++
				}
				if s.opts.Mutations.ClosedFailed && c.Err != nil {
					c.Err = &engine.Failure{Reason: engine.Closed}
				}
				s.complete(r, c)
			}
			r.eng.Advance()
		}
	}
	s.faults["close"]++
}

// noteClocks counts, in paths, the election clocks' doublings the open
// replicas made, and those still slowed.
func (s *sim) noteClocks() {
	for _, n := range s.nodes {
		for _, r := range n.replicas() {
			f, k := r.eng.ElectionSlowdown()
			if k > 0 {
				s.paths["election clock slowed"] += int(k)
			}
			if f > 1 {
				s.paths["election clock still slowed"]++
			}
		}
	}
}

// finish waits for the replicas to agree, reads every list of every heap
// in the catalog at its final state, checks the histories and the
// replicas against the catalog, and sums up the run.
func (s *sim) finish() (*Result, error) {
	for range 1000 {
		if s.converged() {
			break
		}
		s.step(false)
	}
	// Still: no new transactions, and time for what is left in flight
	// (resent copies, proposals whose clients gave up) to end, and for
	// the replicas to agree again.
	s.still = true
	for i := 0; i < 1000 && s.err == nil && (i < stillTicks || !s.converged()); i++ {
		s.step(false)
	}
	if s.err != nil {
		return nil, s.err
	}
	var missing []check.Anomaly
	if !s.converged() {
		var err error
		if missing, err = s.unconverged(); err != nil {
			return nil, err
		}
	}
	for _, id := range s.waitingIDs() {
		s.resolve(id, check.Info)
	}
	s.noteClocks()
	_, l := s.leader(s.catalog)
	cst := l.r.State()
	out := &Result{Seed: s.seed, Faults: s.faults, Paths: s.paths, Index: cst.Index(), Told: map[string]int{}}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|", s.net.Trace())
	finals := map[*group]map[[2]int]bool{}
	for _, g := range s.heapsOf(cst) {
		finals[g] = s.finalRead(g, out, h)
	}
	for _, g := range s.groups[1:] {
		res := check.CheckListAppend(g.history)
		out.Txns += res.Txns
		out.Committed += res.OK
		for _, a := range slices.Concat(res.Anomalies, g.model.bad) {
			a.Explain = fmt.Sprintf("heap %s (group %x): %s", g.heap, g.id, a.Explain)
			out.Anomalies = append(out.Anomalies, a)
		}
		for _, t := range g.history {
			fmt.Fprintf(h, "%d %d %d %d %v|", t.Process, t.Status, t.Start, t.End, t.Mops)
		}
	}
	out.Anomalies = slices.Concat(out.Anomalies, s.catalog.model.bad, s.bad, missing, s.catalogAnomalies(cst), s.resurrected(finals), s.outcomeAnomalies(out.Told), s.underReplicated(s.heapsOf(cst)))
	d := cst.Digest()
	h.Write(d[:])
	h.Write([]byte(strconv.FormatUint(cst.Index(), 10)))
	out.Trace = h.Sum64()
	return out, nil
}

// unconverged explains replicas that did not converge: an error, unless
// the only trouble is nodes that are no voter of the catalog, which it
// returns as anomalies.
func (s *sim) unconverged() ([]check.Anomaly, error) {
	var missing []check.Anomaly
	_, l := s.leader(s.catalog)
	var b strings.Builder
	for _, n := range s.nodes {
		if !n.up {
			fmt.Fprintf(&b, " %s down", n.name)
			continue
		}
		st := n.cat.r.State()
		fmt.Fprintf(&b, " %s(%d)@%d %x", n.name, n.cat.id, st.Index(), st.Digest())
		if l != nil && !slices.Contains(l.r.ConfState().Voters, n.cat.id) {
			missing = append(missing, check.Anomaly{Kind: "missing-replica",
				Explain: fmt.Sprintf("%s (raft ID %d) is not a voter of the catalog's final configuration %v", n.name, n.cat.id, l.r.ConfState().Voters)})
		}
	}
	settled := l != nil
	if l != nil {
		for _, g := range s.heapsOf(l.state) {
			if !s.heapSettled(g) {
				settled = false
				fmt.Fprintf(&b, "; heap %s (group %x) unsettled", g.heap, g.id)
			}
		}
	}
	if !settled || len(missing) == 0 || !s.membersEqual(l) {
		return nil, fmt.Errorf("sim: seed %d: the replicas did not converge:%s", s.seed, b.String())
	}
	return missing, nil
}

// finalRead reads every list of a heap at its leader's state into its
// history, counts the acknowledged appends missing there, hashes the state
// and returns the (list, value) pairs read.
func (s *sim) finalRead(g *group, out *Result, h hash.Hash64) map[[2]int]bool {
	_, gl := s.leader(g)
	st := gl.r.State()
	final := check.Txn{ID: len(g.history), Process: -1, Status: check.OK, Realtime: true, Start: int64(s.now), End: int64(s.now)}
	in := map[[2]int]bool{}
	for k := range s.opts.Keys {
		o, _ := st.Get(listID(k))
		final.Mops = append(final.Mops, check.Mop{Kind: check.Read, Key: k, List: decodeList(o.Value)})
		for _, v := range final.Mops[k].List {
			in[[2]int{k, v}] = true
		}
	}
	g.history = append(g.history, final)
	for _, t := range g.history {
		for _, m := range t.Mops {
			if t.Status == check.OK && m.Kind == check.Append && !in[[2]int{m.Key, m.Value}] {
				out.Lost++
			}
		}
	}
	d := st.Digest()
	h.Write(d[:])
	h.Write([]byte(strconv.FormatUint(st.Index(), 10)))
	return in
}

// converged reports whether every node is up, a voter of the catalog, at
// the same catalog state as the leader and done following it, and every
// heap in the catalog settled.
func (s *sim) converged() bool {
	_, l := s.leader(s.catalog)
	if l == nil {
		return false
	}
	for _, n := range s.nodes {
		if !n.up || n.resync || !slices.Contains(l.r.ConfState().Voters, n.cat.id) {
			return false
		}
	}
	if !s.membersEqual(l) {
		return false
	}
	for _, g := range s.heapsOf(l.state) {
		if !s.heapSettled(g) {
			return false
		}
	}
	return true
}

// heapSettled reports whether a heap's group has a leader whose voters
// are all up and at its state.
func (s *sim) heapSettled(g *group) bool {
	_, l := s.leader(g)
	return l != nil && s.membersEqual(l)
}

// membersEqual reports whether the replicas of the leader's configuration
// are up and at its state.
func (s *sim) membersEqual(l *replica) bool {
	want := l.r.State()
	for _, id := range l.r.ConfState().Voters {
		n := s.names[id]
		if !n.up {
			return false
		}
		r := n.reps[l.g.heap]
		if r == nil || r.g != l.g || r.id != id {
			return false
		}
		if st := r.r.State(); st.Index() != want.Index() || st.Digest() != want.Digest() {
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

// missingAndJoins gives the plan what oss gives it when ReplaceAfter is
// set: since when each member of cs that is not live has been missing,
// timed from the first step that missed it; and, as join requests, the
// replicas of g on up nodes that are no members (removed while their node
// was down or cut off: in oss such a replica asks to join again).
func (s *sim) missingAndJoins(g *group, in *engine.PlanInput, cs raftpb.ConfState, rj *rejoin) {
	if g.missing == nil {
		g.missing = map[uint64]time.Duration{}
	}
	live := map[uint64]bool{}
	for _, m := range in.Live {
		live[m.ID] = true
	}
	for _, id := range slices.Concat(cs.Voters, cs.Learners) {
		if live[id] {
			delete(g.missing, id)
			continue
		}
		if _, ok := g.missing[id]; !ok {
			g.missing[id] = s.now
		}
		in.Missing[id] = time.Unix(0, 0).Add(g.missing[id])
	}
	for _, n := range s.nodes {
		if !s.live(n, s.names[in.Self]) || rj != nil && rj.victim == n {
			continue
		}
		if r := n.reps[g.heap]; r != nil && r.g == g && !slices.Contains(cs.Voters, r.id) && !slices.Contains(cs.Learners, r.id) && !slices.Contains(in.Joins, r.id) {
			in.Joins = append(in.Joins, r.id)
		}
	}
}
