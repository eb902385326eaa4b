// Package sim runs a whole replicated heap in deterministic simulation:
// replicas (consistency and raft), their write-ahead logs on crashable
// in-memory disks, the in-memory network with virtual time, clients running
// list-append transactions, and a nemesis that partitions the network,
// loses, duplicates and delays messages, cuts the power of nodes and fails
// their disks — all driven from one seeded generator on one goroutine, so
// that a seed replays bit for bit. The histories are checked with
// internal/check.
//
// Crypto randomness (raft's election timeouts) must be made deterministic
// by the caller (testing/cryptotest.SetGlobalRandom) for runs to replay.
package sim

import (
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
	"syscall"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/check"
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
	// BreakValidation commits transactions without checking their reads
	// (consistency.SkipReadValidationForTesting): the checker must object.
	BreakValidation bool
	// AckBeforeSync has the logs acknowledge appends before they are
	// synced (Batch durability with a long interval): power losses must
	// then lose acknowledged commits, and the checks must see it.
	AckBeforeSync bool
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
	var kinds []string
	for k, n := range r.Faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("seed %d: %d transactions (%d committed), index %d, faults: %s; anomalies %d, acknowledged appends lost %d, trace %016x",
		r.Seed, r.Txns, r.Committed, r.Index, strings.Join(kinds, ", "), len(r.Anomalies), r.Lost, r.Trace)
}

const (
	tick        = 10 * time.Millisecond
	walDir      = "/data/wal"
	dedupWindow = 4096
)

type node struct {
	id    uint64
	name  string
	up    bool
	mem   *persist.MemFS
	disk  *persist.FaultFS
	wal   *persist.WAL
	store *raft.MemoryStorage
	r     *consistency.Replica
	state *consistency.State // the last State its replica published
	ep    *transporttest.Endpoint
	back  time.Duration // when a node that is down comes back
}

type pending struct {
	node     uint64
	txn      check.Txn
	deadline time.Duration
}

