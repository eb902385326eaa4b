package scene

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image/color"
	"slices"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// RoomInfo is what never changes about a room.
type RoomInfo struct {
	ID   uuid.UUID
	Name string
	// Size is the room's extent: it spans [0, Size.X] × [0, Size.Y].
	Size  Vec
	Walls []Rect
	Doors []DoorInfo
}

// DoorInfo places a door: its prop (which says whether it is open) and
// the rectangle it blocks when closed.
type DoorInfo struct {
	Prop uuid.UUID
	Rect Rect
}

// Snapshot is one room as it is at one log index of the world's heap:
// what a renderer draws for a frame. Every invariant of the package doc
// holds in it.
type Snapshot struct {
	// Index is the log index of the heap state the snapshot was read
	// from. Two snapshots of the same index, on any nodes, are equal.
	Index uint64
	// Tick is the world clock's tick at Index; a rolling ball is where
	// its kick puts it at Tick.
	Tick uint64
	Room RoomInfo
	// Avatars are the room's avatars, ordered by ID (so by when they
	// joined).
	Avatars []AvatarState
	// Damaged lists, ordered by ID, the objects of the room that hold
	// what the scene cannot use, written by something other than this
	// package (`ossd put`, say): a value that does not decode as its
	// kind, or one that breaks the world's rules (an avatar outside the
	// room, a roster shard listing what is not an avatar of the room, a
	// chat shard of too many messages). Each is left out of the snapshot
	// (a damaged clock reads as tick 0), so the room still reads;
	// World.Run removes damaged avatars as it removes those whose lease
	// ran out, and rebuilds or clears roster shards, chat shards, props'
	// holders and the clock. Nil when there are none.
	Damaged []Damage
	// Props are the room's props, in the order of its spec, doors last.
	Props []PropState
	// Chat is the room's latest messages (at most ChatKeep), oldest
	// first, in log order: the same on every node, and a later snapshot
	// only adds messages after those an earlier one showed.
	Chat []Message
}

// AvatarState is an avatar as a snapshot shows it.
type AvatarState struct {
	ID    uuid.UUID
	Name  string
	Color color.RGBA
	Pos   Vec
	// Heading is the direction the avatar faces, in radians: 0 east,
	// π/2 south.
	Heading float64
	// Holding is the prop the avatar holds, or uuid.Nil.
	Holding uuid.UUID
	// Said is the last thing it said.
	Said string
	// Moves counts its moves: a renderer that interpolates can tell a new
	// position from an old one.
	Moves uint64
	// Lease is the clock tick after which the avatar may be removed if it
	// has not written meanwhile.
	Lease uint64
}

// PropState is a prop as a snapshot shows it.
type PropState struct {
	ID   uuid.UUID
	Kind Kind
	Name string
	// Pos is where the prop is: its holder's position while held, a
	// rolling ball's position at the snapshot's tick.
	Pos Vec
	// Vel is a rolling ball's velocity, in metres per second, and Rolling
	// says it still moves; a renderer may extrapolate Pos by Vel between
	// ticks.
	Vel     Vec
	Rolling bool
	// Holder is the avatar holding the prop, or uuid.Nil.
	Holder uuid.UUID
	// On says a lamp is lit or a door open.
	On bool
}

// Message is a chat message.
type Message struct {
	// Index is the log index of the commit that added it: messages are
	// ordered by it.
	Index  uint64
	Avatar uuid.UUID
	From   string
	Text   string
}

// Snapshot reads the named room from the latest local state of the heap,
// in one View: no network, no conflict. It is the call a renderer makes
// once a frame. Use Read to combine it with other reads in a View of the
// caller's.
func (w *World) Snapshot(ctx context.Context, room string) (*Snapshot, error) {
	var s *Snapshot
	err := w.h.View(ctx, func(tx *oss.Tx) error {
		var err error
		s, err = w.Read(tx, room)
		return err
	}, nil)
	return s, err
}

// Read reads the named room in tx, a View (or any transaction) on the
// world's heap.
func (w *World) Read(tx *oss.Tx, room string) (*Snapshot, error) {
	return w.ReadSince(tx, room, nil)
}

