package scene

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// repairEvery is how many of Run's chore periods pass between Repairs:
// a Repair reads every object of the heap.
const repairEvery = 5

// maxCellGrid bounds the cells of a room that Repair enumerates to find
// whose cell an object that does not decode is.
const maxCellGrid = 1 << 20

// Repair mends, as Run does every few seconds, what of the world's
// objects can be rebuilt from the others (see Snapshot.Damaged):
//
//   - a damaged roster shard (garbage, or listing what is not an avatar
//     of its room) is rebuilt from the avatars that point at the room,
//     damaged ones among them, and keeps the damaged avatars it lists:
//     Reap removes those from the shard it finds them in;
//   - a prop whose holder is not a live avatar of its room that holds it
//     is held by nobody, where it lies;
//   - a damaged chat shard is emptied: nothing in it can be trusted;
//   - a cell that does not decode, or whose avatar is gone or does not
//     cover it, is freed;
//   - a cell a live avatar covers and does not hold (garbage was written
//     over it, or it was deleted) is claimed for it again, unless
//     another avatar that covers it holds it.
//
// A damaged clock is mended by Run's advance, damaged avatars by Reap; a
// damaged room or world object cannot be mended (Open refuses it). Each
// mend is a transaction tried once: one that conflicts is left to the
// next Repair, which reads afresh. Repair returns how many objects it
// wrote.
func (w *World) Repair(ctx context.Context) (int, error) {
	var p mends
	err := w.h.View(ctx, func(tx *oss.Tx) error {
		p = mends{index: tx.Index(), rosters: map[*room][][]uuid.UUID{}}
		return w.findMends(tx, &p)
	}, nil)
	if err != nil {
		return 0, err
	}
	n := 0
	for r, want := range p.rosters {
		k, err := w.mend(ctx, func(tx *oss.Tx) (int, error) { return w.rebuildRosters(tx, r, want, p.index) })
		if n += k; err != nil {
			return n, err
		}
	}
	for _, id := range p.props {
		k, err := w.mend(ctx, func(tx *oss.Tx) (int, error) { return w.clearHolder(tx, id) })
		if n += k; err != nil {
			return n, err
		}
	}
	for _, id := range p.chats {
		k, err := w.mend(ctx, func(tx *oss.Tx) (int, error) { return emptyChat(tx, id) })
		if n += k; err != nil {
			return n, err
		}
	}
	if len(p.cells) > 0 {
		k, err := w.mend(ctx, func(tx *oss.Tx) (int, error) { return w.freeCells(tx, p.cells) })
		if n += k; err != nil {
			return n, err
		}
	}
	if len(p.claims) > 0 {
		k, err := w.mend(ctx, func(tx *oss.Tx) (int, error) { return w.claimCells(tx, p.claims) })
		n += k
		return n, err
	}
	return n, nil
}

// mends is what a Repair found to mend, at index.
type mends struct {
	index   uint64
	rosters map[*room][][]uuid.UUID // a damaged room's avatars, by roster shard
	props   []uuid.UUID             // props whose holder is not a live one
	chats   []uuid.UUID             // damaged chat shards
	cells   []uuid.UUID             // stale cells
	claims  []claim                 // cells live avatars cover and do not hold
}

// mend runs f in a transaction tried once, and commits it if f wrote
// anything; a conflict is no error.
func (w *World) mend(ctx context.Context, f func(tx *oss.Tx) (int, error)) (int, error) {
	tx, err := w.h.Begin(ctx, nil)
	if err != nil {
		return 0, err
	}
	n, err := f(tx)
	if err != nil || n == 0 {
		tx.Rollback()
		return 0, err
	}
	switch err := tx.Commit(); {
	case errors.Is(err, oss.ErrConflict):
		return 0, nil
	case err != nil:
		return 0, err
	}
	return n, nil
}

