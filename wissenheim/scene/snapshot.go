package scene

import (
	"bytes"
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
	// Damaged lists, ordered by ID, the objects the room's rosters name
	// as avatars that are not avatars of this room: written by something
	// other than this package (a `ossd put` on an avatar's name root, say).
	// They are left out of Avatars, so the room still reads; World.Run
	// removes them as it removes avatars whose lease ran out. Nil when
	// there are none.
	Damaged []uuid.UUID
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
	c, err := oss.Get[clockObj](tx, w.clock)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Index: tx.Index(), Tick: c.Tick, Room: r.info()}
	if s.Avatars, s.Damaged, err = readAvatars(tx, r, prev); err != nil {
		return nil, err
	}
	for _, ref := range r.obj.Props {
		p, err := w.propState(tx, r, ref.ID, c.Tick)
		if err != nil {
			return nil, err
		}
		s.Props = append(s.Props, p)
	}
	for _, ref := range r.obj.Chat {
		v, err := tx.Version(ref.ID)
		if err != nil {
			return nil, err
		}
		sh, err := ref.Get(tx)
		if err != nil {
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
	return s, nil
}

// readAvatars reads room r's avatars in tx, ordered by ID, copying from
// prev, if not nil, those not written since; and the objects its rosters
// name that are not avatars of r (see Snapshot.Damaged).
func readAvatars(tx *oss.Tx, r *room, prev *Snapshot) (avs []AvatarState, damaged []uuid.UUID, err error) {
	if prev != nil && len(prev.Damaged) == 0 && rostersSince(tx, r, prev.Index) {
		// No avatar joined or left since prev: its avatars, in its
		// order, and no roster to decode or avatars to sort.
		return readSinceRosters(tx, r, prev)
	}
	if prev != nil {
		// About as many avatars as before: one allocation, where
		// appending from none makes a dozen and copies a room twice.
		avs = make([]AvatarState, 0, len(prev.Avatars)+len(prev.Avatars)/16+4)
	}
	for _, ref := range r.obj.Rosters {
		ro, err := ref.Get(tx)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range ro.Avatars {
			if st, ok := unchanged(tx, prev, a.ID); ok {
				avs = append(avs, st)
				continue
			}
			av, ok, err := readAvatar(tx, r, a.ID)
			switch {
			case err != nil:
				return nil, nil, err
			case !ok:
				damaged = append(damaged, a.ID)
			default:
				avs = append(avs, avatarState(a.ID, &av))
			}
		}
	}
	byID := func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }
	slices.SortFunc(damaged, byID)
	if len(avs) == 0 {
		return nil, damaged, nil // as Read gives it
	}
	slices.SortFunc(avs, func(a, b AvatarState) int { return byID(a.ID, b.ID) })
	return avs, damaged, nil
}

// readSinceRosters reads room r's avatars in tx when its rosters list
// the avatars they listed at prev, which held no damaged one: prev's
// avatars, decoding those written since.
func readSinceRosters(tx *oss.Tx, r *room, prev *Snapshot) ([]AvatarState, []uuid.UUID, error) {
	if len(prev.Avatars) == 0 {
		return nil, nil, nil // as Read gives it
	}
	var damaged []uuid.UUID
	avs := make([]AvatarState, 0, len(prev.Avatars))
	for i := range prev.Avatars {
		id := prev.Avatars[i].ID
		if v, err := tx.Version(id); err == nil && v != 0 && v <= prev.Index {
			avs = append(avs, prev.Avatars[i])
			continue
		}
		av, ok, err := readAvatar(tx, r, id)
		switch {
		case err != nil:
			return nil, nil, err
		case !ok:
			damaged = append(damaged, id)
		default:
			avs = append(avs, avatarState(id, &av))
		}
	}
	if len(avs) == 0 {
		return nil, damaged, nil // as Read gives it
	}
	return avs, damaged, nil
}

// readAvatar reads the avatar id that a roster of room r lists. ok is
// false if the object is damaged: it does not decode as an avatar, or it
// is an avatar of another room. Only the heap's errors are errors.
func readAvatar(tx *oss.Tx, r *room, id uuid.UUID) (av avatarObj, ok bool, err error) {
	av, ok, err = getAvatar(tx, id)
	return av, ok && av.Room.ID == r.id, err
}

// getAvatar reads the avatar id in tx. ok is false if the object does not
// decode as an avatar; unlike oss.Get's *oss.DecodeError, that does not
// abort tx, so one damaged object does not stop a View that reads a room.
func getAvatar(tx *oss.Tx, id uuid.UUID) (avatarObj, bool, error) {
	m, err := oss.Get[maybeAvatar](tx, id)
	return m.av, err == nil && !m.bad, err
}

// maybeAvatar decodes an avatar, noting a value that is not one in bad
// rather than failing.
type maybeAvatar struct {
	av  avatarObj
	bad bool
}

// UnmarshalCBOR decodes an avatar, or notes that b is not one.
func (m *maybeAvatar) UnmarshalCBOR(b []byte) error {
	if m.av.UnmarshalCBOR(b) != nil {
		m.av, m.bad = avatarObj{}, true
	}
	return nil
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

func (w *World) propState(tx *oss.Tx, r *room, id uuid.UUID, tick uint64) (PropState, error) {
	p, err := oss.Get[propObj](tx, id)
	if err != nil {
		return PropState{}, err
	}
	ps := PropState{ID: id, Kind: p.Kind, Name: p.Name, Pos: p.Pos, Holder: p.Holder.ID, On: p.On}
	switch {
	case !p.Holder.IsZero():
		h, ok, err := getAvatar(tx, p.Holder.ID)
		switch {
		case err == nil && !ok:
			// Held by a damaged avatar (Snapshot.Damaged): where it
			// was picked up, until Run removes the avatar and frees it.
		case err != nil:
			return ps, err
		default:
			ps.Pos = h.Pos
		}
	case p.Roll != nil:
		ps.Pos, ps.Vel, ps.Rolling = p.Roll.at(&r.obs, tick)
	}
	return ps, nil
}

// Avatar reads one avatar in tx: the cheap read of a bot or a client
// that follows a few avatars, where a Snapshot reads the whole room.
// It returns an error matching ErrGone if there is no such avatar.
func (w *World) Avatar(tx *oss.Tx, id uuid.UUID) (AvatarState, error) {
	av, err := oss.Get[avatarObj](tx, id)
	if errors.Is(err, oss.ErrNotFound) {
		return AvatarState{}, fmt.Errorf("%w: %v", ErrGone, id)
	} else if err != nil {
		return AvatarState{}, notA(err, id, "an avatar")
	}
	return avatarState(id, &av), nil
}

// Prop reads one prop in tx, placed at the tick of tx's state.
func (w *World) Prop(tx *oss.Tx, id uuid.UUID) (PropState, error) {
	p, err := oss.Get[propObj](tx, id)
	if errors.Is(err, oss.ErrNotFound) {
		return PropState{}, fmt.Errorf("%w: no prop %v", ErrInvalid, id)
	} else if err != nil {
		return PropState{}, notA(err, id, "a prop")
	}
	r := w.byID[p.Room.ID]
	if r == nil {
		return PropState{}, fmt.Errorf("%w: %v", ErrNoRoom, p.Room.ID)
	}
	tick, err := w.Tick(tx)
	if err != nil {
		return PropState{}, err
	}
	return w.propState(tx, r, id, tick)
}

// Tick reads the world clock in tx.
func (w *World) Tick(tx *oss.Tx) (uint64, error) {
	c, err := oss.Get[clockObj](tx, w.clock)
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
