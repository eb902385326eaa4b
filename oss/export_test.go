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
