package admin

import (
	"context"
	"net/http"
	"strings"

	"github.com/objectsharing/oss/oss"
)

// Hot is a heap's contention as one node's replica sees it: the objects,
// roots and scans that made transactions conflict lately, hottest first
// (see oss.Heap.Hot).
type Hot struct {
	Heap string `json:"heap"`
	// HalfLifeSeconds is the time over which a count halves.
	HalfLifeSeconds float64         `json:"halfLifeSeconds"`
	Objects         []oss.HotObject `json:"objects"`
	// Stale, if not empty, says why the replica's list may be old: "no
	// leader" when it knows no leader of the heap's group, "leader NODE
	// out of reach" when it has not heard from the one it knows
	// (UIHeap.Stale).
	Stale string `json:"stale,omitempty"`
}

// hot answers from the node's replica of the heap as it is, without
// opening it (oss.Node.ReplicaStats): the open of a replica no open has
// caught up waits for its group, which while the group has no leader
// took the whole request. A node that keeps no replica opens the heap,
// and one whose replica was lost reports the loss, as Heap does.
func (a *api) hot(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("heap")
	if objs, s, ok := a.localHot(name); ok {
		replyHot(w, name, objs, staleness(s, false))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	h, err := a.heap(ctx, name, false)
	if err != nil {
		fail(w, err)
		return
	}
	replyHot(w, h.Name(), h.Hot(), "")
}

// localHot returns the hot list and stats of the node's replica of a
// heap, ok false if it keeps none that is not lost, if name is a system
// heap's, or if the node is damaged or closed: Heap then says why.
func (a *api) localHot(name string) ([]oss.HotObject, oss.Stats, bool) {
	if strings.HasPrefix(name, "oss:") || a.node.Damage() != nil || a.node.Context().Err() != nil {
		return nil, oss.Stats{}, false
	}
	s, objs, ok := a.node.ReplicaStats(name)
	if !ok {
		return nil, s, false
	}
	for _, hs := range a.node.Heaps() {
		if hs.Name == name && len(hs.Lost) > 0 { // this node's alone
			return nil, s, false
		}
	}
	return objs, s, true
}

func replyHot(w http.ResponseWriter, name string, objs []oss.HotObject, stale string) {
	if objs == nil {
		objs = []oss.HotObject{}
	}
	reply(w, http.StatusOK, Hot{Heap: name, HalfLifeSeconds: oss.HotHalfLife.Seconds(), Objects: objs, Stale: stale})
}
