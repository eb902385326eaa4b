package oss

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"

	"github.com/objectsharing/oss/persist"
)

// A failed start that no cluster admitted takes back its cluster ID.
//
// A new node writes its identity before it is admitted anywhere: its
// NODE_NAME and NODE_ID, the CLUSTER it drew (and DRAWN_CLUSTER) or took
// from a join's gossip (adoptCluster). A start that then failed (its
// join refused, its catalog out of reach, its context ended: ossd
// interrupted) kept them, and a later start with Join naming another
// cluster was refused as a member of the first: a node pointed at the
// wrong cluster first, or whose first join timed out, needed its files
// removed by hand.
//
// A failed start now removes the cluster's ID it wrote (CLUSTER,
// DRAWN_CLUSTER), unless the node may have been admitted: a peer's raft
// message or snapshot reached its raft ID (addressed), its log
// recovered a replica, or it appended a record to its log (a replica's
// state, a vote, an entry), or its log failed. The node's own ID and
// name stay (takeBackOrder): a leader may have placed a new heap's first
// voter on the node from membership alone, and only the node's return
// under that ID brings the voter back. Kept, they make no trouble
// elsewhere: another cluster has never heard of the ID.
//
// The removal runs once the node's log and network are closed (nothing
// is logged, no message arrives any more) and before the data
// directory's lock is released, one file at a time, each removal made
// durable (SyncDir) before the next: CLUSTER, then DRAWN_CLUSTER. A
// crash between the two leaves DRAWN_CLUSTER without CLUSTER, which
// draws anew. The log's empty segment and the empty store stay: they
// hold nothing, and a new node takes them. A process killed during its
// start removes nothing: started again with the same Join it joins under
// the identity it kept; with another cluster's, it is refused as before,
// and the error says which file to remove.

// madeIdentity is what a start of a durable node wrote of its identity
// that its data directory did not hold.
type madeIdentity struct {
	fsys persist.FS
	dir  string

	mu      sync.Mutex
	names   []string // the files, in the order written
	kept    bool     // the start succeeded: nothing more is noted
	taken   bool     // the start failed: nothing more is written
	removed bool     // and its files were removed (its error says so)
}

// errTakenBack is a write of the identity refused once a failed start
// took its cluster ID back.
var errTakenBack = errors.New("oss: the failed start took its cluster ID back")

// write writes the file name (store) unless the identity was taken
// back, and notes it as this start's if created says the data
// directory did not hold it. A nil m writes.
func (m *madeIdentity) write(name string, created bool, store func() error) error {
	if m == nil {
		return store()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.taken {
		return errTakenBack
	}
	if err := store(); err != nil {
		return err
	}
	if created && !m.kept && !slices.Contains(m.names, name) {
		m.names = append(m.names, name)
	}
	return nil
}

// keep ends the notes: the start succeeded.
func (m *madeIdentity) keep() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.kept = true
	m.mu.Unlock()
}

// takeBackOrder is what a failed start takes back, in that order: the
// cluster's ID, not the node's. NODE_ID and NODE_NAME stay: a leader may
// have made the node's ID a new heap's first voter from membership alone
// (firstVoters takes every live server, one inside its start too),
// without a message the node could have noted, and a node that came
// back under a new ID would leave that voter down for good (a heap of
// one replica lost; review of 2026-12-07). Under its ID kept, the node
// joining that cluster again is the voter's return; joining another, its
// ID is unknown there, as a new node's.
var takeBackOrder = []string{clusterIDFile, drawnClusterFile}

// takeBack removes the cluster ID files a failed start wrote (n.made,
// takeBackOrder), if the node was admitted nowhere (admittedWhy); the
// node is closed. It logs what it did, and what it left. A start that
// wrote no cluster ID (it failed to listen, or met no member) removes
// nothing, and its error says nothing of it.
func (n *Node) takeBack() {
	m := n.made
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kept || m.taken {
		return
	}
	m.taken = true
	if !slices.ContainsFunc(m.names, func(name string) bool { return slices.Contains(takeBackOrder, name) }) || n.cfg.leaveFailedStart {
		return
	}
	if why := n.admittedWhy(); why != "" {
		n.log.Info("the failed start keeps the cluster ID it wrote: the node may have been admitted to the cluster", "why", why, "files", m.names)
		return
	}
	var done []string
	for _, name := range takeBackOrder {
		if !slices.Contains(m.names, name) {
			continue
		}
		err := m.fsys.Remove(filepath.Join(m.dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		if err == nil {
			err = m.fsys.SyncDir(m.dir)
		}
		if err != nil {
			n.log.Warn("the failed start could not remove the cluster ID it wrote; a start with Join naming another cluster may be refused until the files are removed",
				"removed", done, "file", filepath.Join(m.dir, name), "err", err)
			return
		}
		done = append(done, name)
	}
	m.removed = len(done) > 0
	n.log.Info("the start failed before the node was admitted to a cluster: the cluster ID it wrote is removed", "dir", m.dir, "files", done)
}

// admittedWhy says why the node, closed, may have been admitted to a
// cluster, "" if it provably was not (takeBack).
func (n *Node) admittedWhy() string {
	if n.addressed.Load() {
		return "a peer's raft message reached its raft ID"
	}
	if d := n.disk; d != nil {
		if len(d.recovered) > 0 {
			return "its log holds replicas"
		}
		if err := d.wal.Failed(); err != nil {
			return fmt.Sprintf("its log failed: %v", err)
		}
		if st := d.wal.Stats(); st.Records > 0 {
			return fmt.Sprintf("it logged %d records", st.Records)
		}
	}
	return ""
}

// failedStart closes a node whose start failed with err, as stop does
// (graceful or not), taking back the identity the start wrote if no
// cluster admitted the node (takeBack, run as the close releases the
// data directory's lock), and returns err, saying so if it did.
func (n *Node) failedStart(err error, graceful bool) error {
	n.startFailed.Store(true)
	n.stop(context.Background(), graceful)
	if m := n.made; m != nil {
		m.mu.Lock()
		removed := m.removed
		m.mu.Unlock()
		if removed {
			return fmt.Errorf("%w (the node was admitted to no cluster: the cluster ID this start wrote in %s is removed, and the next start may join any cluster or bootstrap one)", err, m.dir)
		}
	}
	return err
}
