package oss

// LoseCatalogForTest loses n's catalog replica while n runs, as a log
// that lost what it acknowledged would (loseCatalog), and reports whether
// it was lost: n is then damaged (Damage). External tests use it to serve
// a damaged node through packages that import oss.
func LoseCatalogForTest(n *Node) bool { return loseCatalog(n.catalog.Load()) }

// LogFirstIndexForTest returns the first index h's raft log in memory
// holds: a follower whose log ends before it needs a snapshot.
func LogFirstIndexForTest(h *Heap) uint64 {
	first, _ := h.storage.FirstIndex()
	return first
}

// OpenDataFilesForTest returns the names of the files of n's data
// directory the disk watch holds as open: after Close, none.
func OpenDataFilesForTest(n *Node) []string {
	if n.diskOps == nil {
		return nil
	}
	d := n.diskOps
	d.mu.Lock()
	defer d.mu.Unlock()
	var names []string
	for f := range d.files {
		names = append(names, f.name)
	}
	return names
}
