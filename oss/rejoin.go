package oss

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/transport"
	"go.etcd.io/raft/v3/raftpb"
)

// A replica that its group removed while it was cut off (a voter replaced
// after ReplaceAfter, a learner that was down) missed the entry that removed
// it: it still believes it is a member, and no leader sends it anything
// again. It finds out by not hearing from a leader: after rejoinTicks
// without one it asks the group's leader, as a node opening the heap
// does, to take it as a learner, and keeps asking until it hears from a
// leader again. The leader answers whether the node is in its
// configuration; one that is not is added back as a learner under the ID
// it had, with its log and hard state, and placement may promote it once it
// has caught up. To raft it is then a follower that lags: its committed
// entries are a prefix of the group's, an uncommitted tail it may hold is
// overwritten as for any follower, and it never lost a vote it cast. What
// raft cannot tolerate, a member back under its ID without its state,
// cannot happen: an ID is new at every start of a node without a data
// directory, and once per data directory otherwise. Until it is back, the
// stale replica cannot lead: a quorum of its old configuration holds the
// entries that removed it, so none of them votes for its shorter log.

// rejoinTicks is how long a replica hears no leader before it asks
// whether it is still a member: after an election (PreVote keeps a cut-off
// voter from disturbing the group), short of the 40 ticks after which
// commits fail with ErrNoQuorum.
const rejoinTicks = 2 * electionTicks

// leaderContact is what a replica last heard from its group's leader.
type leaderContact struct {
	index      atomic.Uint64 // the highest commit index heard of
	at         atomic.Int64  // the last message from a leader, in nanoseconds since contactEpoch (monotonic); 0: none
	inReach    atomic.Bool   // a leader was heard from recently
	rejoining  atomic.Bool   // a goroutine asks the leader to take the replica
	holdRepair atomic.Bool   // tests: checkRecord starts no repair of the node's record
	rejoins    atomic.Uint64
	told       atomic.Bool  // the last removal is counted in rejoins, and the replica is not back by its log or a snapshot yet
	dropped    atomic.Bool  // the replica applied its own removal, and is not back
	refusedAt  atomic.Int64 // unix nanoseconds of the last refusal logged (noteRefused)
	quiet      uint64       // ticks without a leader; owned by the loop
	idle       uint64       // ticks as a learner no application uses, with a leader in reach; owned by the loop
	// retireIdle counts the ticks given up without stepping a leader's
	// message, retireSeen the last such message's time (retire.go);
	// owned by the loop.
	retireIdle uint64
	retireSeen int64
	// retiredAt is the last index the replica retired before this one
	// held (retire.go): a removal applied up to it is that one's.
	retiredAt uint64
}

// heard notes a message from a peer: appends, heartbeats and snapshots
// come only from a leader, and carry its commit index (a heartbeat's is
// at most what the follower has, so a lower bound).
func (c *leaderContact) heard(m raftpb.Message) {
	switch m.Type {
	case raftpb.MsgApp, raftpb.MsgHeartbeat:
		c.commit(m.Commit)
	case raftpb.MsgSnap:
		if m.Snapshot != nil {
			c.commit(m.Snapshot.Metadata.Index)
		}
	default:
		return
	}
	c.at.Store(max(1, int64(time.Since(contactEpoch))))
}

// contactEpoch is the instant leaderContact counts from on the monotonic
// clock: LeaderContact, rebuilt from it, keeps a monotonic reading, so
// that its age (the bound of a plain View's staleness) does not follow a
// step of the wall clock, as one kept in Unix nanoseconds did.
var contactEpoch = time.Now()

// commit raises the commit index heard of.
func (c *leaderContact) commit(index uint64) {
	for {
		old := c.index.Load()
		if index <= old || c.index.CompareAndSwap(old, index) {
			return
		}
	}
}

// last returns the commit index last heard of and when a leader was last
// heard from.
func (c *leaderContact) last() (uint64, time.Time) {
	var at time.Time
	if ns := c.at.Load(); ns != 0 {
		at = contactEpoch.Add(time.Duration(ns))
	}
	return c.index.Load(), at
}

