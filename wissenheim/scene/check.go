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
	v := &verifier{
		w: w, tx: tx,
		avatars: map[uuid.UUID]avatarObj{},
		claims:  map[uuid.UUID]uuid.UUID{},
		names:   map[string]uuid.UUID{},
	}
	for _, r := range w.rooms {
		inRoom, err := v.rosters(r)
		if err != nil {
			return err
		}
		if err := v.placed(r, inRoom); err != nil {
			return err
		}
		v.apart(inRoom)
		if err := v.props(r); err != nil {
			return err
		}
		if err := v.chat(r); err != nil {
			return err
		}
	}
	v.holdings()
	if err := v.cells(); err != nil {
		return err
	}
	return errors.Join(v.errs...)
}

// verifier holds what Verify has read and found so far.
type verifier struct {
	w       *World
	tx      *oss.Tx
	errs    []error                 // the first 20 violations
	avatars map[uuid.UUID]avatarObj // the avatars the rosters list
	claims  map[uuid.UUID]uuid.UUID // cell ID → avatar that must hold it
	names   map[string]uuid.UUID    // avatar name → avatar
}

// bad records a violation, unless 20 are recorded.
func (v *verifier) bad(f string, a ...any) {
	if len(v.errs) < 20 {
		v.errs = append(v.errs, fmt.Errorf(f, a...))
	}
}

// rosters checks that each avatar of r's roster shards is listed once, in
// its shard, exists, is in r, has a name of its own bound to it, and
// claims its cells; it returns the avatars in r.
func (v *verifier) rosters(r *room) ([]uuid.UUID, error) {
	var inRoom []uuid.UUID
	for i, ref := range r.obj.Rosters {
		ro, err := ref.Get(v.tx)
		if err != nil {
			return nil, err
		}
		for _, a := range ro.Avatars {
			if shardOf(a.ID, len(r.obj.Rosters)) != i {
				v.bad("avatar %v listed in roster shard %d of %q", a.ID, i, r.obj.Name)
			}
			if _, dup := v.avatars[a.ID]; dup {
				v.bad("avatar %v listed twice", a.ID)
				continue
			}
			av, err := a.Get(v.tx)
			if errors.Is(err, oss.ErrNotFound) {
				v.bad("room %q lists avatar %v, which does not exist", r.obj.Name, a.ID)
				continue
			} else if err != nil {
				return nil, err
			}
			v.avatars[a.ID] = av
			inRoom = append(inRoom, a.ID)
			if av.Room.ID != r.id {
				v.bad("avatar %q listed in %q but in room %v", av.Name, r.obj.Name, av.Room.ID)
			}
			if other, dup := v.names[av.Name]; dup {
				v.bad("avatars %v and %v both named %q", other, a.ID, av.Name)
			}
			v.names[av.Name] = a.ID
			if bound, err := v.tx.Root(nameRoot(v.w.name, av.Name)); err != nil || bound != a.ID {
				v.bad("name %q bound to %v (%v), not to its avatar %v", av.Name, bound, err, a.ID)
			}
			for _, cl := range cellsOf(av.Pos) {
				v.claims[cellID(r.id, cl)] = a.ID
			}
		}
	}
	return inRoom, nil
}

// placed checks that the avatars inRoom of r stand inside its bounds, in
// no wall and in no closed door.
func (v *verifier) placed(r *room, inRoom []uuid.UUID) error {
	for _, id := range inRoom {
		av := v.avatars[id]
		if !inside(r.obj.Size, av.Pos, AvatarRadius) {
			v.bad("avatar %q at %v is outside room %q", av.Name, av.Pos, r.obj.Name)
		}
		for _, wall := range r.obj.Walls {
			if diskHits(wall, av.Pos, AvatarRadius) {
				v.bad("avatar %q at %v stands in wall %v", av.Name, av.Pos, wall)
			}
		}
		for _, d := range r.obj.Doors {
			door, err := d.Prop.Get(v.tx)
			if err != nil {
				return err
			}
			if !door.On && diskHits(d.Rect, av.Pos, AvatarRadius) {
				v.bad("avatar %q at %v stands in closed door %q", av.Name, av.Pos, door.Name)
			}
		}
	}
	return nil
}