// ReadSince reads the named room in tx as Read does, decoding only the
// avatars written after prev, an earlier snapshot of the same room read
// on this world (nil: read every one): an object's version is the index
// of the commit that last wrote it, so an avatar whose version is at
// most prev.Index is as prev shows it. The result equals Read's at the
// same index. prev is not changed; the result may share its strings.
func (w *World) ReadSince(tx *oss.Tx, room string, prev *Snapshot) (*Snapshot, error) {
	r, ok := w.byName[room]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoRoom, room)
	}
	s := &Snapshot{Index: tx.Index(), Room: r.info()}
	c, err := w.readClock(tx)
	if !asDamage(err, &s.Damaged) {
		return nil, err
	}
	s.Tick = c.Tick // 0 if the clock is damaged: balls lie where they were kicked
	if s.Avatars, err = w.readAvatars(tx, r, prev, &s.Damaged); err != nil {
		return nil, err
	}
	for _, ref := range r.obj.Props {
		p, err := w.propState(tx, ref.ID, s.Tick)
		if !asDamage(err, &s.Damaged) {
			return nil, err
		} else if err == nil {
			s.Props = append(s.Props, p)
		}
	}
	for _, ref := range r.obj.Chat {
		sh, v, err := readChat(tx, ref.ID)
		if !asDamage(err, &s.Damaged) {
			return nil, err
		}
		for _, m := range sh.Msgs {
			if m.Index == 0 {
				m.Index = v
			}
			s.Chat = append(s.Chat, Message{Index: m.Index, Avatar: m.Avatar, From: m.From, Text: m.Text})
		}
	}
	slices.SortFunc(s.Chat, func(a, b Message) int { return cmpU64(a.Index, b.Index) })
	if n := len(s.Chat); n > ChatKeep {
		s.Chat = s.Chat[n-ChatKeep:]
	}
	s.Damaged = sortDamage(s.Damaged)
	return s, nil
}

// asDamage appends err to ds if it is a *Damage, and reports whether err
// is nil or was one: false for an error of the heap.
func asDamage(err error, ds *[]Damage) bool {
	var d *Damage
	if errors.As(err, &d) {
		*ds = append(*ds, *d)
		return true
	}
	return err == nil
}

