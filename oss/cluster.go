package oss

import (
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/persist"
)

// Cluster identity.
//
// A node that bootstraps a cluster (no Join, nothing recovered) draws the
// cluster's ID at random and keeps it in its data directory (CLUSTER); a
// node that joins takes the ID of the members it first merges with, and
// keeps it too. Every node announces it in its membership metadata and
// refuses a join's merge with, or the alive message of, a member that
// announces another: two clusters whose nodes reach each other (a node that lost its
// data directory and was started again without Join bootstraps a second
// cluster on the address its old peers keep dialing) stay apart, where
// they merged before and the new cluster's catalog, in the same group as
// the old one's, took over the old one's members. A node that announces
// none (one that has not yet joined, or of a cluster made before the ID
// existed) is refused by nobody; a node without one takes the first it
// merges with.

const clusterIDFile = "CLUSTER"

// loadClusterID reads the cluster's ID from the data directory (idFile),
// 0 if the node has none yet.
func loadClusterID(fsys persist.FS, dir string) (uint64, error) {
	return clusterIDOnDisk.load(fsys, dir)
}

func storeClusterID(fsys persist.FS, dir string, id uint64) error {
	return clusterIDOnDisk.store(fsys, dir, id)
}

// ErrOtherCluster is the cause of a membership merge refused because a
// member belongs to another cluster. Start's error for a node that joins
// another cluster than its own matches it, and ErrJoinRefused.
var ErrOtherCluster = errors.New("oss: a member of another cluster")

// clusterOf reads the cluster ID a member announces, 0 if none.
func clusterOf(n *memberlist.Node) uint64 {
	var meta memberMeta
	if codec.Unmarshal(n.Meta, &meta) != nil {
		return 0
	}
	return meta.Cluster
}

// sameCluster reports whether two cluster IDs may be of one cluster: a
// node that has none yet (zero) is of any.
func sameCluster(a, b uint64) bool { return a == 0 || b == 0 || a == b }

// checkCluster refuses a member of another cluster than own.
func checkCluster(own uint64, n *memberlist.Node) error {
	if c := clusterOf(n); own != 0 && c != 0 && c != own {
		return fmt.Errorf("%w: %s (%s) is of cluster %016x, this node of %016x; a node started without Join on an empty data directory makes a cluster of its own", ErrOtherCluster, n.Name, n.Address(), c, own)
	}
	return nil
}

// NotifyMerge implements memberlist.MergeDelegate, which memberlist
// calls for a join's push-pull: one with a member of another cluster is
// refused whole. A node of no cluster yet takes the one its peers
// announce.
func (m *membership) NotifyMerge(peers []*memberlist.Node) error {
	own := m.cluster.Load()
	if own == 0 {
		for _, p := range peers {
			if c := clusterOf(p); c != 0 {
				own = c
				break
			}
		}
	}
	for _, p := range peers {
		if err := checkCluster(own, p); err != nil {
			m.stats.otherCluster.Add(1)
			m.cfg.logger.Warn("membership merge refused", "err", err)
			return err
		}
	}
	if own != 0 && m.cluster.CompareAndSwap(0, own) {
		// NodeMeta reads the ID, but memberlist asks for it only when the
		// node's metadata is updated, which nothing else does while the
		// node stays: it would announce none for its whole life, and a
		// node of another cluster would take it in.
		select {
		case m.announce <- struct{}{}:
		default:
		}
		if m.cfg.adoptCluster != nil {
			m.cfg.adoptCluster(own)
		}
	}
	return nil
}

// announceCluster updates the node's metadata once it took its cluster's
// ID (NotifyMerge, which may run before m.ml is set and must not wait
// for a broadcast).
func (m *membership) announceCluster() {
	for {
		select {
		case <-m.stopc:
			return
		case <-m.announce:
		}
		if err := m.updateNode(); err != nil {
			m.cfg.logger.Debug("cluster ID not gossiped", "err", err)
		}
	}
}

// NotifyAlive implements memberlist.AliveDelegate: the alive message of a
// member of another cluster is ignored, and so is one of an earlier
// process of a member (staleAlive, moved.go).
func (m *membership) NotifyAlive(peer *memberlist.Node) error {
	if err := checkCluster(m.cluster.Load(), peer); err != nil {
		m.stats.otherCluster.Add(1)
		return err
	}
	return m.staleAlive(peer)
}

// openCluster reads the node's cluster ID from dir, or draws and keeps
// one for a node that bootstraps a cluster (no Join, no catalog
// recovered), and keeps an ID it takes from its
// peers later. A node that would bootstrap under an ID it did not draw
// is refused (tookCluster).
func (n *Node) openCluster(fsys persist.FS, dir string, groups map[groupKey]*recoveredGroup) error {
	id, err := loadClusterID(fsys, dir)
	if err != nil {
		return err
	}
	bootstrap := len(n.cfg.Join) == 0 && groups[groupKey{heap: catalogName}] == nil
	if id != 0 && bootstrap {
		if err := tookCluster(fsys, dir, id); err != nil { // newidentity.go
			return err
		}
	}
	// Only a node that bootstraps draws one: a node that ran before
	// without an ID (made before IDs, or its CLUSTER lost) has its
	// catalog in its log and takes its cluster's again. One with a
	// NODE_ID and no catalog (a join that failed, or its CLUSTER removed
	// after tookCluster refused it) draws one as a new node does: left
	// at 0, it made a cluster no ID guards.
	if id == 0 && bootstrap {
		id = newNodeID()
		n.newIdentity(fsys, dir).drawn = id
	}
	n.cluster = id
	// An ID taken from peers by a node that had none and holds no catalog
	// is this start's (unadmitted.go).
	created := id == 0 && groups[groupKey{heap: catalogName}] == nil
	n.keepCluster = func(id uint64) {
		err := n.made.write(clusterIDFile, created, func() error { return storeClusterID(fsys, dir, id) })
		if err != nil && !errors.Is(err, errTakenBack) {
			n.log.Warn("cannot keep the cluster's ID; the node takes it again when it next joins", "err", err)
		}
	}
	return nil
}

// adoptCluster notes the cluster ID a node of none took from its peers.
func (n *Node) adoptCluster(id uint64) {
	n.log.Info("took the cluster's ID from its members", "cluster", fmt.Sprintf("%016x", id))
	if n.quic != nil {
		n.quic.SetGroup(id)
	}
	if n.keepCluster != nil {
		n.keepCluster(id)
	}
}

// ClusterID is the ID of the node's cluster, as a node bootstrapping it
// drew it, 0 while a node that joins has not yet merged with a member
// announcing it (or with a cluster made before IDs).
func (n *Node) ClusterID() uint64 {
	if n.members != nil {
		return n.members.cluster.Load()
	}
	return n.cluster
}
