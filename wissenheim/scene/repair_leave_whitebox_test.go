package scene

import (
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// A Repair that rebuilds a damaged roster shard from the avatars a View
// found lists none that left since: a leave beside a damaged shard
// deletes the avatar and leaves the shard as it is, so the shard's
// version did not tell the rebuild of it, and the rebuilt shard listed
// the avatar that was gone, damaged again until the next Repair.
func TestRepairListsNoAvatarThatLeftSinceItsView(t *testing.T) {
	g := newGarbageWorld(t)
	g.put(g.roster(), "garbage")
	var p mends
	g.view(func(tx *oss.Tx) error {
		p = mends{index: tx.Index(), rosters: map[*room][][]uuid.UUID{}}
		return g.w.findMends(tx, &p)
	})
	want := p.rosters[g.room]
	if want == nil || len(want[shardOf(g.ada.ID(), RosterShards)]) != 1 {
		t.Fatalf("the View found the avatars %v of the damaged room, want ada alone in her shard", want)
	}
	if err := g.ada.Leave(g.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := g.w.mend(g.ctx, func(tx *oss.Tx) (int, error) { return g.w.rebuildRosters(tx, g.room, want, p.index) }); err != nil {
		t.Fatal(err)
	}
	g.view(func(tx *oss.Tx) error {
		ro, err := readRoster(tx, g.roster())
		if err != nil {
			t.Fatalf("ada's shard after the rebuild: %v", err)
		}
		for _, a := range ro.Avatars {
			if a.ID == g.ada.ID() {
				t.Errorf("the rebuilt shard lists ada, who left")
			}
		}
		if bad, err := g.w.rostersDamaged(tx, g.room); err != nil || bad {
			t.Errorf("rosters damaged after the rebuild: %v %v", bad, err)
		}
		return nil
	})
}
