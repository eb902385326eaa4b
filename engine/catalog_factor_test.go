package engine

import (
	"reflect"
	"testing"
)

// TestSyncFactors: an open replica of the entry's group whose factor is
// not the entry's (changed, or recovered from disk: 0) is given the
// entry's; not one of another group (closed instead), not one opened from
// a later catalog state, not before the catalog has reached what the node
// recovered, and not one that has it already.
func TestSyncFactors(t *testing.T) {
	entry := func(name string, group uint64, replicas int) Entry {
		return Entry{Name: name, Replicas: replicas, Group: group, Voters: []Voter{{Name: "x", ID: 1}}}
	}
	rep := func(name string, group, at uint64, replicas int) Replica {
		return Replica{Name: name, Group: group, Cataloged: true, CatalogAt: at, Replicas: replicas}
	}
	entries := []Entry{entry("a", 1, 5), entry("b", 2, 3), entry("c", 3, 3), entry("d", 4, 1), entry("e", 5, 3)}
	for _, c := range []struct {
		name string
		in   SyncInput
		want []Entry
	}{
		{name: "changed and recovered ones get the entry's, sorted",
			in: SyncInput{Index: 9, Entries: entries, Open: []Replica{
				rep("e", 5, 0, 0), rep("a", 1, 3, 3), rep("b", 2, 3, 3), rep("d", 4, 3, 3)}},
			want: []Entry{entries[0], entries[3], entries[4]}},
		{name: "another group's replica is closed, not given a factor",
			in: SyncInput{Index: 9, Entries: entries, Open: []Replica{rep("a", 7, 3, 3)}}},
		{name: "one opened from a later catalog state keeps its own",
			in: SyncInput{Index: 9, Entries: entries, Open: []Replica{rep("a", 1, 10, 3)}}},
		{name: "nothing before the catalog has reached what the node recovered",
			in: SyncInput{Index: 9, CatalogCommit: 12, Entries: entries, Open: []Replica{rep("a", 1, 0, 0)}}},
		{name: "the catalog's own replica is not Sync's",
			in: SyncInput{Index: 9, Entries: entries, Open: []Replica{{Name: "a", Group: 1, Replicas: 3}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Sync(c.in).Factors; !reflect.DeepEqual(got, c.want) {
				t.Fatalf("factors %+v, want %+v", got, c.want)
			}
		})
	}
}
