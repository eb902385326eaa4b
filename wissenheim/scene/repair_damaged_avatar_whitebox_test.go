package scene

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// A damaged avatar listed in a damaged roster shard is removed (with its
// name's root, if it decodes) once Run has mended the world: the rebuilt shard
// lists it, so Reap finds it. The rebuild listed only the avatars that
// passed their checks; Reap skips a damaged shard, so the damaged avatar
// was listed nowhere after the rebuild and stayed in the heap for ever,
// named by no snapshot.
func TestRepairKeepsADamagedAvatarForReap(t *testing.T) {
	for _, c := range []struct {
		name   string
		avatar func(g *garbageWorld) any
		roster func(g *garbageWorld) any
		named  bool // the avatar decodes: its name's root goes too
	}{
		{"outside the room, roster lists a missing avatar", outsideTheRoom,
			func(g *garbageWorld) any { return g.rosterWith(g.ada.ID(), uuid.New()) }, true},
		{"outside the room, roster garbage", outsideTheRoom,
			func(g *garbageWorld) any { return "garbage" }, true},
		{"garbage, roster lists a missing avatar", func(g *garbageWorld) any { return "garbage" },
			func(g *garbageWorld) any { return g.rosterWith(g.ada.ID(), uuid.New()) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGarbageWorld(t)
			g.put(g.ada.ID(), c.avatar(g))
			g.put(g.roster(), c.roster(g))
			g.mend()
			g.mend()
			g.view(func(tx *oss.Tx) error {
				if ok, err := tx.Exists(g.ada.ID()); ok || err != nil {
					t.Errorf("ada's damaged object after the repair: exists %v (%v), want it removed", ok, err)
				}
				if _, err := tx.Root(nameRoot(g.w.name, "ada")); c.named && !errors.Is(err, oss.ErrNotFound) {
					t.Errorf("ada's name root after the repair: %v, want it removed", err)
				}
				return nil
			})
			if s := g.snap(); s.Damaged != nil || len(s.Avatars) != 1 {
				t.Errorf("after repair: avatars %+v, damaged %+v; want bob alone", s.Avatars, s.Damaged)
			}
			g.verify()
		})
	}
}

// outsideTheRoom is ada's avatar moved outside the room, as `ossd put`
// may write it.
func outsideTheRoom(g *garbageWorld) any {
	var av avatarObj
	g.view(func(tx *oss.Tx) (err error) { av, err = oss.Get[avatarObj](tx, g.ada.ID()); return err })
	av.Pos = Vec{X: -3, Y: 1e300}
	return av
}