type sim struct {
	opts    Options
	seed    uint64
	rng     *rand.Rand
	net     *transporttest.Network
	nodes   []*node
	now     time.Duration
	history []check.Txn
	model   *model
	sent    [][]byte // every record proposed, for resends
	waiting map[uuid.UUID]*pending
	busy    map[int]bool // clients with a transaction in flight
	next    []int        // the next value to append, per key
	txn     uint64
	faults  map[string]int
	paths   map[string]int // runtime paths taken, by name
	healAt  time.Duration  // when the current network fault ends
	err     error
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
	if opts.BreakValidation {
		consistency.SkipReadValidationForTesting(true)
		defer consistency.SkipReadValidationForTesting(false)
	}
	s := &sim{opts: opts, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x73696d)), net: transporttest.NewNetwork(seed),
		model: newModel(), waiting: map[uuid.UUID]*pending{}, busy: map[int]bool{}, next: make([]int, opts.Keys), faults: map[string]int{}, paths: map[string]int{}}
	defer s.close()
	var peers []raft.Peer
	for i := range opts.Nodes {
		peers = append(peers, raft.Peer{ID: uint64(i + 1)})
	}
	for i := range opts.Nodes {
		n := &node{id: uint64(i + 1), name: fmt.Sprintf("n%d", i+1), mem: persist.NewMemFS()}
		n.ep = s.net.Endpoint(n.name, handler{s, n})
		s.nodes = append(s.nodes, n)
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

// boot starts a node on its disk: from its log if it has one, else
// bootstrapped with the group's first configuration.
func (s *sim) boot(n *node, peers []raft.Peer) error {
	n.disk = &persist.FaultFS{FS: n.mem}
	n.store = raft.NewMemoryStorage()
	var hs raftpb.HardState
	empty := true
	wopts := persist.WALOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
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
	if err := n.store.SetHardState(hs); err != nil {
		return err
	}
	n.wal = wal
	n.r, err = consistency.NewReplica(&consistency.Config{ID: n.id, Storage: n.store, DedupWindow: dedupWindow})
	if err != nil {
		return err
	}
	if empty && peers != nil {
		if err := n.r.Bootstrap(peers); err != nil {
			return err
		}
	}
	n.up = true
	return nil
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
	var m raftpb.Message
	if err := m.Unmarshal(msg); err != nil {
		h.s.fail(fmt.Errorf("sim: %s: a message that does not decode: %w", h.n.name, err))
		return
	}
	h.n.r.Step(m)
	h.s.ready(h.n)
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

// step delivers the messages due before the next tick, then ticks: clients
// and the nemesis act, timers fire.
func (s *sim) step(faults bool) {
	next := s.now + tick
	for s.err == nil {
		at, ok := s.net.Next()
		if !ok || at > next {
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
		if n.up {
			n.r.Tick()
			s.ready(n)
		}
	}
	for _, id := range s.waitingIDs() {
		if s.now >= s.waiting[id].deadline {
			s.resolve(id, check.Info)
		}
	}
	if faults {
		s.nemesis()
	}
	for c := range s.opts.Clients {
		if !s.busy[c] && s.rng.IntN(3) == 0 {
			s.client(c)
		}
	}
}

// ready persists, sends and applies what a node's replica has ready.
func (s *sim) ready(n *node) {
	for n.up && n.r.HasReady() && s.err == nil {
		rd := n.r.Ready()
		if rd.Err != nil {
			s.fail(fmt.Errorf("sim: %s: %w", n.name, rd.Err))
			return
		}
		if !raft.IsEmptyHardState(rd.HardState) || len(rd.Entries) > 0 {
			hs := rd.HardState
			if raft.IsEmptyHardState(hs) {
				hs, _, _ = n.store.InitialState()
			}
			rec, err := (&raftpb.Message{Term: hs.Term, Index: hs.Vote, Commit: hs.Commit, Entries: rd.Entries}).Marshal()
			if err == nil {
				_, err = n.wal.Append(rec)
			}
			if err != nil {
				// A disk that fails its writes stops the node, as a
				// process that exits on an I/O error.
				s.crash(n, 0)
				return
			}
		}
		if !raft.IsEmptyHardState(rd.HardState) {
			n.store.SetHardState(rd.HardState)
		}
		if err := n.store.Append(rd.Entries); err != nil {
			s.fail(fmt.Errorf("sim: %s: append: %w", n.name, err))
			return
		}
		for _, m := range rd.Messages {
			b, err := m.Marshal()
			if err != nil {
				s.fail(err)
				return
			}
			n.ep.Send(context.Background(), fmt.Sprintf("n%d", m.To), b)
		}
		for _, res := range rd.Results {
			s.model.decide(n.name, res)
			switch {
			case res.Duplicate:
				s.paths["duplicate decided once"]++
			case res.Outcome == consistency.Conflicted:
				s.paths["conflict"]++
			case res.Outcome == consistency.Stale:
				s.paths["stale"]++
			}
			if p, ok := s.waiting[res.TxID]; ok && p.node == n.id {
				switch res.Outcome {
				case consistency.Committed:
					s.resolve(res.TxID, check.OK)
				case consistency.Stale:
					// An earlier copy may have committed.
					s.resolve(res.TxID, check.Info)
				default:
					s.resolve(res.TxID, check.Fail)
				}
			}
		}
		if rd.State != n.state {
			n.state = rd.State
			s.model.state(n.name, rd.State, s.opts.Keys)
		}
		n.r.Advance(rd)
	}
}

// crash cuts a node's power: what its disk had not synced is lost. It
// comes back after down (now, if zero: on the next tick after a delay the
// nemesis did not choose).
func (s *sim) crash(n *node, down time.Duration) {
	disk := n.mem.Crash(s.rng)
	n.wal.Close()
	n.up, n.mem = false, disk
	if down == 0 {
		down = time.Duration(50+s.rng.IntN(300)) * time.Millisecond
	}
	n.back = s.now + down
	for _, id := range s.waitingIDs() {
		if s.waiting[id].node == n.id {
			s.resolve(id, check.Info)
		}
	}
}

func (s *sim) restart(n *node) {
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
// snapshot, or appends (each reading its list first) and reads proposed
// as a commit record.
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
	st := n.r.State()
	s.model.state(n.name+"'s view", st, s.opts.Keys)
	readOnly := s.rng.IntN(4) == 0
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
	if readOnly {
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
	batch := [][]byte{data}
	if len(s.sent) > 0 && s.rng.IntN(8) == 0 {
		// A copy of an earlier record rides along, as a client's resend
		// would: it must be decided once.
		batch = append(batch, s.sent[s.rng.IntN(len(s.sent))])
		s.paths["resend"]++
	}
	if err := n.r.Propose(batch...); err != nil {
		txn.Status = check.Fail // dropped: it never entered the log
		s.paths["leaderless"]++
		txn.Mops = appendsOf(mops)
		s.history = append(s.history, txn)
		return
	}
	s.sent = append(s.sent, data) // only a record that may be in the log is resent
	s.busy[c] = true
	s.waiting[txid] = &pending{node: n.id, txn: txn, deadline: s.now + 2*time.Second}
	s.ready(n)
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

// nemesis injects a fault now and then: one network fault at a time, and
// power cuts and disk failures of single nodes.
func (s *sim) nemesis() {
	if s.healAt != 0 && s.now >= s.healAt {
		s.net.Heal()
		s.net.SetFaults(transporttest.Faults{})
		s.healAt = 0
	}
	if s.rng.IntN(20) != 0 {
		return
	}
	names := make([]string, len(s.nodes))
	for i, n := range s.nodes {
		names[i] = n.name
	}
	s.rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	hold := time.Duration(100+s.rng.IntN(900)) * time.Millisecond
	switch s.rng.IntN(6) {
	case 0:
		if s.healAt == 0 {
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
	if !s.converged() {
		var b strings.Builder
		for _, n := range s.nodes {
			st := n.r.State()
			fmt.Fprintf(&b, " %s@%d %x", n.name, st.Index(), st.Digest())
		}
		return nil, fmt.Errorf("sim: seed %d: the replicas did not converge:%s", s.seed, b.String())
	}
	for _, id := range s.waitingIDs() {
		s.resolve(id, check.Info)
	}
	st := s.nodes[0].r.State()
	final := check.Txn{ID: len(s.history), Process: -1, Status: check.OK, Realtime: true, Start: int64(s.now), End: int64(s.now)}
	for k := range s.opts.Keys {
		o, _ := st.Get(listID(k))
		final.Mops = append(final.Mops, check.Mop{Kind: check.Read, Key: k, List: decodeList(o.Value)})
	}
	s.history = append(s.history, final)
	res := check.CheckListAppend(s.history)
	out := &Result{Seed: s.seed, Txns: res.Txns, Committed: res.OK, Anomalies: append(res.Anomalies, s.model.bad...), Faults: s.faults, Paths: s.paths, Index: st.Index()}
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

// converged reports whether every replica is up and at the same state.
func (s *sim) converged() bool {
	first := s.nodes[0]
	if !first.up {
		return false
	}
	want := first.r.State()
	for _, n := range s.nodes[1:] {
		st := n.r.State()
		if !n.up || st.Index() != want.Index() || st.Digest() != want.Digest() {
			return false
		}
	}
	return true
}
