package oss

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// joinGroup asks the heap's leader to add this node as a learner and waits
// until the replica is a member of its group and has caught up.
func (n *Node) joinGroup(ctx context.Context, h *Heap, hint []groupMember) error {
	// A replica its group placed in the configuration before this call
	// (the leader added it as the open began) joins no more, but still
	// catches up below: what it returns on is the group's state, not
	// whatever the replica had applied so far.
	if n.tr == nil && !h.inConf.Load() {
		return fmt.Errorf("oss: heap %q: no network to join its group over", h.name)
	}
	var first []string
	for _, m := range hint {
		first = append(first, m.Name)
	}
	var heard joinHeard
	// A replica closed meanwhile (lost) ends the wait for the leader's
	// answer at once: the loop below returns ErrClosed for it.
	done := func() bool { return h.inConf.Load() || h.isClosed() }
	for attempt := 0; !h.inConf.Load(); attempt++ {
		if err := n.askJoin(ctx, h, first, done, heard.taken); err != nil {
			if errors.Is(err, ErrJoinRefused) {
				return fmt.Errorf("oss: heap %q: %w", h.name, err)
			}
			heard.failed(ctx, err)
		}
		if h.inConf.Load() {
			break
		}
		select {
		case <-ctx.Done():
			heard.noteUnreached(n, h)
			if heard.takes == 0 {
				// No leader answered: as for the catalog's, ErrNoQuorum.
				return heard.wrap(fmt.Errorf("oss: heap %q: join its group: %w: %w (%s)", h.name, ErrNoQuorum, ctx.Err(), &heard))
			}
			return heard.wrap(fmt.Errorf("oss: heap %q: join its group: %w (%s)", h.name, ctx.Err(), &heard))
		case <-h.stop:
			return ErrClosed
		case <-time.After(time.Duration(min(attempt+1, 10)) * 50 * time.Millisecond):
		}
	}
	return h.waitCaughtUp(ctx)
}

// joinHeard is what a join's requests were last answered, for the error
// of a join that ran out of time: that a leader took the request and the
// replica still was not in its configuration (the leader did not add it,
// or what added it did not reach the replica) is another story than that
// no leader answered, or that calls failed.
type joinHeard struct {
	leader  string // the last leader that took the request
	takes   int    // how many times a leader took it
	lastErr error  // the last call that failed before the caller's end
	// unreached is the address the node advertises when leaders took
	// the request but no peer's message, call or stream ever reached the
	// node: what a leader sends the replica it added goes there.
	unreached string
}

// noteUnreached notes, for a join that leaders took, whether no peer ever
// reached the node (Node.reached) nor its replica heard a leader: a node
// whose advertised address reaches nothing (ossd's --advertise) joined
// membership by its own calls and was added as a learner, and its join
// said only that the replica was not in the configuration yet.
func (j *joinHeard) noteUnreached(n *Node, h *Heap) {
	if _, at := h.contact.last(); j.takes > 0 && !n.reached.Load() && at.IsZero() {
		j.unreached = n.advertised()
	}
}

func (j *joinHeard) taken(leader string, _ bool) { j.leader, j.takes = leader, j.takes+1 }

// failed notes an error of a round of requests; one the caller's own end
// cut short says nothing new once an earlier one was noted.
func (j *joinHeard) failed(ctx context.Context, err error) {
	j.lastErr = keepActionable(ctx, j.lastErr, err)
}

// wrap returns err, a join that ran out of time, matching ErrOtherCluster
// too when a node of another cluster answered at a member's address: the
// one cause the caller can act on (stop that node, or mend Join).
func (j *joinHeard) wrap(err error) error {
	if errors.Is(j.lastErr, ErrOtherCluster) {
		return otherClusterSeen{err}
	}
	return err
}

// otherClusterSeen is a join's error that matches ErrOtherCluster as well
// as what it wraps.
type otherClusterSeen struct{ error }

func (e otherClusterSeen) Unwrap() []error { return []error{e.error, ErrOtherCluster} }

func (j *joinHeard) String() string {
	var parts []string
	if j.takes > 0 {
		parts = append(parts, fmt.Sprintf("leaders took the request %d times, last %s, and the replica is not in the configuration yet", j.takes, j.leader))
	}
	if j.unreached != "" {
		parts = append(parts, fmt.Sprintf("no peer ever reached this node: they send to the address it advertises, %s "+
			"(Config.Advertise, ossd's --advertise), which is likely not where they reach it", j.unreached))
	}
	if j.lastErr != nil {
		parts = append(parts, fmt.Sprintf("last error: %v", j.lastErr))
	}
	if len(parts) == 0 {
		return "no leader answered"
	}
	return strings.Join(parts, "; ")
}

// waitCaughtUp waits until the replica has applied what its group had
// committed when it asked (a read index), and asks again while the group
// has no leader in reach: a node that joins or reopens a heap during an
// election, or while its group's leader is cut off for a moment, waits
// for the next leader as long as ctx lets it, as the join before it does,
// rather than failing Start or OpenHeap with ErrNoQuorum the first time.
func (h *Heap) waitCaughtUp(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := h.readIndex(ctx)
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// Ended before the group answered: say what the replica knows.
			if !h.Stats().LeaderInReach {
				return fmt.Errorf("oss: heap %q: catch up with its group: %w (%w: %s)", h.name, err, ErrNoQuorum, h.reach())
			}
			return fmt.Errorf("oss: heap %q: catch up with its group: %w (%s)", h.name, err, h.reach())
		}
		if err == nil || !errors.Is(err, ErrNoQuorum) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("oss: heap %q: catch up with its group: %w (last error: %w)", h.name, ctx.Err(), err)
		case <-h.stop:
			return ErrClosed
		case <-time.After(time.Duration(min(attempt+1, 10)) * 50 * time.Millisecond):
		}
	}
}

// stuckOnDisk says, for the error of a wait for the replica to apply,
// that its node cannot write its log, and why, or "" if it can: a
// replica whose log refuses its writes applies nothing its group
// commits, and "leader in reach, no answer yet" sent the user to look
// for an election (a full disk, found by probing ossd).
func (h *Heap) stuckOnDisk() string {
	if p := h.stuck.Load(); p != nil {
		return fmt.Sprintf("this node cannot write its log, so its replica applies nothing until it can: %v", *p)
	}
	return ""
}

// pollUntil polls cond until it holds, ctx ends or d passes.
func pollUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// reach says whether the replica has a leader in reach, for an error of a
// wait that ended before its group answered.
func (h *Heap) reach() string {
	if s := h.stuckOnDisk(); s != "" {
		return s
	}
	if st := h.Stats(); st.LeaderInReach {
		return fmt.Sprintf("leader %s in reach, no answer yet", st.Leader)
	}
	return "no leader in reach"
}