// findMends finds, in tx, what Repair mends.
func (w *World) findMends(tx *oss.Tx, p *mends) error {
	var damagedRooms []*room
	for _, r := range w.rooms {
		bad, err := w.rostersDamaged(tx, r)
		if err != nil {
			return err
		} else if bad {
			damagedRooms = append(damagedRooms, r)
		}
		for _, ref := range r.obj.Props {
			if pr, _, err := w.readProp(tx, ref.ID); err == nil && !pr.Holder.IsZero() {
				if _, live, err := holder(tx, r, ref.ID, pr.Holder.ID); err != nil {
					return err
				} else if !live {
					p.props = append(p.props, ref.ID)
				}
			}
		}
		for _, ref := range r.obj.Chat {
			if _, _, err := readChat(tx, ref.ID); errors.Is(err, ErrDamaged) {
				p.chats = append(p.chats, ref.ID)
			}
		}
	}
	for _, r := range damagedRooms {
		p.rosters[r] = make([][]uuid.UUID, len(r.obj.Rosters))
	}
	covers := map[[2]uuid.UUID][]uuid.UUID{}
	held := map[uuid.UUID]bool{} // cells that name an avatar that covers them
	err := tx.Scan(func(id uuid.UUID) bool {
		if id.Version() == 5 {
			if w.staleCell(tx, id, covers) {
				p.cells = append(p.cells, id)
			} else {
				held[id] = true
			}
			return true
		}
		if len(p.rosters) == 0 || w.structural[id] != "" {
			return true
		}
		av, bad, err := get[avatarObj](tx, id)
		if r := w.byID[av.Room.ID]; err == nil && bad == nil && r != nil && p.rosters[r] != nil {
			i := shardOf(id, len(r.obj.Rosters))
			p.rosters[r][i] = append(p.rosters[r][i], id)
		}
		return true
	})
	for _, r := range w.rooms {
		if err == nil && p.rosters[r] == nil {
			p.claims, err = w.unclaimed(tx, r, held, covers, p.claims)
		}
	}
	return err
}

// rostersDamaged reports whether a roster shard of r is damaged.
func (w *World) rostersDamaged(tx *oss.Tx, r *room) (bool, error) {
	seen := map[uuid.UUID]bool{}
	for i, ref := range r.obj.Rosters {
		ro, err := readRoster(tx, ref.ID)
		if errors.Is(err, ErrDamaged) {
			return true, nil
		} else if err != nil {
			return false, err
		}
		for _, a := range ro.Avatars {
			if _, _, why, err := w.rosterEntry(tx, r, i, a.ID, seen); err != nil {
				return false, err
			} else if why != "" {
				return true, nil
			}
		}
	}
	return false, nil
}