// apart checks that no two avatars inRoom overlap: it compares each with
// those in nearby cells of a grid twice the diameter wide.
func (v *verifier) apart(inRoom []uuid.UUID) {
	grid := map[cell][]uuid.UUID{}
	key := func(p Vec) cell { return cell{int32(p.X / (4 * AvatarRadius)), int32(p.Y / (4 * AvatarRadius))} }
	for _, id := range inRoom {
		k := key(v.avatars[id].Pos)
		grid[k] = append(grid[k], id)
	}
	for _, id := range inRoom {
		a := v.avatars[id]
		k := key(a.Pos)
		for dy := int32(-1); dy <= 1; dy++ {
			for dx := int32(-1); dx <= 1; dx++ {
				for _, o := range grid[cell{k.X + dx, k.Y + dy}] {
					if o == id || o.String() < id.String() {
						continue
					}
					b := v.avatars[o]
					if d := a.Pos.Sub(b.Pos).Len(); d < 2*AvatarRadius-1e-9 {
						v.bad("avatars %q at %v and %q at %v overlap (%.4f m apart)", a.Name, a.Pos, b.Name, b.Pos, d)
					}
				}
			}
		}
	}
}

// props checks that r's props say they are in r, and that a held prop is
// portable and held by an avatar of the world that holds it.
func (v *verifier) props(r *room) error {
	for _, ref := range r.obj.Props {
		p, err := ref.Get(v.tx)
		if err != nil {
			return err
		}
		if p.Room.ID != r.id {
			v.bad("prop %q of %q says it is in %v", p.Name, r.obj.Name, p.Room.ID)
		}
		if p.Holder.IsZero() {
			continue
		}
		if !p.Kind.portable() {
			v.bad("%v %q is held", p.Kind, p.Name)
		}
		h, ok := v.avatars[p.Holder.ID]
		switch {
		case !ok:
			v.bad("prop %q held by %v, not an avatar of the world", p.Name, p.Holder.ID)
		case h.Holding.ID != ref.ID:
			v.bad("prop %q held by %q, which holds %v", p.Name, h.Name, h.Holding.ID)
		}
	}
	return nil
}

// chat checks that each chat shard of r is as chatShard.check wants it:
// in log order, the newest at the shard's version, of at most ChatKeep
// messages.
func (v *verifier) chat(r *room) error {
	for _, ref := range r.obj.Chat {
		ver, err := v.tx.Version(ref.ID)
		if err != nil {
			return err
		}
		sh, err := ref.Get(v.tx)
		if err != nil {
			return err
		}
		if why := sh.check(ver); why != "" {
			v.bad("chat of %q: %s", r.obj.Name, why)
		}
	}
	return nil
}

// holdings checks that the prop each avatar holds has it as its holder.
func (v *verifier) holdings() {
	for id, av := range v.avatars {
		if !av.Holding.IsZero() {
			p, err := av.Holding.Get(v.tx)
			if err != nil {
				v.bad("avatar %q holds %v: %v", av.Name, av.Holding.ID, err)
			} else if p.Holder.ID != id {
				v.bad("avatar %q holds %q, whose holder is %v", av.Name, p.Name, p.Holder.ID)
			}
		}
	}
}

// cells checks that each avatar holds its cells, and that no cell is held
// by an avatar that does not cover it. Cell IDs are the heap's only
// version 5 UUIDs (other worlds' cells name their rooms).
func (v *verifier) cells() error {
	for cid, aid := range v.claims {
		co, err := oss.Get[cellObj](v.tx, cid)
		if err != nil {
			v.bad("avatar %q does not hold cell %v: %v", v.avatars[aid].Name, cid, err)
		} else if co.Avatar.ID != aid {
			v.bad("cell %v of avatar %q held by %v", cid, v.avatars[aid].Name, co.Avatar.ID)
		}
	}
	return v.tx.Scan(func(id uuid.UUID) bool {
		if id.Version() != 5 {
			return true
		}
		if _, ok := v.claims[id]; !ok {
			co, err := oss.Get[cellObj](v.tx, id)
			if err == nil && v.w.byID[co.Room.ID] == nil {
				return true // another world's
			}
			v.bad("cell %v held by %v, which does not cover it (%v)", id, co.Avatar.ID, err)
		}
		return true
	})
}
