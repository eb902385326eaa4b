package oss

import "github.com/objectsharing/oss/engine"

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
