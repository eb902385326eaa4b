package scene

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// The readers of a world's objects: each returns the object, or a
// *Damage (ErrDamaged) if it holds something the scene cannot use, or
// the heap's error. None aborts its transaction on garbage (see get).

// readClock reads the world clock.
func (w *World) readClock(tx *oss.Tx) (clockObj, error) {
	c, bad, err := get[clockObj](tx, w.clock)
	switch {
	case errors.Is(err, oss.ErrNotFound):
		return c, damaged(ClockObject, w.clock, "does not exist")
	case err != nil:
		return c, err
	case bad != nil:
		return c, errOf(ClockObject, w.clock, bad)
	}
	if why := c.check(); why != "" {
		return c, damaged(ClockObject, w.clock, "%s", why)
	}
	return c, nil
}

// readRoster reads a roster shard of room r. Its entries are judged by
// rosterEntry.
func readRoster(tx *oss.Tx, id uuid.UUID) (rosterObj, error) {
	ro, bad, err := get[rosterObj](tx, id)
	switch {
	case errors.Is(err, oss.ErrNotFound):
		return ro, damaged(RosterObject, id, "does not exist")
	case err != nil:
		return ro, err
	}
	return ro, errOf(RosterObject, id, bad)
}

// readChat reads a chat shard and its version.
func readChat(tx *oss.Tx, id uuid.UUID) (chatShard, uint64, error) {
	v, err := tx.Version(id)
	if err != nil {
		return chatShard{}, 0, err
	}
	sh, bad, err := get[chatShard](tx, id)
	switch {
	case errors.Is(err, oss.ErrNotFound):
		return sh, v, damaged(ChatObject, id, "does not exist")
	case err != nil:
		return sh, v, err
	case bad != nil:
		return sh, v, errOf(ChatObject, id, bad)
	}
	if why := sh.check(v); why != "" {
		return sh, v, damaged(ChatObject, id, "%s", why)
	}
	return sh, v, nil
}

// readProp reads the prop id, which must be one of the world's props: a
// caller's argument is checked with isProp first.
func (w *World) readProp(tx *oss.Tx, id uuid.UUID) (propObj, *room, error) {
	r := w.propRoom[id]
	p, bad, err := get[propObj](tx, id)
	switch {
	case errors.Is(err, oss.ErrNotFound):
		return p, r, damaged(PropObject, id, "does not exist")
	case err != nil:
		return p, r, err
	case bad != nil:
		return p, r, errOf(PropObject, id, bad)
	}
	if why := p.check(r); why != "" {
		return p, r, damaged(PropObject, id, "%s", why)
	}
	return p, r, nil
}

// isProp checks that id, a caller's argument, names a prop of the world.
func (w *World) isProp(id uuid.UUID) error {
	switch k := w.structural[id]; {
	case k == PropObject:
		return nil
	case k != "" || id.Version() == 5:
		return fmt.Errorf("%w: %v is not a prop but a %s", ErrInvalid, id, k)
	}
	return fmt.Errorf("%w: no prop %v", ErrInvalid, id)
}

// readAvatarObj reads the avatar id, named by a caller: ErrGone if it
// does not exist, ErrInvalid if id is another object of the world, a
// *Damage if it is not an avatar of a room of the world.
func (w *World) readAvatarObj(tx *oss.Tx, id uuid.UUID) (avatarObj, *room, error) {
	if k := w.structural[id]; k != "" || id.Version() == 5 {
		return avatarObj{}, nil, fmt.Errorf("%w: %v is not an avatar but a %s", ErrInvalid, id, orCell(k))
	}
	av, bad, err := get[avatarObj](tx, id)
	switch {
	case errors.Is(err, oss.ErrNotFound):
		return av, nil, fmt.Errorf("%w: %v", ErrGone, id)
	case err != nil:
		return av, nil, err
	case bad != nil:
		return av, nil, errOf(AvatarObject, id, bad)
	}
	r := w.byID[av.Room.ID]
	if r == nil {
		return av, nil, damaged(AvatarObject, id, "in room %v, not one of the world's", av.Room.ID)
	}
	if why := av.check(r); why != "" {
		return av, r, damaged(AvatarObject, id, "%s", why)
	}
	return av, r, nil
}

func orCell(k ObjectKind) ObjectKind {
	if k == "" {
		return CellObject
	}
	return k
}

// rosterEntry judges the object id that shard i of room r lists, seen
// the IDs listed before it in r's shards: an avatar of r (av), a damaged
// avatar (dmg: garbage in an object that was an avatar, which Reap
// removes), or an entry that is itself the roster's damage (why: an ID
// listed twice or in the wrong shard, one that does not exist, another
// object of the world, an avatar of another room), which the repair of
// the roster drops.
func (w *World) rosterEntry(tx *oss.Tx, r *room, i int, id uuid.UUID, seen map[uuid.UUID]bool) (av avatarObj, dmg *Damage, why string, err error) {
	switch {
	case seen[id]:
		return av, nil, fmt.Sprintf("lists %v twice", id), nil
	case shardOf(id, len(r.obj.Rosters)) != i:
		return av, nil, fmt.Sprintf("lists %v, which belongs in shard %d", id, shardOf(id, len(r.obj.Rosters))), nil
	case w.structural[id] != "" || id.Version() == 5:
		return av, nil, fmt.Sprintf("lists %v, the %s", id, orCell(w.structural[id])), nil
	}
	seen[id] = true
	av, bad, err := get[avatarObj](tx, id)
	switch {
	case errors.Is(err, oss.ErrNotFound):
		return av, nil, fmt.Sprintf("lists %v, which does not exist", id), nil
	case err != nil:
		return av, nil, "", err
	case bad != nil:
		return av, damaged(AvatarObject, id, "does not decode: %v", bad), "", nil
	case av.Room.ID != r.id && w.byID[av.Room.ID] != nil:
		return av, nil, fmt.Sprintf("lists %v, an avatar of another room", id), nil
	}
	if why := av.check(r); why != "" {
		return av, damaged(AvatarObject, id, "%s", why), "", nil
	}
	return av, nil, "", nil
}