// checkMembership runs every tick on the loop: a replica that has heard
// from no leader for rejoinTicks asks to be taken (back) into its group.
func (h *Heap) checkMembership() {
	if h.eng.LeaderInReach() {
		h.contact.quiet = 0
		h.contact.inReach.Store(true)
		h.checkUse()
		h.checkRecord()
		return
	}
	h.contact.inReach.Store(false)
	h.contact.idle = 0
	h.contact.quiet++
	n := h.node
	if h.contact.quiet < rejoinTicks || n.tr == nil || n.leaving.Load() || h.contact.rejoining.Load() || h.givenUp() {
		return
	}
	h.contact.rejoining.Store(true)
	n.wg.Go(func() { n.rejoin(h) })
}

// current reports whether the replica is a member of its group and hears
// its leader.
func (h *Heap) current() bool { return h.inConf.Load() && h.contact.inReach.Load() }

// rejoin asks the heap's leader to take this node as a learner until the
// replica is a member that hears its leader, the heap closes or the node
// leaves. A leader that answers that the node is not in its configuration
// while the replica believed it was tells it that it was removed.
func (n *Node) rejoin(h *Heap) {
	defer h.contact.rejoining.Store(false)
	for attempt := 0; !h.current(); attempt++ {
		if n.leaving.Load() || h.isClosed() || n.ctx.Err() != nil {
			return
		}
		believed := h.inConf.Load()
		taken := func(leader string, member bool) {
			if !member && believed {
				h.noteRemoved("rejoining as a learner", "leader", leader)
			}
		}
		var first []string
		if name, ok := n.lookup(h.leader.Load()); ok {
			first = append(first, name)
		}
		if cs := h.conf.Load(); cs != nil {
			for _, id := range slices.Concat(cs.Voters, cs.VotersOutgoing) {
				if name, ok := n.lookup(id); ok && id != n.id {
					first = append(first, name)
				}
			}
		}
		if err := n.askJoin(n.ctx, h, first, h.current, taken); errors.Is(err, ErrJoinRefused) {
			h.noteRefused(err)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-h.stop:
			return
		case <-time.After(time.Duration(min(attempt+1, 20)) * 50 * time.Millisecond):
		}
	}
}

// checkRecord runs on the loop while the catalog's replica hears its
// leader: a member of the catalog whose name's record names another raft
// ID (a former incarnation's) asks to join until the record names its
// own (reregister). The record moves only at a join the catalog's
// leader takes (admitJoin), and a replica that is a member asks no more:
// one placed before any join of its was taken kept the old record for
// good, its voter named a former incarnation ("n2/…"). A member without
// a record is left as it is.
func (h *Heap) checkRecord() {
	n := h.node
	if h.name != catalogName || !h.inConf.Load() || n.tr == nil || n.leaving.Load() || h.contact.rejoining.Load() || h.contact.holdRepair.Load() || n.ownRecordMoved() {
		return
	}
	h.contact.rejoining.Store(true)
	n.wg.Go(func() { n.reregister(h) })
}

// ownRecordMoved reports whether the catalog names this node's raft ID
// for its name, or has no record of it.
func (n *Node) ownRecordMoved() bool {
	rec, ok := n.committed().recs[n.cfg.Name]
	return !ok || rec.ID == n.id
}

// reregister asks the catalog's leader to take this node's join until
// its record names the node's raft ID, the catalog closes or the node
// leaves, as rejoin does. The leader itself writes its record, as the
// node that bootstraps does (register): askJoin asks no node of its
// own name, and the others answer that it leads. A refusal for good (a
// process of the name that answers, other than this one) ends it: asked
// again every second, the two incarnations would each take the record
// whenever the other was not seen live. A replica cut off from the
// catalog (no member) leaves it to rejoin.
func (n *Node) reregister(h *Heap) {
	defer h.contact.rejoining.Store(false)
	for attempt := 0; !n.ownRecordMoved(); attempt++ {
		if n.leaving.Load() || h.isClosed() || n.ctx.Err() != nil || !h.inConf.Load() {
			return
		}
		var err error
		if h.leaderIs(n.id) {
			err = n.register(n.ctx)
		} else {
			err = n.askJoin(n.ctx, h, nil, n.ownRecordMoved, nil)
		}
		if errors.Is(err, ErrJoinRefused) {
			h.noteRefused(err)
			return
		}
		select {
		case <-n.ctx.Done():
			return
		case <-h.stop:
			return
		case <-time.After(time.Duration(min(attempt+1, 20)) * 50 * time.Millisecond):
		}
	}
}

