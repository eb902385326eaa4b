package oss

import (
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// peerInfo is a live node as the directory sees it.
type peerInfo struct {
	Name    string
	ID      uint64 // the node's raft ID in every group, new at every start
	Role    pki.Role
	Leaving bool // announced a graceful leave and is handing over
	// At is the address membership itself holds for the node
	// (memberlist's, which refuses an alive message of a live member's
	// name from another address), not the one the node announces in
	// its metadata (Member.Addr); empty where there is none (an
	// in-process network).
	At string
}

// directory tells a node which nodes are alive: membership on a network,
// the node alone without one, a test's table on transporttest.
type directory interface {
	live() []peerInfo // every live node, this one included
}

type selfDirectory struct{ n *Node }

func (d selfDirectory) live() []peerInfo { return []peerInfo{d.n.selfInfo()} }

func (n *Node) selfInfo() peerInfo {
	return peerInfo{Name: n.cfg.Name, ID: n.id, Role: n.cfg.Role, Leaving: n.leaving.Load()}
}

// learn records the name of a node ID.
func (n *Node) learn(id uint64, name string) {
	n.namesMu.Lock()
	n.names[id] = name
	n.namesMu.Unlock()
}

// lookup returns the name of the node with the given raft ID: the one
// committed state gives, or else the one membership last gave.
func (n *Node) lookup(id uint64) (string, bool) {
	if name, ok := n.boundName(id); ok {
		return name, true
	}
	n.namesMu.Lock()
	name, ok := n.names[id]
	n.namesMu.Unlock()
	if ok {
		return name, true
	}
	for _, p := range n.live() {
		n.learn(p.ID, p.Name)
		if p.ID == id {
			name, ok = p.Name, true
		}
	}
	return name, ok
}

// liveSet returns the live nodes by ID and notes, for every ID asked about
// later with downFor, since when it has been missing.
func (n *Node) liveSet() map[uint64]peerInfo {
	live := n.live()
	set := make(map[uint64]peerInfo, len(live))
	set[n.id] = n.selfInfo()
	n.namesMu.Lock()
	for _, p := range live {
		if p.ID != n.id {
			set[p.ID] = p
		}
		n.names[p.ID] = p.Name
		n.wasLive[p.ID] = true
		delete(n.missing, p.ID)
		delete(n.left, p.ID)
	}
	n.namesMu.Unlock()
	return set
}

// noteLeft notes that the node of raft ID id left gracefully: it handed
// over what it could and said it goes. Leaders remove what it still
// holds in their groups (its learner replicas, a voter it could not hand
// over) at once, as they do while it announces that it is leaving, not
// ReplaceAfter after it went, as for a failure: a client node stopped
// with SIGTERM stayed a learner of the catalog, and of its heaps whose
// leaders had not seen it leaving before it was gone, for ReplaceAfter,
// `ossd status` saying "not live" of it.
//
// It also marks the node as gone until it is seen again (hasLeft): it
// closed its replicas before it said it leaves, so a heap whose leader it
// was hands it no more proposals (engine.LeaderLeft).
func (n *Node) noteLeft(id uint64) {
	n.namesMu.Lock()
	n.missing[id] = time.Now().Add(-n.cfg.ReplaceAfter)
	n.left[id] = true
	n.namesMu.Unlock()
}

// noteBack notes that the node of raft ID id is a member again.
func (n *Node) noteBack(id uint64) {
	n.namesMu.Lock()
	delete(n.left, id)
	n.namesMu.Unlock()
}

// hasLeft reports whether the node of raft ID id left gracefully and
// has not been seen since. A node marked so that membership lists again
// (a later process under its raft ID, whose join was told before the
// old one's leave) is a member again.
func (n *Node) hasLeft(id uint64) bool {
	n.namesMu.Lock()
	left := n.left[id]
	n.namesMu.Unlock()
	if !left {
		return false
	}
	for _, p := range n.directory().live() {
		if p.ID == id {
			n.noteBack(id)
			return false
		}
	}
	return true
}

// goneSince is missingSince for a node this node has seen live, and
// nothing for one it has not: a node that asks to join before membership
// has told the leader of it is new, not gone.
func (n *Node) goneSince(id uint64, live map[uint64]peerInfo, now time.Time) (time.Time, bool) {
	n.namesMu.Lock()
	seen := n.wasLive[id]
	n.namesMu.Unlock()
	if !seen {
		return time.Time{}, false
	}
	return n.missingSince(id, live, now)
}

// missingSince returns since when the node has been missing from the live
// set as this node observed it, from the first time it asked (now, if this
// is the first); false if the node is alive.
func (n *Node) missingSince(id uint64, live map[uint64]peerInfo, now time.Time) (time.Time, bool) {
	if _, ok := live[id]; ok {
		return time.Time{}, false
	}
	n.namesMu.Lock()
	defer n.namesMu.Unlock()
	since, ok := n.missing[id]
	if !ok {
		n.missing[id] = now
		since = now
	}
	return since, true
}

// peerRoleKnown is peerRole, and whether the role came from the peer's
// certificate or directory entry rather than the default.
func (n *Node) peerRoleKnown(name string) (pki.Role, bool) {
	if name == n.cfg.Name {
		return n.cfg.Role, true
	}
	if n.quic != nil {
		if id, ok := n.quic.PeerIdentity(name); ok {
			return pki.Role(id.Role), true
		}
		return pki.RoleClient, false
	}
	for _, p := range n.directory().live() {
		if p.Name == name {
			return p.Role, true
		}
	}
	return pki.RoleClient, false
}

// peerRole returns the role the named peer's certificate carries, as the
// transport verified it; on a network without certificates (tests on
// transporttest), the role its directory entry gives. A peer not
// connected, or not known, is a client: it may do least.
func (n *Node) peerRole(name string) pki.Role {
	role, _ := n.peerRoleKnown(name)
	return role
}
