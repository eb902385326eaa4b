package oss

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/objectsharing/oss/persist"
)

// A new node's identity on disk.
//
// A new node writes its NODE_ID, and the CLUSTER it drew if it
// bootstraps, once its network is up and before it announces the
// cluster's ID to anyone (keepIdentity): a start that fails to listen
// leaves a data directory a start with Join takes, and no peer ever
// holds a drawn ID the node then lost. (A start that fails later, before
// any cluster admitted the node, takes back CLUSTER and DRAWN_CLUSTER,
// and keeps NODE_ID: unadmitted.go.)
//
// A bootstrapping node also keeps the ID it drew in DRAWN_CLUSTER,
// written before CLUSTER. CLUSTER alone cannot tell a node that drew its
// ID from one that took it from a join's gossip (adoptCluster) and never
// joined the catalog; started without Join, the latter bootstrapped a
// second cluster under the first one's ID. A node with a CLUSTER and no
// catalog in its log bootstraps only if DRAWN_CLUSTER holds the same ID
// (tookCluster): one that drew it and stopped before its catalog's first
// record starts its bootstrap again; any other is refused.

const drawnClusterFile = "DRAWN_CLUSTER"

var drawnClusterOnDisk = idFile{name: drawnClusterFile, what: "drawn cluster identity",
	remedy: "remove the file (and CLUSTER to make a new cluster)"}

// newIdentity is what a new node has to write (Node.keepNew).
type newIdentity struct {
	fsys  persist.FS
	dir   string
	node  bool   // its NODE_ID (Node.id)
	drawn uint64 // the cluster's ID it drew to bootstrap, 0 if none
}

// newIdentity returns the node's identity to write, made on first use.
func (n *Node) newIdentity(fsys persist.FS, dir string) *newIdentity {
	if n.keepNew == nil {
		n.keepNew = &newIdentity{fsys: fsys, dir: dir}
	}
	return n.keepNew
}

// keepIdentity writes what openDisk and openCluster made for a new node
// (keepNew): DRAWN_CLUSTER, CLUSTER, then NODE_ID. A failure after
// CLUSTER was written removes it again (dropDrawn): left behind, a
// start with Join was refused as another cluster's. Once written, it
// does nothing.
func (n *Node) keepIdentity() error {
	k := n.keepNew
	if k == nil {
		return nil
	}
	m := n.made // notes each file as this start's (unadmitted.go)
	if k.drawn != 0 {
		if err := m.write(drawnClusterFile, true, func() error { return drawnClusterOnDisk.store(k.fsys, k.dir, k.drawn) }); err != nil {
			return err
		}
		if err := m.write(clusterIDFile, true, func() error { return storeClusterID(k.fsys, k.dir, k.drawn) }); err != nil {
			return k.dropDrawn(err) // its rename may have been done
		}
	}
	if k.node {
		if err := m.write(nodeIDFile, true, func() error { return storeNodeID(k.fsys, k.dir, n.id) }); err != nil {
			return k.dropDrawn(err)
		}
	}
	n.keepNew = nil
	return nil
}

// dropDrawn removes the CLUSTER keepIdentity wrote, best effort, after
// err, and says in err what became of it.
func (k *newIdentity) dropDrawn(err error) error {
	if k.drawn == 0 {
		return err
	}
	path := filepath.Join(k.dir, clusterIDFile)
	rerr := k.fsys.Remove(path)
	if errors.Is(rerr, fs.ErrNotExist) {
		rerr = nil
	}
	if rerr == nil {
		rerr = k.fsys.SyncDir(k.dir)
	}
	if rerr != nil {
		return fmt.Errorf("%w; the cluster ID this start drew (%016x) may be left in %s (removing it: %v): remove that file before starting the node with Join", err, k.drawn, path, rerr)
	}
	return fmt.Errorf("%w; the cluster ID this start drew (%016x) was removed from %s: the node starts as new, with or without Join", err, k.drawn, path)
}

// tookCluster refuses to bootstrap a node (no Join, no catalog in its
// log) whose CLUSTER holds id, unless it drew id itself (DRAWN_CLUSTER):
// it took the ID from a cluster it never joined, and its bootstrap would
// make a second cluster under that cluster's ID.
func tookCluster(fsys persist.FS, dir string, id uint64) error {
	drawn, err := drawnClusterOnDisk.load(fsys, dir)
	if err != nil {
		return err // names DRAWN_CLUSTER and its remedy
	}
	if drawn == id {
		return nil
	}
	return fmt.Errorf("oss: this node took cluster %016x's ID and never joined it: start with Join (--join), or remove %s to make a new cluster", id, filepath.Join(dir, clusterIDFile))
}
