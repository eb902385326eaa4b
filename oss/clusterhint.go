package oss

import (
	"fmt"
	"path/filepath"
	"strings"
)

// otherClusterHint adds to err, Start's failure to join, what a refusal
// for another cluster (ErrOtherCluster) may mean for a node whose cluster
// ID came from its data directory: its --join names another cluster's
// nodes, or its CLUSTER file is not the one it ran with (another node's
// copied in). The refusal alone said that a node started without Join
// on an empty data directory makes a cluster of its own, which is not
// the case of a node that has a data directory. A node whose log holds
// no catalog got the ID at a start killed before its end: it took the
// ID from a join's gossip and never got into that cluster, or it drew
// the ID (DRAWN_CLUSTER holds it) to bootstrap a cluster that never
// made its catalog's first record. Either way the file is to be
// removed; the error says which of the two it was.
func (n *Node) otherClusterHint(err error) error {
	if err == nil || n.disk == nil || n.cluster == 0 || !strings.Contains(err.Error(), ErrOtherCluster.Error()) {
		return err
	}
	path := filepath.Join(n.cfg.DataDir, clusterIDFile)
	if !n.isMember() {
		// A start killed after it got a cluster's ID and before that
		// cluster's catalog held the node (one that fails takes the ID
		// back: unadmitted.go).
		if m := n.made; m != nil {
			if drawn, derr := drawnClusterOnDisk.load(m.fsys, m.dir); derr == nil && drawn == n.cluster {
				return fmt.Errorf("%w; this node drew cluster %016x's ID (%s) at an earlier start that bootstrapped that cluster and stopped before its catalog's first record, so that cluster holds nothing: if Join (--join) names the cluster it is to join, remove that file and %s",
					err, n.cluster, path, filepath.Join(n.cfg.DataDir, drawnClusterFile))
			}
		}
		return fmt.Errorf("%w; this node took cluster %016x's ID (%s) at an earlier start that never got into it (stopped before its end): if Join (--join) names the cluster it is to join, remove that file",
			err, n.cluster, path)
	}
	return fmt.Errorf("%w; this node is of cluster %016x, as %s says: if Join (--join) names the nodes of the cluster this node ran in, that file was replaced (another cluster's copied in), and the node's own, or a rebuild (--rebuild-replica with --join), is the remedy; otherwise give Join this node's cluster",
		err, n.cluster, path)
}
