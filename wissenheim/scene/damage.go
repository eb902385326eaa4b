package scene

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// The admin interface (`ossd put`, the admin transaction API) writes any
// value to any object, so any object of a world may hold garbage: a value
// that does not decode, or one that decodes into something the world's
// rules never make (a position outside the room, a holder that is not an
// avatar, a chat shard of a million messages). The scene reads every
// object through get, which notes such a value instead of failing (an
// *oss.DecodeError aborts its transaction: one damaged object stopped
// every snapshot of its room), and checks what decoded before using it.
// A snapshot leaves a damaged object out and names it in
// Snapshot.Damaged; an interaction that needs it fails with a *Damage
// (ErrDamaged); World.Run repairs what can be rebuilt (repair.go).

// ObjectKind names a kind of object of a world, for Damage.
type ObjectKind string

// The kinds of objects of a world.
const (
	WorldObject  ObjectKind = "world"
	RoomObject   ObjectKind = "room"
	ClockObject  ObjectKind = "clock"
	RosterObject ObjectKind = "roster shard"
	ChatObject   ObjectKind = "chat shard"
	PropObject   ObjectKind = "prop"
	AvatarObject ObjectKind = "avatar"
	CellObject   ObjectKind = "cell"
)

// Damage names an object of a world that holds something the scene
// cannot use: a value that does not decode as its kind, or one that
// breaks the world's rules. As an error it matches ErrDamaged.
type Damage struct {
	ID   uuid.UUID
	Kind ObjectKind
	// Reason says what is wrong with it.
	Reason string
}

func (d *Damage) Error() string {
	return fmt.Sprintf("%v: %s %v: %s", ErrDamaged, d.Kind, d.ID, d.Reason)
}

// Is makes a *Damage match ErrDamaged.
func (d *Damage) Is(target error) bool { return target == ErrDamaged }

func damaged(kind ObjectKind, id uuid.UUID, f string, a ...any) *Damage {
	return &Damage{ID: id, Kind: kind, Reason: fmt.Sprintf(f, a...)}
}

