package oss

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
)

// A member restarted at another address.
//
// memberlist keeps a member at the address it knows it at: an alive
// message of its name from another address is a "Conflicting address",
// ignored, unless the record it holds is dead (or left) and was so for
// DeadNodeReclaimTime. That time is zero by default, which memberlist
// reads as never: a node restarted elsewhere after its peers declared it
// failed stayed out of their view until they forgot the dead record
// (GossipToTheDeadTime, 30 s on a LAN) and heard of it again, 30 to 50 s.
// The node sets it as short as memberlist takes it: every member's name
// is proven by its certificate, and a false address for a name leads
// nowhere (the transport dials a name and refuses a certificate that
// names another node), so the address a name's alive message brings is
// taken at once when the old one is dead. A client's packets tell of
// nobody but itself (transport/gossip), and a node with no certificate of
// the cluster's CA sends none.
//
// A member that comes back before its old address is found dead meets a
// live or suspect record there, which memberlist keeps: its alive
// message is a conflict still. The membership notes the new address
// (NotifyConflict) and, once memberlist declares the old one dead, joins
// the name at the new one at once (joinMoved): the join dials the name
// there, so only the node holding its certificate answers, and the
// exchange brings its alive message again, which memberlist now takes.
// Without the join nothing would bring it before the node's next
// push/pull (30 s on a LAN): its own alive message was gossiped when it
// joined, and ignored. A suspect record is not replaced at once: its
// member may be alive but slow (a starved process is suspected, and
// refutes), and memberlist offers no way to replace it short of a death.

// movedFor is how long an address seen for a member while its record was
// live is kept, waiting for that record's death.
const movedFor = 2 * time.Minute

// movedMember is an address a member's alive message came from while its
// record was live at another.
type movedMember struct {
	addr  string // "name/host:port", as memberlist's Join takes it
	since time.Time
	due   bool // the record at the old address was declared dead: join here
}

// NotifyConflict implements memberlist.ConflictDelegate: an alive message
// of a member from another address than its live record's.
func (m *membership) NotifyConflict(existing, other *memberlist.Node) {
	if other.Name == m.cfg.name {
		// A peer's record of this node at an earlier address: it goes
		// once that peer finds the address dead.
		m.cfg.logger.Debug("this node heard of at an earlier address", "addr", existing.Address())
		return
	}
	addr := other.Name + "/" + other.Address()
	m.mu.Lock()
	if m.moved == nil {
		m.moved = make(map[string]movedMember)
	}
	mv, known := m.moved[other.Name]
	m.moved[other.Name] = movedMember{addr: addr, since: time.Now(), due: known && mv.addr == addr && mv.due}
	m.mu.Unlock()
	// Every alive message of the name, relayed by every member, conflicts
	// until the old record dies: the first of an address is logged.
	level := slog.LevelDebug
	if !known || mv.addr != addr {
		level = slog.LevelInfo
	}
	m.cfg.logger.Log(context.Background(), level, "member heard of at a new address while its old one is live here: taken once the old one is found dead",
		"member", other.Name, "old", existing.Address(), "new", other.Address())
}

// moveDue notes that memberlist declared the named member dead (or gone):
// a new address heard of meanwhile is joined at once.
func (m *membership) moveDue(name string) {
	m.mu.Lock()
	mv, ok := m.moved[name]
	if ok {
		mv.due = true
		m.moved[name] = mv
	}
	m.mu.Unlock()
	if ok {
		select {
		case m.moves <- struct{}{}:
		default:
		}
	}
}

// joinMoved joins each member at the new address it was heard of at once
// its old record is dead (moveDue), until the membership stops. It runs
// apart from memberlist's callbacks, which hold memberlist's lock that a
// join takes.
func (m *membership) joinMoved() {
	for {
		select {
		case <-m.stopc:
			return
		case <-m.moves:
		}
		var addrs []string
		m.mu.Lock()
		for name, mv := range m.moved {
			switch {
			case time.Since(mv.since) > movedFor:
				delete(m.moved, name)
			case mv.due:
				addrs = append(addrs, mv.addr)
				delete(m.moved, name)
			}
		}
		m.mu.Unlock()
		for _, a := range addrs {
			if _, err := m.ml.Join([]string{a}); err != nil {
				m.cfg.logger.Info("member not reached at its new address", "member", a, "err", err)
				continue
			}
			m.cfg.logger.Info("member joined at its new address", "member", a)
		}
	}
}

// An alive message of an earlier process of a member.
//
// With DeadNodeReclaimTime set, memberlist replaces a dead record's
// address without comparing incarnations (memberlist v0.7.0, state.go,
// aliveNode): an alive message the member's earlier process sent at its
// old address, relayed late (a push/pull from a member on the other side
// of a partition that heals), marked the member, dead at its new
// address, alive at the old one; the transport dialled the name there,
// where nothing answers, and the member stayed live in the view until it
// was suspected and declared dead again. memberlist's AliveDelegate does
// not see the message's incarnation (its Node has none), but every
// process of a node draws a Life of its own (memberMeta): an alive
// message whose Life is that of a process memberlist has since taken a
// later one of the name for is refused.

// keptLives is how many earlier processes of a member are remembered.
const keptLives = 4

// memberLives are the processes (Lives) memberlist took for a member:
// the last, and up to keptLives before it, oldest first.
type memberLives struct {
	last    uint64
	earlier []uint64
}

// noteLife notes that memberlist took process life for the named
// member (record: a join, an update, a failure or a leave of it). The
// caller holds mu.
func (m *membership) noteLife(name string, life uint64) {
	l := m.lives[name]
	if l.last == life {
		return
	}
	if l.last != 0 {
		l.earlier = append(slices.DeleteFunc(l.earlier, func(e uint64) bool { return e == l.last || e == life }), l.last)
		if len(l.earlier) > keptLives {
			l.earlier = l.earlier[len(l.earlier)-keptLives:]
		}
	}
	l.last = life
	if m.lives == nil {
		m.lives = make(map[string]memberLives)
	}
	m.lives[name] = l
}

// staleAlive refuses an alive message of a process of a member that
// memberlist has since taken a later process of the name for. memberlist
// calls it under its own lock, for every alive message: it takes only
// mu.
func (m *membership) staleAlive(n *memberlist.Node) error {
	if n.Name == m.cfg.name {
		return nil // memberlist refutes what is said of this node
	}
	v := toView(n)
	if v.life == 0 {
		return nil
	}
	m.mu.Lock()
	l := m.lives[n.Name]
	stale := v.life != l.last && slices.Contains(l.earlier, v.life)
	m.mu.Unlock()
	if !stale {
		return nil
	}
	return fmt.Errorf("an earlier process of %s (at %s): a later one has taken its place", n.Name, n.Address())
}
