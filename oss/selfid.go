package oss

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// A node restarted on its data directory runs under the raft ID in its
// NODE_ID. A NODE_ID replaced by another node's (copied from its data
// directory) or by any other valid ID is not damaged in itself: its
// checksum holds. The node's own replica of the catalog tells: the node
// record of its name, written when it joined, holds the ID it ran under,
// and no other node's record may hold that ID. Start compares them once
// the catalog's replica has applied what its log holds as committed, and
// refuses to run under an ID that is not the node's: its peers would
// refuse every replica it asks them to take back, and it would run on,
// listed as a member, following nothing. A node without a network
// registers in no catalog, so nothing records its name; but a catalog
// that records no node at all was never a cluster's (every server
// registers), so it is the group the node created with itself its one
// voter, which no other node can change: an ID that is no member of it
// is not the node's.

// ownIDWait bounds the wait for the catalog's replica to apply its
// recovered log before the check; a replica slower than that is not
// checked.
const ownIDWait = 10 * time.Second

// notOwnID is checkOwnID's error. Start closes a node that fails so as a
// crash would: a graceful close waits for its replicas' votes to be
// handed over (10 s), which their groups, refusing the node, never do,
// and announces a leave under the name of a node it is not.
type notOwnID struct{ err error }

func (e notOwnID) Error() string { return e.err.Error() }
func (e notOwnID) Unwrap() error { return e.err }

// isNotOwnID reports whether err is checkOwnID's.
func isNotOwnID(err error) bool {
	var e notOwnID
	return errors.As(err, &e)
}

// checkOwnID returns ErrCorrupt if the catalog's recovered replica h,
// once it has applied up to commit, binds the node's name to another raft
// ID than the node's, or the node's ID to another name.
func (n *Node) checkOwnID(ctx context.Context, h *Heap, commit uint64) error {
	if !pollUntil(ctx, ownIDWait, func() bool { return h.state.Load().Index() >= commit }) {
		n.log.Warn("NODE_ID not checked against the catalog: its replica did not apply its recovered log in time",
			"wait", ownIDWait, "applied", h.state.Load().Index(), "commit", commit)
		return nil
	}
	b := n.committed()
	path := filepath.Join(n.cfg.DataDir, nodeIDFile)
	remedy := "put back the node's own file, or move the data directory aside and start the node empty, with Join, to rebuild its replicas from its peers"
	if owner, ok := b.ids[n.id]; ok && owner != n.cfg.Name {
		return notOwnID{fmt.Errorf("%w: %s holds raft ID %016x, which the catalog (this node's replica) records as node %q's, not %q's: the file is another node's; %s",
			ErrCorrupt, path, n.id, owner, n.cfg.Name, remedy)}
	}
	rec, ok := b.recs[n.cfg.Name]
	if ok && rec.ID != n.id {
		return notOwnID{fmt.Errorf("%w: %s holds raft ID %016x, but the catalog (this node's replica) records node %q under raft ID %016x: the file is not the one this node ran with; %s",
			ErrCorrupt, path, n.id, n.cfg.Name, rec.ID, remedy)}
	}
	if cs := h.conf.Load(); len(b.recs) == 0 && n.tr == nil && cs != nil && !h.inConf.Load() && len(cs.Voters) > 0 {
		return notOwnID{fmt.Errorf("%w: %s holds raft ID %016x, which is no member of the catalog this node (without a network) created: its members are %016x; the file is not the one this node ran with; %s",
			ErrCorrupt, path, n.id, cs.Voters, remedy)}
	}
	return nil
}
