package scene

import (
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// A cell a live avatar covers, overwritten with garbage or with another
// avatar's claim, or deleted, is held by that avatar again after a
// Repair. Repair freed the first two and left the third, and nothing
// claimed the cell again while the avatar stood still: another avatar
// could step into it and overlap it, and Verify said "avatar does not
// hold cell" for good.
func TestRepairClaimsTheCellsOfALiveAvatarAgain(t *testing.T) {
	for _, c := range []struct {
		name string
		hit  func(g *garbageWorld, id uuid.UUID)
	}{
		{"garbage", func(g *garbageWorld, id uuid.UUID) { g.put(id, "x") }},
		{"another avatar's claim", func(g *garbageWorld, id uuid.UUID) {
			g.put(id, cellObj{Avatar: oss.RefTo[avatarObj](g.bob.ID()), Room: oss.RefTo[roomObj](g.room.id)})
		}},
		{"deleted", func(g *garbageWorld, id uuid.UUID) {
			if err := g.w.Heap().Update(g.ctx, func(tx *oss.Tx) error { return tx.Delete(id) }); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGarbageWorld(t)
			var av avatarObj
			g.view(func(tx *oss.Tx) (err error) { av, err = oss.Get[avatarObj](tx, g.ada.ID()); return err })
			for _, cl := range cellsOf(av.Pos) {
				c.hit(g, cellID(g.room.id, cl))
			}
			g.mend()
			g.verify()
		})
	}
}