// noteRemoved counts, once for each removal, that the replica found its
// group had removed it: a leader that answered its request to be taken
// back that it was not a member, or the log, which the replica applied
// with its removal and its return (a request that reached the leader
// before the replica was cut off can bring it back before it asks again,
// and then no leader ever says it was not a member). A removal is over,
// and the next one counts, once the replica is back by what it applied
// (finishReady): a round of requests made before that, by a replica cut
// off again after a leader took it back, is about the same removal.
func (h *Heap) noteRemoved(what string, args ...any) {
	if h.contact.told.CompareAndSwap(false, true) {
		h.contact.rejoins.Add(1)
		h.log.Warn("the group removed this replica while it was cut off; "+what, args...)
	}
}

// noteRefused logs, at most once a minute, that a member refused to take
// the replica into its group (its raft ID is another node's, its name is
// live elsewhere): the replica follows nothing of the heap while that
// lasts, and the node would otherwise say only that it has no leader in
// reach. The refusing members log each request they refuse.
func (h *Heap) noteRefused(err error) {
	now := time.Now().UnixNano()
	last := h.contact.refusedAt.Load()
	if (last == 0 || now-last >= int64(time.Minute)) && h.contact.refusedAt.CompareAndSwap(last, now) {
		h.log.Warn("the group refuses to take this replica: it follows nothing of the heap until that changes", "err", err)
	}
}

// A replica its group removed and took back before it asked (a request of
// its queued at the leader), and that catches up from a snapshot taken
// after its return, sees neither sign of its removal: no leader says it
// was not a member, and it applies neither the change that removed it
// nor the one that took it back. What it can learn is when it was taken
// back: every replica notes the index of the change that made each member
// one (addedAt, from consistency's Ready.Added), and a leader sends it
// with a snapshot (the message's Context). A replica that believed it was
// a member at its applied index, and is told that it became one after
// that index, was not a member in between: it was removed. A leader that
// did not apply that change (it caught up from a snapshot itself, or
// restarted from a checkpoint after it) sends nothing, and the removal
// goes uncounted, as before.

// noteAdded notes the members a Ready's configuration changes added, and
// forgets those its configuration, if it changed, no longer has.
func (h *Heap) noteAdded(added []consistency.Added, cs *raftpb.ConfState) {
	if len(added) > 0 && h.addedAt == nil {
		h.addedAt = map[uint64]uint64{}
	}
	for _, a := range added {
		h.addedAt[a.ID] = a.Index
	}
	if cs == nil {
		return
	}
	for id := range h.addedAt {
		if !slices.Contains(cs.Voters, id) && !slices.Contains(cs.VotersOutgoing, id) &&
			!slices.Contains(cs.Learners, id) && !slices.Contains(cs.LearnersNext, id) {
			delete(h.addedAt, id)
		}
	}
}

// withAddedAt returns a snapshot message for a member with the index at
// which it became one in its Context, if this replica knows it.
func (h *Heap) withAddedAt(m raftpb.Message) raftpb.Message {
	if at := h.addedAt[m.To]; at != 0 {
		m.Context = binary.AppendUvarint(nil, at)
	}
	return m
}

// snapshotAfterReturn counts the removal a leader's snapshot reveals: the
// replica, a member as far as it applied, became one again after that.
func (h *Heap) snapshotAfterReturn(m raftpb.Message) {
	at, n := binary.Uvarint(m.Context)
	if n <= 0 || !h.inConf.Load() || at <= h.replica.State().Index() {
		return
	}
	leader, _ := h.node.lookup(m.From)
	h.noteRemoved("back by a snapshot", "leader", leader, "taken back at", at)
}

