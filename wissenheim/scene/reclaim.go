package scene

import (
	"errors"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// claim is a cell a live avatar covers but does not hold: garbage or
// another avatar's stale claim was written over it (which Repair frees),
// or it was deleted. While it is free another avatar may step into it
// and overlap the one that covers it.
type claim struct {
	room   *room
	avatar uuid.UUID
	cell   uuid.UUID
}

// unclaimed appends to claims the cells the live avatars of r's roster
// shards cover and do not hold. held holds the cells a Repair's scan
// found naming an avatar that covers them, covers the cells of each
// avatar such a cell named (by avatar and room): only an avatar no cell
// names is read again. A room whose shards are damaged is left to the
// Repair after the one that rebuilds them.
func (w *World) unclaimed(tx *oss.Tx, r *room, held map[uuid.UUID]bool, covers map[[2]uuid.UUID][]uuid.UUID, claims []claim) ([]claim, error) {
	for _, ref := range r.obj.Rosters {
		ro, err := readRoster(tx, ref.ID)
		if errors.Is(err, ErrDamaged) {
			return claims, nil
		} else if err != nil {
			return claims, err
		}
		for _, a := range ro.Avatars {
			cells, ok := covers[[2]uuid.UUID{a.ID, r.id}]
			if !ok {
				av, bad, err := get[avatarObj](tx, a.ID)
				switch {
				case err != nil && !errors.Is(err, oss.ErrNotFound):
					return claims, err
				case err == nil && bad == nil && av.Room.ID == r.id && av.check(r) == "":
					for _, c := range cellsOf(av.Pos) {
						cells = append(cells, cellID(r.id, c))
					}
				}
			}
			for _, id := range cells {
				if !held[id] {
					claims = append(claims, claim{room: r, avatar: a.ID, cell: id})
				}
			}
		}
	}
	return claims, nil
}

// cellHeldBy reports whether cell id of r names avatar, or is held by
// another avatar that covers it (a claim Repair must not take away).
func (w *World) cellHeldBy(tx *oss.Tx, r *room, id, avatar uuid.UUID) (bool, error) {
	co, bad, err := get[cellObj](tx, id)
	switch {
	case errors.Is(err, oss.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case bad == nil && co.Avatar.ID == avatar && co.Room.ID == r.id:
		return true, nil
	}
	return !w.staleCell(tx, id, nil), nil
}

// claimCells writes, in tx, each of claims whose avatar still covers its
// cell, unless the cell is held by the avatar or another that covers it.
func (w *World) claimCells(tx *oss.Tx, claims []claim) (int, error) {
	n := 0
	for _, c := range claims {
		av, bad, err := get[avatarObj](tx, c.avatar)
		if errors.Is(err, oss.ErrNotFound) || bad != nil || av.Room.ID != c.room.id || av.check(c.room) != "" {
			continue
		} else if err != nil {
			return 0, err
		}
		covers := false
		for _, cl := range cellsOf(av.Pos) {
			covers = covers || cellID(c.room.id, cl) == c.cell
		}
		if !covers {
			continue
		}
		if held, err := w.cellHeldBy(tx, c.room, c.cell, c.avatar); err != nil {
			return 0, err
		} else if held {
			continue
		}
		co := cellObj{Avatar: oss.RefTo[avatarObj](c.avatar), Room: oss.RefTo[roomObj](c.room.id)}
		if err := oss.Put(tx, c.cell, co); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}
