package scene

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// Verify checks, in tx (a View), every invariant the package doc lists
// over the whole world, and returns the violations it found, joined, or
// nil. It reads every object of the heap (it looks for cells nobody
// claims), so it costs time in proportion to the heap: it is for tests,
// tools and a client's debug overlay, not for every frame.
func (w *World) Verify(tx *oss.Tx) error {
	var errs []error
	bad := func(f string, a ...any) {
		if len(errs) < 20 {
			errs = append(errs, fmt.Errorf(f, a...))
		}
	}
	avatars := map[uuid.UUID]avatarObj{}
	claims := map[uuid.UUID]uuid.UUID{} // cell ID → avatar that must hold it
	names := map[string]uuid.UUID{}
	for _, r := range w.rooms {
		var inRoom []uuid.UUID
		for i, ref := range r.obj.Rosters {
			ro, err := ref.Get(tx)
			if err != nil {
				return err
			}
			for _, a := range ro.Avatars {
				if shardOf(a.ID, len(r.obj.Rosters)) != i {
					bad("avatar %v listed in roster shard %d of %q", a.ID, i, r.obj.Name)
				}
				if _, dup := avatars[a.ID]; dup {
					bad("avatar %v listed twice", a.ID)
					continue
				}
				av, err := a.Get(tx)
				if errors.Is(err, oss.ErrNotFound) {
					bad("room %q lists avatar %v, which does not exist", r.obj.Name, a.ID)
					continue
				} else if err != nil {
					return err
				}
				avatars[a.ID] = av
				inRoom = append(inRoom, a.ID)
				if av.Room.ID != r.id {
					bad("avatar %q listed in %q but in room %v", av.Name, r.obj.Name, av.Room.ID)
				}
				if other, dup := names[av.Name]; dup {
					bad("avatars %v and %v both named %q", other, a.ID, av.Name)
				}
				names[av.Name] = a.ID
				if bound, err := tx.Root(nameRoot(w.name, av.Name)); err != nil || bound != a.ID {
					bad("name %q bound to %v (%v), not to its avatar %v", av.Name, bound, err, a.ID)
				}
				for _, cl := range cellsOf(av.Pos) {
					claims[cellID(r.id, cl)] = a.ID
				}
			}
		}
		// Walls, doors, bounds.
		for _, id := range inRoom {
			av := avatars[id]
			if !inside(r.obj.Size, av.Pos, AvatarRadius) {
				bad("avatar %q at %v is outside room %q", av.Name, av.Pos, r.obj.Name)
			}
			for _, wall := range r.obj.Walls {
				if diskHits(wall, av.Pos, AvatarRadius) {
					bad("avatar %q at %v stands in wall %v", av.Name, av.Pos, wall)
				}
			}
			for _, d := range r.obj.Doors {
				door, err := d.Prop.Get(tx)
				if err != nil {
					return err
				}
				if !door.On && diskHits(d.Rect, av.Pos, AvatarRadius) {
					bad("avatar %q at %v stands in closed door %q", av.Name, av.Pos, door.Name)
				}
			}
		}
		// No two avatars overlap: compare each with those in nearby
		// cells of a grid twice the diameter wide.
		grid := map[cell][]uuid.UUID{}
		key := func(p Vec) cell { return cell{int32(p.X / (4 * AvatarRadius)), int32(p.Y / (4 * AvatarRadius))} }
		for _, id := range inRoom {
			k := key(avatars[id].Pos)
			grid[k] = append(grid[k], id)
		}
		for _, id := range inRoom {
			a := avatars[id]
			k := key(a.Pos)
			for dy := int32(-1); dy <= 1; dy++ {
				for dx := int32(-1); dx <= 1; dx++ {
					for _, o := range grid[cell{k.X + dx, k.Y + dy}] {
						if o == id || o.String() < id.String() {
							continue
						}
						b := avatars[o]
						if d := a.Pos.Sub(b.Pos).Len(); d < 2*AvatarRadius-1e-9 {
							bad("avatars %q at %v and %q at %v overlap (%.4f m apart)", a.Name, a.Pos, b.Name, b.Pos, d)
						}
					}
				}
			}
		}
		// Props: holder and holding agree.
		for _, ref := range r.obj.Props {
			p, err := ref.Get(tx)
			if err != nil {
				return err
			}
			if p.Room.ID != r.id {
				bad("prop %q of %q says it is in %v", p.Name, r.obj.Name, p.Room.ID)
			}
			if p.Holder.IsZero() {
				continue
			}
			if !p.Kind.portable() {
				bad("%v %q is held", p.Kind, p.Name)
			}
			h, ok := avatars[p.Holder.ID]
			switch {
			case !ok:
				bad("prop %q held by %v, not an avatar of the world", p.Name, p.Holder.ID)
			case h.Holding.ID != ref.ID:
				bad("prop %q held by %q, which holds %v", p.Name, h.Name, h.Holding.ID)
			}
		}
		// Chat: each shard in log order, the newest at the shard's version.
		for _, ref := range r.obj.Chat {
			v, err := tx.Version(ref.ID)
			if err != nil {
				return err
			}
			sh, err := ref.Get(tx)
			if err != nil {
				return err
			}
			last := uint64(0)
			for i, m := range sh.Msgs {
				idx := m.Index
				if i == len(sh.Msgs)-1 && idx == 0 {
					idx = v
				}
				if idx == 0 || idx <= last || idx > v {
					bad("chat of %q: message %d has index %d after %d (shard version %d)", r.obj.Name, i, idx, last, v)
				}
				last = idx
			}
		}
	}
	for id, av := range avatars {
		if !av.Holding.IsZero() {
			p, err := av.Holding.Get(tx)
			if err != nil {
				bad("avatar %q holds %v: %v", av.Name, av.Holding.ID, err)
			} else if p.Holder.ID != id {
				bad("avatar %q holds %q, whose holder is %v", av.Name, p.Name, p.Holder.ID)
			}
		}
	}
	// Cells: each avatar holds its cells, and no cell is held by an
	// avatar that does not cover it. Cell IDs are the heap's only
	// version 5 UUIDs (other worlds' cells name their rooms).
	for cid, aid := range claims {
		co, err := oss.Get[cellObj](tx, cid)
		if err != nil {
			bad("avatar %q does not hold cell %v: %v", avatars[aid].Name, cid, err)
		} else if co.Avatar.ID != aid {
			bad("cell %v of avatar %q held by %v", cid, avatars[aid].Name, co.Avatar.ID)
		}
	}
	err := tx.Scan(func(id uuid.UUID) bool {
		if id.Version() != 5 {
			return true
		}
		if _, ok := claims[id]; !ok {
			co, err := oss.Get[cellObj](tx, id)
			if err == nil && w.byID[co.Room.ID] == nil {
				return true // another world's
			}
			bad("cell %v held by %v, which does not cover it (%v)", id, co.Avatar.ID, err)
		}
		return true
	})
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}