// sortDamage orders damage by ID, and returns nil for none.
func sortDamage(ds []Damage) []Damage {
	if len(ds) == 0 {
		return nil
	}
	slices.SortFunc(ds, func(a, b Damage) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return ds
}

// maybe decodes a T, noting in err a value that is not one rather than
// failing.
type maybe[T any] struct {
	v   T
	err error
}

// UnmarshalCBOR decodes a T, or notes that b is not one.
func (m *maybe[T]) UnmarshalCBOR(b []byte) error {
	var v T
	dec := avatarDec.Unmarshal
	if u, ok := any(&v).(cbor.Unmarshaler); ok {
		dec = func(b []byte, _ any) error { return u.UnmarshalCBOR(b) } // an avatar: no pass of the library
	}
	if err := dec(b, &v); err != nil {
		m.err = err
		return nil
	}
	m.v = v
	return nil
}

// get reads the object id as a T in tx. bad is the decoder's error if
// the value is not a T; unlike oss.Get's *oss.DecodeError, it does not
// abort tx. err is the heap's error (oss.ErrNotFound among them).
func get[T any](tx *oss.Tx, id uuid.UUID) (v T, bad, err error) {
	m, err := oss.Get[maybe[T]](tx, id)
	return m.v, m.err, err
}

// finiteVec reports whether both coordinates of v are numbers.
func finiteVec(v Vec) bool { return finite(v.X) && finite(v.Y) }

// maxTick bounds a sane clock: 2^53 ticks are 14 million years at
// TickRate, and a lease added to it cannot wrap.
const maxTick = 1 << 53

// check returns what is wrong with a clock, or "".
func (c *clockObj) check() string {
	if c.Tick > maxTick || c.Wall < 0 {
		return fmt.Sprintf("tick %d at %d ns", c.Tick, c.Wall)
	}
	return ""
}

// check returns what is wrong with an avatar of room r, or "".
func (a *avatarObj) check(r *room) string {
	switch {
	case a.Room.ID != r.id:
		return fmt.Sprintf("in room %v, listed in %q", a.Room.ID, r.obj.Name)
	case validName(a.Name) != nil:
		return fmt.Sprintf("name %.40q", a.Name)
	case !finiteVec(a.Pos) || !inside(r.obj.Size, a.Pos, AvatarRadius):
		return fmt.Sprintf("at %v, outside the room", a.Pos)
	case !finite(a.Heading):
		return fmt.Sprintf("heading %v", a.Heading)
	case len(a.Said) > MaxText:
		return fmt.Sprintf("said %d bytes", len(a.Said))
	case a.Lease > maxTick:
		return fmt.Sprintf("lease %d", a.Lease)
	}
	return ""
}

// check returns what is wrong with prop p of room r, or "".
func (p *propObj) check(r *room) string {
	switch {
	case p.Kind < Ball || p.Kind > Door:
		return fmt.Sprintf("kind %d", p.Kind)
	case p.Room.ID != r.id:
		return fmt.Sprintf("in room %v, listed in %q", p.Room.ID, r.obj.Name)
	case len(p.Name) > maxObjName:
		return fmt.Sprintf("name of %d bytes", len(p.Name))
	case !finiteVec(p.Pos) || !inside(r.obj.Size, p.Pos, 0):
		return fmt.Sprintf("at %v, outside the room", p.Pos)
	case !p.Holder.IsZero() && !p.Kind.portable():
		return fmt.Sprintf("a %v, held", p.Kind)
	case p.Roll != nil && p.Kind != Ball:
		return fmt.Sprintf("a %v, rolling", p.Kind)
	case p.Roll != nil && (p.Roll.X < 0 || p.Roll.Y < 0 || p.Roll.X > r.obs.w || p.Roll.Y > r.obs.h):
		return fmt.Sprintf("rolls from (%d, %d) mm, outside the room", p.Roll.X, p.Roll.Y)
	case p.Roll != nil && (absI64(p.Roll.VX) > maxRollMM || absI64(p.Roll.VY) > maxRollMM):
		return fmt.Sprintf("rolls at (%d, %d) mm a tick", p.Roll.VX, p.Roll.VY)
	}
	return ""
}

// maxRollMM is the fastest a kick rolls a ball, in mm a tick, with room
// for rounding.
const maxRollMM = MaxKickSpeed*mmPerM/TickRate + 1

func absI64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// check returns what is wrong with a chat shard whose version is ver, or
// "": more than ChatKeep messages, a message out of log order or too
// long.
func (s *chatShard) check(ver uint64) string {
	if len(s.Msgs) > ChatKeep {
		return fmt.Sprintf("%d messages, at most %d", len(s.Msgs), ChatKeep)
	}
	last := uint64(0)
	for i, m := range s.Msgs {
		idx := m.Index
		if i == len(s.Msgs)-1 && idx == 0 {
			idx = ver
		}
		if idx == 0 || idx <= last || idx > ver {
			return fmt.Sprintf("message %d has index %d after %d (shard version %d)", i, idx, last, ver)
		}
		if len(m.Text) > MaxText || len(m.From) > MaxName {
			return fmt.Sprintf("message %d of %d bytes from a name of %d", i, len(m.Text), len(m.From))
		}
		last = idx
	}
	return ""
}

// check returns what is wrong with a room, or "": anything that Spec's
// validate refuses, and the objects a room names that Create always
// makes (shards, a prop for each door).
func (ro *roomObj) check() string {
	bad := func(f string, a ...any) string { return fmt.Sprintf(f, a...) }
	s := ro.Size
	switch {
	case ro.Name == "" || len(ro.Name) > maxObjName:
		return bad("name %.40q", ro.Name)
	case !finiteVec(s) || s.X < 2*AvatarRadius || s.Y < 2*AvatarRadius || s.X > 1e5 || s.Y > 1e5:
		return bad("size %v", s)
	case len(ro.Rosters) == 0 || len(ro.Rosters) > 1024:
		return bad("%d roster shards", len(ro.Rosters))
	case len(ro.Chat) == 0 || len(ro.Chat) > 1024:
		return bad("%d chat shards", len(ro.Chat))
	case len(ro.Doors) > maxDoors:
		return bad("%d doors, at most %d", len(ro.Doors), maxDoors)
	case len(ro.Walls) > maxRoomItems || len(ro.Props) > maxRoomItems:
		return bad("%d walls and %d props", len(ro.Walls), len(ro.Props))
	}
	for _, w := range ro.Walls {
		if badWall(w) {
			return bad("wall %v", w)
		}
	}
	for _, d := range ro.Doors {
		if badDoor(d.Rect) {
			return bad("door %v", d.Rect)
		}
		if !slices.Contains(ro.Props, d.Prop) {
			return bad("door %v names prop %v, not one of the room's", d.Rect, d.Prop.ID)
		}
	}
	return ""
}

// The bounds of a room's name, a prop's and the walls and props of a
// room, which Spec.validate keeps too: a room beyond them is damaged,
// and Open refuses its world.
const (
	maxObjName   = 1024
	maxRoomItems = 1 << 16
)

// badWall reports whether w is no wall: a coordinate not a number, or
// its corners the wrong way round.
func badWall(w Rect) bool {
	return !finiteVec(w.Min) || !finiteVec(w.Max) || w.Min.X > w.Max.X || w.Min.Y > w.Max.Y
}

// badDoor reports whether r is no door's place.
func badDoor(r Rect) bool {
	return !finiteVec(r.Min) || !finiteVec(r.Max) || r.Max.Sub(r.Min).Len() > 1e5
}

// check returns what is wrong with a world object, or "".
func (wo *worldObj) check() string {
	switch {
	case len(wo.Rooms) == 0:
		return "no rooms"
	case wo.Clock.IsZero():
		return "no clock"
	case wo.Lease == 0 || wo.Lease > maxTick:
		return fmt.Sprintf("lease of %d ticks", wo.Lease)
	}
	return ""
}

// errOf returns the *Damage of an object that did not decode, or nil.
func errOf(kind ObjectKind, id uuid.UUID, bad error) error {
	if bad == nil {
		return nil
	}
	return damaged(kind, id, "does not decode: %v", bad)
}
