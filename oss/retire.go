package oss

// A replica that applied its own removal and that no application uses
// (givenUp: removed at its request as an unused learner, by placement,
// by an operator) used to stay open on its node until the node closed:
// its loop, its state in memory, its records in the log and its space
// in the striped store. Now, once it has been given up for retireTicks
// without a message from a leader stepped meanwhile, its loop takes it
// out of the node's table and stops, and the node retires it: the log
// records it dropped (as a replica of a dropped heap), the store drops
// its space, its metrics go. While that runs the name's open waits
// (Node.opening), so no replica of the heap is opened over the one
// being retired, and a later open starts empty: an application's joins
// the group and catches up from a leader's snapshot, and a leader that
// added the node back meanwhile reaches a replica opened empty and
// given up (route), which applies its return as the kept one did.
//
// Why the wait and the check of leader messages: the raft ID is the
// node's, the same in every group, so a replica that came back under it
// without its log could leave a leader that believes it holds entries
// it no longer has (a leader takes a learner's acknowledgement as what
// it holds, and never probes below it). A leader sends nothing to a
// replica out of its configuration; one that adds it back sends appends
// that the kept replica steps, and a replica that stepped a leader's
// message in the last retireTicks is not retired. The retirement is
// decided on the loop, which steps those messages: nothing it stepped
// is acknowledged by a replica retired after.
//
// A retired group is remembered (Node.retired; at a restart, from the
// log's record while the log holds it): the node never opens it again as
// a first voter from the catalog's entry (a first voter's replica opened
// anew would start the group's first configuration over under the
// node's ID), only empty, when a leader or an application asks. As that
// memory ends with the log's record, a replica on a node the catalog's
// entry names among the group's first voters is not retired (mayRetire).
// A replica opened again writes store spaces of its own (freshStoreGen),
// never the retired one's names.

// retireTicks is how long a given-up replica waits, hearing no leader,
// before its node retires it: placement that adds it back soon after (a
// voter down for a moment again) finds it with its state.
const retireTicks = declineTicks

// checkRetire runs every tick on the loop: it reports whether the
// replica has been given up for retireTicks without stepping a leader's
// message, and then takes it out of the node's table (takeOut), after
// which the loop stops and the node retires it.
func (h *Heap) checkRetire() bool {
	c := &h.contact
	if !h.givenUp() || h.inConf.Load() || h.lost != nil || h.node.leaving.Load() {
		c.retireIdle = 0
		return false
	}
	if at := c.at.Load(); at != c.retireSeen {
		c.retireSeen, c.retireIdle = at, 0
		return false
	}
	if c.retireIdle++; c.retireIdle < retireTicks {
		return false
	}
	if !h.node.mayRetire(h) {
		c.retireIdle = 0 // asked again retireTicks later
		h.node.retireRefused(h, "first voter or no entry")
		return false
	}
	return h.node.takeOut(h)
}

// mayRetire reports whether the node may retire its replica h of a heap:
// not if the heap's catalog entry names the node among its first voters,
// nor if the local catalog replica does not hold the entry of h's group.
// A first voter's replica stays open, given up, as before retirement
// was: the log's record of a retirement is the node's only memory of
// it, and once the log has dropped it a restart would open the heap
// again from the catalog's entry (engine.Sync lists the heaps whose
// entry names the node among their first voters), from the group's
// first configuration at index 1, term 1: a replica that campaigns
// under the node's ID with none of the group's entries, and leads a
// group of its own if its old configuration gives it a quorum (one
// replica, moved away).
func (n *Node) mayRetire(h *Heap) bool {
	e, ok := n.catalogEntry(h.name)
	return ok && e.Group == h.group && !e.FirstVoter(n.id)
}

// retireRefused tells retireRefusedHook, set by tests, that h's
// retirement was due and not done, and why.
func (n *Node) retireRefused(h *Heap, why string) {
	n.mu.Lock()
	hook := n.retireRefusedHook
	n.mu.Unlock()
	if hook != nil {
		hook(h, why)
	}
}

// takeOut takes a replica being retired out of the node's table, holds
// opens of its heap until retire has ended, and starts retire; false if
// the node closes or the table holds another replica of the heap.
func (n *Node) takeOut(h *Heap) bool {
	n.mu.Lock()
	if n.closed || n.heaps[h.name] != h || n.opening[h.name] != nil {
		held := !n.closed && n.heaps[h.name] == h
		n.mu.Unlock()
		if held {
			n.retireRefused(h, "held") // an open of the heap under way
		}
		return false
	}
	delete(n.heaps, h.name)
	gate := make(chan struct{})
	if n.opening == nil {
		n.opening = map[string]chan struct{}{}
	}
	n.opening[h.name] = gate
	if n.retired == nil {
		n.retired = map[groupKey]uint64{}
	}
	n.retired[groupKey{h.name, h.group}] = h.state.Load().Index()
	n.wg.Add(1)
	n.mu.Unlock()
	h.watchMu.Lock()
	first := !h.closed
	h.closed = true
	h.watchMu.Unlock()
	if first {
		close(h.stop) // what waits on the replica sees it closed
	}
	go n.retire(h, gate)
	return true
}

// retire ends the retirement of h once its loop has exited: the log
// records the replica dropped, the store drops its space, and opens of
// the heap go on.
func (n *Node) retire(h *Heap, gate chan struct{}) {
	defer n.wg.Done()
	<-h.done
	n.noteDropped(h)
	n.mu.Lock()
	hook := n.retiredHook
	n.mu.Unlock()
	if hook != nil {
		hook(h)
	}
	n.mu.Lock()
	delete(n.opening, h.name)
	n.mu.Unlock()
	close(gate)
	h.log.Info("replica retired: its group removed it and no application on this node uses it; an open of the heap here joins the group again")
}

// wasRetired reports whether the node retired its replica of the heap's
// group, in this run or (while its log holds the record) before, and the
// last index that replica held (0 if not known).
func (n *Node) wasRetired(name string, group uint64) (bool, uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	at, ok := n.retired[groupKey{name, group}]
	return ok, at
}
