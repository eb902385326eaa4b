package engine

import (
	"cmp"
	"slices"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
)

// The catalog is the system heap that holds the heap directory: one entry
// per heap, naming its raft group and the group's first voters. Every node
// keeps its replicas in line with the catalog it has applied: Sync decides
// which to open and which to close, and the runtime carries that out after
// each catalog apply. Placement of a new heap (FirstVoters) and the
// decoding of entries live here too, so that a simulation decides exactly
// as a node does.

var catalogSpace = uuid.MustParse("6f2c1d5e-8a41-4b7e-9a0e-0c55c7a1e001")

// EntryID is the catalog object that holds a heap's entry.
func EntryID(name string) uuid.UUID { return uuid.NewSHA1(catalogSpace, []byte(name)) }

// Entry is a heap's record in the catalog. Its encoding is the catalog's
// on-disk and wire format: keys and types do not change.
type Entry struct {
	Name string `cbor:"1,keyasint"`
	// Replicas is the number of voters the heap keeps.
	Replicas int `cbor:"2,keyasint"`
	// Voters are the group's first voters; later configurations live in
	// the heap's own log.
	Voters []Voter `cbor:"3,keyasint"`
	// Group identifies this incarnation of the heap's raft group: a heap
	// dropped and created again under the same name is a new group, and
	// messages of the old one are not delivered to it.
	Group uint64 `cbor:"4,keyasint"`
}

// Voter names a node of a group by name and raft ID.
type Voter struct {
	_    struct{} `cbor:",toarray"`
	Name string
	ID   uint64
}

// FirstVoter reports whether the entry names id among the group's first
// voters.
func (e *Entry) FirstVoter(id uint64) bool {
	return slices.ContainsFunc(e.Voters, func(v Voter) bool { return v.ID == id })
}

// DecodeEntry returns the heap entry a catalog object holds. An object
// that does not decode as one, or sits under another name's ID (a grant,
// a revocation), is no entry.
func DecodeEntry(o consistency.Object) (Entry, bool) {
	var e Entry
	if codec.Unmarshal(o.Value, &e) != nil || e.Name == "" || EntryID(e.Name) != o.ID {
		return Entry{}, false
	}
	return e, true
}

// Entries returns the heap entries of one state of the catalog, by name.
func Entries(st *consistency.State) []Entry {
	var out []Entry
	st.Ascend(uuid.Nil, func(o consistency.Object) bool {
		if e, ok := DecodeEntry(o); ok {
			out = append(out, e)
		}
		return true
	})
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// FirstVoters places a new heap: the best-ranked live servers (Rank), as
// many as OddVoters allows for replicas. None if no server is live.
func FirstVoters(name string, replicas int, live []Member) []Voter {
	ranked := Rank(name, live)
	var out []Voter
	for _, m := range ranked[:OddVoters(replicas, len(ranked))] {
		out = append(out, Voter{Name: m.Name, ID: m.ID})
	}
	return out
}

// Replica is a heap replica a node has open, as Sync sees it.
type Replica struct {
	Name  string
	Group uint64
	// Cataloged is set for a replica opened through the catalog or
	// recovered from disk: it is closed when its heap is dropped. Others
	// (the catalog's own) are not Sync's.
	Cataloged bool
	// CatalogAt is the catalog's applied index when the replica was
	// opened; 0 for one recovered from disk.
	CatalogAt uint64
	// Replicas is the replication factor the replica's placement plans
	// with: its entry's when it was opened or last synced, 0 for one
	// recovered from disk and not synced since (its own records may hold
	// a factor changed since).
	Replicas int
}

// SyncInput is what a node knows when it brings its replicas in line with
// its catalog replica.
type SyncInput struct {
	Self    uint64  // the node's raft ID
	Index   uint64  // the catalog index Entries were read at
	Entries []Entry // the heap entries at Index
	Open    []Replica
	// CatalogCommit is the last index of the catalog log recovered from
	// disk: until the catalog has applied it, its directory may be older
	// than the replicas recovered with it.
	CatalogCommit uint64
}

// SyncPlan is what a node does to follow its catalog.
type SyncPlan struct {
	// Close names the replicas to close, for good: their heap was
	// dropped, or dropped and created again as a new group.
	Close []string
	// Open are the heaps this node is a first voter of and has no
	// replica of (after Close): it opens each with the entry's voters.
	Open []Entry
	// Factors are the entries of the open replicas' heaps whose
	// replication factor is not the one the replica plans with
	// (Replica.Replicas): its placement plans with the entry's from now on.
	Factors []Entry
}

// Sync decides which replicas a node closes and opens after its catalog
// replica applied up to in.Index. Nothing is decided before the catalog
// has reached CatalogCommit: an older directory may still list a heap
// whose replica this node closed as dropped before it restarted, and
// opening it as a first voter would start a replica of that group afresh
// under the node's ID, its log forgotten. Then it closes a cataloged
// replica whose heap has no entry, or an entry of another group, but
// never one opened from a later catalog state than Index (the heap may
// have been created, or found by a catalog read, after the state Sync
// reads); and it opens the heaps whose first voters include Self that
// have no replica left open (a replica of another group that stays open
// is closed by a later Sync first). A replica of the entry's group that
// stays open and plans with another replication factor than the entry's
// (it was changed, or the replica was recovered from disk) is given the
// entry's, under the same rules: so a restarted node's replicas plan with
// the factor of its catalog, not of their own older records.
//
// A node that is no first voter opens a heap's replica empty when the
// group's leader first reaches it (a learner to be) or when it opens the
// heap itself; Sync does not.
func Sync(in SyncInput) SyncPlan {
	var p SyncPlan
	if in.Index < in.CatalogCommit {
		return p
	}
	entries := make(map[string]Entry, len(in.Entries))
	for _, e := range in.Entries {
		entries[e.Name] = e
	}
	open := make(map[string]bool, len(in.Open))
	for _, r := range in.Open {
		open[r.Name] = true
		if !r.Cataloged || r.CatalogAt > in.Index {
			continue
		}
		e, ok := entries[r.Name]
		switch {
		case !ok || e.Group != r.Group:
			p.Close = append(p.Close, r.Name)
			open[r.Name] = false
		case e.Replicas != r.Replicas:
			p.Factors = append(p.Factors, e)
		}
	}
	slices.Sort(p.Close)
	slices.SortFunc(p.Factors, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
	for _, e := range in.Entries {
		if !open[e.Name] && e.FirstVoter(in.Self) {
			p.Open = append(p.Open, e)
		}
	}
	return p
}