// askJoin makes one round of join requests for h: to the nodes named in
// first, then to the live servers in placement order, following the leader
// each answer names, until a leader takes the request (then it waits up to
// 2 s for done) or every node was asked. taken, if not nil, hears of each
// leader that took it, and whether that leader had the node in its
// configuration already. It returns the last call's error, if any failed,
// unless an earlier one said more (keepActionable).
func (n *Node) askJoin(ctx context.Context, h *Heap, first []string, done func() bool, taken func(leader string, member bool)) (lastErr error) {
	own := n.ClusterID()
	req, err := codec.Marshal(callRequest{Op: opJoin, Heap: h.name, ID: n.id, Addr: n.reachedAt(), Cluster: own})
	if err != nil {
		return err
	}
	targets := slices.Clone(first)
	for _, p := range rendezvous(h.name, n.live()) {
		targets = append(targets, p.Name)
	}
	asked := map[string]bool{n.cfg.Name: true}
	for len(targets) > 0 && !done() {
		to := targets[0]
		targets = targets[1:]
		if asked[to] {
			continue
		}
		asked[to] = true
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		b, err := n.tr.Call(cctx, to, req)
		cancel()
		var resp callResponse
		if err == nil {
			err = codec.Unmarshal(b, &resp)
		}
		if errors.Is(err, transport.ErrNameTaken) {
			return fmt.Errorf("%w by %s: %w", ErrJoinRefused, to, err)
		}
		if err == nil && !sameCluster(own, resp.Cluster) {
			// A node of another cluster at an address of a member: its
			// refusal is not the group's, and the others are asked.
			err = fmt.Errorf("%w: %s is of cluster %016x, this node of %016x", ErrOtherCluster, to, resp.Cluster, own)
		}
		if err != nil {
			lastErr = keepActionable(ctx, lastErr, fmt.Errorf("%s: %w", to, err))
			continue
		}
		if resp.Refused != "" {
			return fmt.Errorf("%w by %s: %s", ErrJoinRefused, to, strings.TrimPrefix(resp.Refused, ErrJoinRefused.Error()+": "))
		}
		if resp.OK {
			if taken != nil {
				taken(to, resp.Member)
			}
			if pollUntil(ctx, 2*time.Second, done) {
				break
			}
			continue
		}
		if resp.Leader != "" && !asked[resp.Leader] {
			targets = append([]string{resp.Leader}, targets...)
		}
	}
	return lastErr
}

// keepActionable returns the error a round of join requests reports once
// next failed, last having failed before it: next, unless last is a node
// of another cluster answering at a member's address (ErrOtherCluster)
// and next is not, or last is a refusal for want of a grant
// (refusedPermission) and next is neither, or next is only the caller's
// own end cutting short a call after an earlier failure. A refusal by
// another cluster followed by a timeout elsewhere reported the timeout,
// and the user, told that no leader answered, never heard of the node
// that should not be there; so did a client whose join the leader
// refused for want of read when a later call to it did not come back in
// time (a loaded machine), and it never heard which grant it lacks.
func keepActionable(ctx context.Context, last, next error) error {
	switch {
	case last == nil:
		return next
	case ctx.Err() != nil:
		return last
	case errors.Is(last, ErrOtherCluster) && !errors.Is(next, ErrOtherCluster):
		return last
	case refusedPermission(last) && !refusedPermission(next) && !errors.Is(next, ErrOtherCluster):
		return last
	}
	return next
}

// refusedPermission reports whether err is a refusal for want of a grant:
// one matching ErrPermission, or a peer's, which comes back as the text
// of a remote error.
func refusedPermission(err error) bool {
	var remote *transport.RemoteError
	return errors.Is(err, ErrPermission) ||
		errors.As(err, &remote) && strings.HasPrefix(remote.Message, ErrPermission.Error())
}
