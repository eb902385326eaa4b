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

// firstVoters places a new heap over the live servers (engine.FirstVoters).
func firstVoters(heap string, replicas int, peers []peerInfo) []groupMember {
	ms := make([]engine.Member, len(peers))
	for i, p := range peers {
		ms[i] = member(p)
	}
	return engine.FirstVoters(heap, replicas, ms)
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
