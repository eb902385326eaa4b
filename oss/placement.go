package oss

import (
	"slices"
	"time"

	"github.com/objectsharing/oss/engine"
)

// rendezvous ranks server nodes for a heap, best first (engine.Rank).
func rendezvous(heap string, peers []peerInfo) []peerInfo {
	byID := make(map[uint64]peerInfo, len(peers))
	ms := make([]engine.Member, len(peers))
	for i, p := range peers {
		byID[p.ID] = p
		ms[i] = member(p)
	}
	ranked := engine.Rank(heap, ms)
	out := make([]peerInfo, len(ranked))
	for i, m := range ranked {
		out[i] = byID[m.ID]
	}
	return out
}

// firstVoters places a new heap over the live servers (engine.FirstVoters)
// that finished their Start, self (the creating node) included however
// it stands: a bootstrap may create heaps in its own Start.
//
// A node inside its Start is no first voter. Gossip lists it from its
// first join, before any catalog took it in; as a first voter the leader
// wrote its raft ID into the heap's entry without a message to it, and a
// start that then failed took that ID back (unadmitted.go: nothing had
// reached it), the heap's voter an ID no process holds. Of a heap of one
// replica it was the only voter: no quorum for good. Even before, a heap
// so placed depended on a node that might never finish starting. Only a
// first voter is written so: reconcile adds a node as a learner, which
// is promoted once it acknowledged the leader (engine.Plan), and a
// learner whose node is gone is dropped after ReplaceAfter.
func firstVoters(heap string, replicas int, peers []peerInfo, self uint64) []groupMember {
	ms := make([]engine.Member, 0, len(peers))
	for _, p := range peers {
		if p.Starting && p.ID != self {
			continue
		}
		ms = append(ms, member(p))
	}
	return engine.FirstVoters(heap, replicas, ms)
}

// markStarted ends the node's Start for placement, once the start kept
// the node's identity (madeIdentity.keep), never before: the node
// announces that it started, and new heaps may take it as a first voter.
func (n *Node) markStarted() {
	n.started.Store(true)
	if n.members != nil {
		n.members.setStarted()
	}
	n.announce()
}

// publishLeads keeps the heaps this node leads in its membership metadata.
func (n *Node) publishLeads() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last []string
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		var leads []string
		if c := n.catalog.Load(); c != nil && c.leaderIs(c.self) {
			leads = append(leads, catalogName) // the status lists it among the heaps
		}
		n.mu.Lock()
		for name, h := range n.heaps {
			if h.leaderIs(h.self) {
				leads = append(leads, name)
			}
		}
		n.mu.Unlock()
		slices.Sort(leads)
		if !slices.Equal(leads, last) {
			n.members.setLeads(leads)
			last = leads
		}
	}
}