// rebuildRosters writes, in tx, the roster shards of r that do not list
// want, the avatars a View at index found pointing at r, by shard, less
// those that are no longer (stillIn). A shard written since index (a
// join, a leave) leaves the room to the next Repair.
func (w *World) rebuildRosters(tx *oss.Tx, r *room, want [][]uuid.UUID, index uint64) (int, error) {
	n := 0
	for i, ref := range r.obj.Rosters {
		ro, rerr := readRoster(tx, ref.ID)
		if rerr != nil && !errors.Is(rerr, ErrDamaged) {
			return 0, rerr
		}
		if v, err := tx.Version(ref.ID); err != nil || v > index {
			return 0, err
		}
		ids, err := w.stillIn(tx, r, want[i])
		if err != nil {
			return 0, err
		}
		if rerr == nil {
			listed, err := w.damagedListed(tx, r, i, ro)
			if err != nil {
				return 0, err
			}
			ids = append(ids, listed...)
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
		ids = slices.Compact(ids)
		if rerr == nil && slices.EqualFunc(ro.Avatars, ids, func(a oss.Ref[avatarObj], id uuid.UUID) bool { return a.ID == id }) {
			continue
		}
		var next rosterObj
		for _, id := range ids {
			next.Avatars = append(next.Avatars, oss.RefTo[avatarObj](id))
		}
		if err := ref.Put(tx, next); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// damagedListed returns the damaged avatars (rosterEntry) that ro, shard
// i of r, lists, read in tx: a rebuild of the shard keeps them, for Reap
// finds a damaged avatar in its roster only, and one that does not decode
// points at no room.
func (w *World) damagedListed(tx *oss.Tx, r *room, i int, ro rosterObj) ([]uuid.UUID, error) {
	var out []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for _, a := range ro.Avatars {
		_, dmg, _, err := w.rosterEntry(tx, r, i, a.ID, seen)
		if err != nil {
			return nil, err
		} else if dmg != nil {
			out = append(out, a.ID)
		}
	}
	return out, nil
}

// stillIn returns those of ids that are, read in tx, avatars of r,
// damaged or not (Reap removes the damaged ones). A leave beside a
// damaged shard deletes its avatar and leaves the shard as it is, so the
// shard's version does not tell a rebuild of it; the read does (a leave
// that commits after it makes the rebuild conflict).
func (w *World) stillIn(tx *oss.Tx, r *room, ids []uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	for _, id := range ids {
		av, bad, err := get[avatarObj](tx, id)
		switch {
		case errors.Is(err, oss.ErrNotFound):
			continue
		case err != nil:
			return nil, err
		case bad == nil && av.Room.ID == r.id:
			out = append(out, id)
		}
	}
	return out, nil
}

// clearHolder clears, in tx, the holder of prop id if it is not a live
// avatar of the prop's room that holds it.
func (w *World) clearHolder(tx *oss.Tx, id uuid.UUID) (int, error) {
	p, r, err := w.readProp(tx, id)
	if err != nil || p.Holder.IsZero() {
		return 0, nil
	}
	if _, live, err := holder(tx, r, id, p.Holder.ID); err != nil || live {
		return 0, err
	}
	p.Holder, p.Roll = oss.Ref[avatarObj]{}, nil
	return 1, oss.Put(tx, id, p)
}

// emptyChat empties, in tx, the chat shard id if it is damaged.
func emptyChat(tx *oss.Tx, id uuid.UUID) (int, error) {
	if _, _, err := readChat(tx, id); !errors.Is(err, ErrDamaged) {
		return 0, nil
	}
	return 1, oss.Put(tx, id, chatShard{})
}

// freeCells deletes, in tx, those of cells that are still stale.
func (w *World) freeCells(tx *oss.Tx, cells []uuid.UUID) (int, error) {
	n := 0
	for _, id := range cells {
		if !w.staleCell(tx, id, nil) {
			continue
		}
		if err := tx.Delete(id); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// staleCell reports whether the object id (a version 5 UUID) is a cell
// of the world that no live avatar covers: one that does not decode, or
// names an avatar that is gone, damaged or elsewhere. covers, if not
// nil, caches the cells of the avatars read, by avatar and room, for the
// next cells of the same avatar.
func (w *World) staleCell(tx *oss.Tx, id uuid.UUID, covers map[[2]uuid.UUID][]uuid.UUID) bool {
	co, bad, err := get[cellObj](tx, id)
	switch {
	case err != nil:
		return false
	case bad != nil:
		return w.cellOfWorld(id)
	}
	r := w.byID[co.Room.ID]
	switch {
	case r == nil && co.Room.IsZero():
		return w.cellOfWorld(id) // garbage
	case r == nil:
		return false // another world's
	}
	key := [2]uuid.UUID{co.Avatar.ID, r.id}
	cells, ok := covers[key]
	if !ok {
		av, bad, err := get[avatarObj](tx, co.Avatar.ID)
		switch {
		case err != nil && !errors.Is(err, oss.ErrNotFound):
			return false
		case err == nil && bad == nil && av.check(r) == "":
			for _, c := range cellsOf(av.Pos) {
				cells = append(cells, cellID(r.id, c))
			}
		}
		if covers != nil {
			covers[key] = cells
		}
	}
	return !slices.Contains(cells, id)
}

// cellOfWorld reports whether id is the ID of a cell of one of the
// world's rooms (of at most maxCellGrid cells): it enumerates them, for
// garbage only, once for each ID. An object that is no cell of this world
// stays (it may be another's), and every Repair meets it again: at 1,000
// avatars an enumeration takes about 13 ms, which every client's Repair
// spent on each such object every five seconds.
func (w *World) cellOfWorld(id uuid.UUID) bool {
	w.mu.Lock()
	is, ok := w.cellsOf[id]
	w.mu.Unlock()
	if ok {
		return is
	}
	is = w.enumerateCells(id)
	w.mu.Lock()
	if w.cellsOf == nil {
		w.cellsOf = map[uuid.UUID]bool{}
	}
	w.cellsOf[id] = is
	w.mu.Unlock()
	return is
}

// enumerateCells is cellOfWorld's enumeration.
func (w *World) enumerateCells(id uuid.UUID) bool {
	w.enumerations.Add(1)
	for _, r := range w.rooms {
		nx, ny := int64(r.obj.Size.X/CellSize), int64(r.obj.Size.Y/CellSize)
		if (nx+1)*(ny+1) > maxCellGrid {
			continue
		}
		for y := int32(0); y <= int32(ny); y++ {
			for x := int32(0); x <= int32(nx); x++ {
				if cellID(r.id, cell{x, y}) == id {
					return true
				}
			}
		}
	}
	return false
}