// readAvatars reads room r's avatars in tx, ordered by ID, copying from
// prev, if not nil, those not written since, and appends to ds the
// damage it finds: damaged avatars, and roster shards that are garbage
// or list what is not an avatar of r (rosterEntry).
func (w *World) readAvatars(tx *oss.Tx, r *room, prev *Snapshot, ds *[]Damage) (avs []AvatarState, err error) {
	if prev != nil && prev.Damaged == nil && rostersSince(tx, r, prev.Index) {
		// No avatar joined or left since prev: its avatars, in its
		// order, and no roster to decode or avatars to sort.
		if avs, ok, err := readSinceRosters(tx, r, prev, ds); ok || err != nil {
			return avs, err
		}
	}
	if prev != nil {
		// About as many avatars as before: one allocation, where
		// appending from none makes a dozen and copies a room twice.
		avs = make([]AvatarState, 0, len(prev.Avatars)+len(prev.Avatars)/16+4)
	}
	seen := make(map[uuid.UUID]bool, cap(avs))
	for i, ref := range r.obj.Rosters {
		ro, err := readRoster(tx, ref.ID)
		if !asDamage(err, ds) {
			return nil, err
		} else if err != nil {
			continue
		}
		var why string
		for _, a := range ro.Avatars {
			if st, ok := unchanged(tx, prev, a.ID); ok && !seen[a.ID] && shardOf(a.ID, len(r.obj.Rosters)) == i {
				seen[a.ID] = true
				avs = append(avs, st)
				continue
			}
			av, dmg, bad, err := w.rosterEntry(tx, r, i, a.ID, seen)
			switch {
			case err != nil:
				return nil, err
			case dmg != nil:
				*ds = append(*ds, *dmg)
			case bad != "":
				why = cmp.Or(why, bad)
			default:
				avs = append(avs, avatarState(a.ID, &av))
			}
		}
		if why != "" {
			*ds = append(*ds, *damaged(RosterObject, ref.ID, "%s", why))
		}
	}
	if len(avs) == 0 {
		return nil, nil // as Read gives it
	}
	slices.SortFunc(avs, func(a, b AvatarState) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return avs, nil
}

// readSinceRosters reads room r's avatars in tx when its rosters list
// the avatars they listed at prev, which held no damage: prev's avatars,
// decoding those written since. ok is false if one of them is no
// longer an avatar of r: the caller then reads the rosters.
func readSinceRosters(tx *oss.Tx, r *room, prev *Snapshot, ds *[]Damage) (avs []AvatarState, ok bool, err error) {
	if len(prev.Avatars) == 0 {
		return nil, true, nil // as Read gives it
	}
	avs = make([]AvatarState, 0, len(prev.Avatars))
	for i := range prev.Avatars {
		id := prev.Avatars[i].ID
		if v, err := tx.Version(id); err == nil && v != 0 && v <= prev.Index {
			avs = append(avs, prev.Avatars[i])
			continue
		}
		av, bad, err := get[avatarObj](tx, id)
		switch {
		case errors.Is(err, oss.ErrNotFound):
			return nil, false, nil
		case err != nil:
			return nil, false, err
		case bad != nil || av.check(r) != "":
			return nil, false, nil
		}
		avs = append(avs, avatarState(id, &av))
	}
	return avs, true, nil
}

// rostersSince reports whether no roster of room r was written in tx's
// state after index: the room holds the avatars it held then.
func rostersSince(tx *oss.Tx, r *room, index uint64) bool {
	for _, ref := range r.obj.Rosters {
		if v, err := tx.Version(ref.ID); err != nil || v == 0 || v > index {
			return false
		}
	}
	return true
}

// unchanged returns the avatar id as prev shows it, if prev holds it
// and tx's state has not written it since.
func unchanged(tx *oss.Tx, prev *Snapshot, id uuid.UUID) (AvatarState, bool) {
	if prev == nil {
		return AvatarState{}, false
	}
	if v, err := tx.Version(id); err != nil || v == 0 || v > prev.Index {
		return AvatarState{}, false
	}
	i, ok := slices.BinarySearchFunc(prev.Avatars, id, func(a AvatarState, id uuid.UUID) int { return bytes.Compare(a.ID[:], id[:]) })
	if !ok {
		return AvatarState{}, false
	}
	return prev.Avatars[i], true
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func avatarState(id uuid.UUID, av *avatarObj) AvatarState {
	return AvatarState{ID: id, Name: av.Name, Color: unpackColor(av.Color), Pos: av.Pos, Heading: av.Heading,
		Holding: av.Holding.ID, Said: av.Said, Moves: av.Moves, Lease: av.Lease}
}

// propState reads the prop id as a snapshot at tick shows it: a
// *Damage if it is damaged. A prop whose holder is not a live avatar
// that holds it (a damaged or removed avatar, garbage) is shown where it
// lies, held by nobody, until World.Run clears its holder.
func (w *World) propState(tx *oss.Tx, id uuid.UUID, tick uint64) (PropState, error) {
	p, r, err := w.readProp(tx, id)
	if err != nil {
		return PropState{}, err
	}
	ps := PropState{ID: id, Kind: p.Kind, Name: p.Name, Pos: p.Pos, Holder: p.Holder.ID, On: p.On}
	switch {
	case !p.Holder.IsZero():
		h, live, err := holder(tx, r, id, p.Holder.ID)
		if err != nil {
			return ps, err
		} else if !live {
			ps.Holder = uuid.Nil
		} else {
			ps.Pos = h.Pos
		}
	case p.Roll != nil:
		ps.Pos, ps.Vel, ps.Rolling = p.Roll.at(&r.obs, tick)
	}
	return ps, nil
}

// holder reads the avatar id that prop of room r names as its holder,
// and reports whether it is a live avatar of r that holds the prop.
func holder(tx *oss.Tx, r *room, prop, id uuid.UUID) (avatarObj, bool, error) {
	av, bad, err := get[avatarObj](tx, id)
	switch {
	case errors.Is(err, oss.ErrNotFound):
		return av, false, nil
	case err != nil:
		return av, false, err
	}
	return av, bad == nil && av.check(r) == "" && av.Holding.ID == prop, nil
}

// Avatar reads one avatar in tx: the cheap read of a bot or a client
// that follows a few avatars, where a Snapshot reads the whole room.
// It returns an error matching ErrGone if there is no such avatar, and a
// *Damage (ErrDamaged) if the object is not an avatar of the world.
func (w *World) Avatar(tx *oss.Tx, id uuid.UUID) (AvatarState, error) {
	av, _, err := w.readAvatarObj(tx, id)
	if err != nil {
		return AvatarState{}, err
	}
	return avatarState(id, &av), nil
}

// Prop reads one prop in tx, placed at the tick of tx's state. It
// returns a *Damage (ErrDamaged) if the prop is damaged or the clock is.
func (w *World) Prop(tx *oss.Tx, id uuid.UUID) (PropState, error) {
	if err := w.isProp(id); err != nil {
		return PropState{}, err
	}
	tick, err := w.Tick(tx)
	if err != nil {
		return PropState{}, err
	}
	return w.propState(tx, id, tick)
}

// Tick reads the world clock in tx: a *Damage (ErrDamaged) if it is
// damaged.
func (w *World) Tick(tx *oss.Tx) (uint64, error) {
	c, err := w.readClock(tx)
	return c.Tick, err
}

// DecodeAvatar decodes a watch's change of an avatar object (a watch
// over avatar IDs, say) into the state a Snapshot would show. A change
// that deletes the avatar returns ErrGone.
func DecodeAvatar(c oss.Change) (AvatarState, error) {
	if c.Deleted {
		return AvatarState{}, fmt.Errorf("%w: %v", ErrGone, c.ID)
	}
	var av avatarObj
	// The value as the heap holds it: its usual encoding needs no pass
	// of the CBOR library (codec.go).
	if decodeAvatar(c.Value, &av) != nil {
		if err := c.Decode(&av); err != nil {
			return AvatarState{}, err
		}
	}
	return avatarState(c.ID, &av), nil
}
