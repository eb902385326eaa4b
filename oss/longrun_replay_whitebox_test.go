package oss

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/internal/codec"
)

// replayLog replays records numbered from 10 and returns the group of heap
// "h" with the error of the first record that failed, if any.
func replayLog(t *testing.T, recs []walRecord) (*recoveredGroup, error) {
	t.Helper()
	groups := map[groupKey]*recoveredGroup{}
	for i, r := range recs {
		b, err := codec.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := replayRecord(groups, uint64(10+i), b); err != nil {
			return groups[groupKey{"h", 1}], err
		}
	}
	return groups[groupKey{"h", 1}], nil
}

func entryRecord(t *testing.T, from, to uint64) walRecord {
	t.Helper()
	r := walRecord{Heap: "h", Group: 1, Replicas: 3}
	for i := from; i <= to; i++ {
		b, err := (&raftpb.Entry{Term: 2, Index: i, Data: []byte{0xa0}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r.Entries = append(r.Entries, b)
	}
	hb, _ := (&raftpb.HardState{Term: 2, Vote: 1, Commit: to}).Marshal()
	r.Hard = hb
	return r
}

func markerRecord(t *testing.T, index uint64) walRecord {
	t.Helper()
	mb, err := (&raftpb.SnapshotMetadata{Index: index, Term: 2}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return walRecord{Heap: "h", Group: 1, Replicas: 3, SnapMeta: mb, InStore: true}
}

// A checkpoint at index 40 runs while entries 39 to 45 are logged; its
// marker comes after them, and the log is truncated before the record
// holding them (the first with entries past 40), which may begin a segment
// (a restart or a failed write starts one). That log is what recovery
// reads after a crash: the entries come before any snapshot, and the
// marker then covers their head. TestHarnessCrashesAndDiskFaults, long,
// failed to restart a node on it ("entry 39 does not follow the log").
func TestReplayEntriesBeforeTheirCheckpointMarker(t *testing.T) {
	g, err := replayLog(t, []walRecord{entryRecord(t, 39, 45), markerRecord(t, 40), entryRecord(t, 46, 47)})
	if err != nil {
		t.Fatalf("a log as a checkpoint leaves it does not replay: %v", err)
	}
	if g.snap.Metadata.Index != 40 || len(g.ents) != 7 || g.ents[0].Index != 41 || g.ents[6].Index != 47 {
		t.Fatalf("snapshot %d, entries %v", g.snap.Metadata.Index, g.ents)
	}
	st, err := g.storage()
	if err != nil {
		t.Fatal(err)
	}
	if first, _ := st.FirstIndex(); first != 41 {
		t.Fatalf("first index %d, want 41", first)
	}
	if last, _ := st.LastIndex(); last != 47 {
		t.Fatalf("last index %d, want 47", last)
	}
}

// Entries that do not follow the snapshot the log ends up with, or one
// another, are still refused as damage, never handed to raft with a gap.
func TestReplayRefusesEntriesWithAGap(t *testing.T) {
	for name, recs := range map[string][]walRecord{
		"no snapshot":          {entryRecord(t, 39, 45)},
		"after the snapshot":   {markerRecord(t, 40), entryRecord(t, 43, 45)},
		"past an early marker": {entryRecord(t, 39, 45), markerRecord(t, 30)},
	} {
		g, err := replayLog(t, recs)
		if err != nil {
			continue // refused as it was read
		}
		if _, err := g.storage(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: storage: %v, want ErrCorrupt", name, err)
		}
	}
	_, err := replayLog(t, []walRecord{entryRecord(t, 39, 45), entryRecord(t, 47, 48)})
	if err == nil {
		t.Fatal("entries 47 and 48 after 45 replayed")
	}
}
