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
// no catalog took the ID at a start that never got in: the file is
// to be removed.
func (n *Node) otherClusterHint(err error) error {
	if err == nil || n.disk == nil || n.cluster == 0 || !strings.Contains(err.Error(), ErrOtherCluster.Error()) {
		return err
	}
	path := filepath.Join(n.cfg.DataDir, clusterIDFile)
	if !n.isMember() {
		// A start killed after it took a cluster's ID and before any
		// catalog took it in (one that fails takes the ID back:
		// unadmitted.go).
		return fmt.Errorf("%w; this node took cluster %016x's ID (%s) at an earlier start that never got into it (stopped before its end): if Join (--join) names the cluster it is to join, remove that file",
			err, n.cluster, path)
	}
	return fmt.Errorf("%w; this node is of cluster %016x, as %s says: if Join (--join) names the nodes of the cluster this node ran in, that file was replaced (another cluster's copied in), and the node's own, or a rebuild (--rebuild-replica with --join), is the remedy; otherwise give Join this node's cluster",
		err, n.cluster, path)
}
