package scene

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"math"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// Avatar is a client's handle on its avatar: every interaction is one
// transaction on the world's heap, validated by that transaction (a move
// onto another avatar or into a wall, a grab of a held prop), so that it
// either happens whole or is refused with an error and writes nothing.
// The handle keeps no state of the world: each call reads the avatar as
// it is. Calls on an avatar that no longer exists fail with ErrGone.
// An Avatar is safe for concurrent use, but its calls then conflict with
// each other; a client makes them one at a time.
type Avatar struct {
	w       *World
	id      uuid.UUID
	name    string
	session uuid.UUID
	lease   atomic.Uint64 // the lease last written
}

// JoinOptions say where and how an avatar joins.
type JoinOptions struct {
	// Room is the name of the room to join. If empty, the world's first.
	Room string
	// Color is the avatar's colour. If zero, one derived from the name.
	Color color.RGBA
	// At places the avatar; if nil, Join picks a free spot.
	At *Vec
}

// Join adds an avatar named name to the world and returns the handle to
// it. It fails with ErrNameTaken if a live avatar has that name (an
// expired one is removed first), with ErrInvalid if At is not a number
// (NaN or infinite), and with ErrBlocked if At is not free, or no free
// spot was found.
func (w *World) Join(ctx context.Context, name string, opts *JoinOptions) (*Avatar, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	var o JoinOptions
	if opts != nil {
		o = *opts
	}
	r := w.rooms[0]
	if o.Room != "" {
		if r = w.byName[o.Room]; r == nil {
			return nil, fmt.Errorf("%w: %q", ErrNoRoom, o.Room)
		}
	}
	if o.Color == (color.RGBA{}) {
		o.Color = colorOf(name)
	}
	spots := []Vec{}
	if o.At != nil {
		if !finite(o.At.X) || !finite(o.At.Y) {
			return nil, fmt.Errorf("scene: join %q: %w: at %v", name, ErrInvalid, *o.At)
		}
		spots = append(spots, *o.At)
	} else {
		spots = spawnPoints(r, name, 64)
	}
	now, err := w.now(ctx)
	if err != nil {
		return nil, err
	}
	a := &Avatar{w: w, name: name, session: uuid.New()}
	err = w.op(ctx, opJoin, func(tx *oss.Tx) error {
		root := nameRoot(w.name, name)
		if err := w.freeName(tx, root, name, now); err != nil {
			return err
		}
		at, err := w.freeSpot(tx, r, spots)
		if err != nil {
			return err
		}
		if at == nil && o.At != nil {
			return fmt.Errorf("%w: %v in %q is not free (another avatar, a wall, a closed door or outside the room)", ErrBlocked, *o.At, r.obj.Name)
		} else if at == nil {
			return fmt.Errorf("%w: no free spot for %q in %q", ErrBlocked, name, r.obj.Name)
		}
		ref, err := oss.New(tx, avatarObj{
			Name: name, Color: packColor(o.Color), Room: oss.RefTo[roomObj](r.id), Pos: *at,
			Heading: math.Pi / 2, Session: a.session, Lease: now + w.lease,
		})
		if err != nil {
			return err
		}
		if err := w.enter(tx, r, ref, cellsOf(*at)); err != nil {
			return err
		}
		a.id = ref.ID
		return tx.SetRoot(root, ref.ID)
	})
	if err != nil {
		return nil, fmt.Errorf("scene: join %q: %w", name, err)
	}
	a.lease.Store(now + w.lease)
	w.adopt(a)
	return a, nil
}

// freeName frees name, under the world's root for it, for an avatar to
// join at tick now: it fails with ErrNameTaken if the avatar there is
// alive, and removes it if its lease has run out.
func (w *World) freeName(tx *oss.Tx, root, name string, now uint64) error {
	id, err := tx.Root(root)
	if err != nil {
		if errors.Is(err, oss.ErrNotFound) {
			return nil
		}
		return err
	}
	old, _, err := w.readAvatarObj(tx, id)
	switch {
	case errors.Is(err, ErrGone):
		return nil
	case errors.Is(err, ErrDamaged) || errors.Is(err, ErrInvalid):
		// Not an avatar of this world: no live avatar holds the name, and
		// Join binds it anew. If a roster lists the object (Snapshot.Damaged),
		// Reap removes it and what names it, but not the name's new root.
		return nil
	case err != nil:
		return err
	}
	// Judged on the tick read before, not on the clock read here, which
	// every tick would change: the clock only moves on, so a lease below
	// now has run out, and one at or above it is taken to be alive.
	if old.Lease >= now {
		return fmt.Errorf("%w: %q", ErrNameTaken, name)
	}
	return w.remove(tx, id, &old)
}

// freeSpot returns the first of spots in r where an avatar fits, or nil
// if none is free.
func (w *World) freeSpot(tx *oss.Tx, r *room, spots []Vec) (*Vec, error) {
	for _, p := range spots {
		if err := w.free(tx, r, p, nil); err == nil {
			return &p, nil
		} else if !errors.Is(err, ErrBlocked) && !errors.Is(err, ErrDamaged) {
			return nil, err
		} // blocked, or beside a damaged door: the next spot
	}
	return nil, nil
}

// enter puts the new avatar ref in room r: in its cells, and on the
// roster of its shard.
func (w *World) enter(tx *oss.Tx, r *room, ref oss.Ref[avatarObj], cells []cell) error {
	for _, c := range cells {
		if err := oss.Put(tx, cellID(r.id, c), cellObj{Avatar: ref, Room: oss.RefTo[roomObj](r.id)}); err != nil {
			return err
		}
	}
	shard := r.obj.Rosters[shardOf(ref.ID, len(r.obj.Rosters))]
	s, err := readRoster(tx, shard.ID)
	if err != nil {
		return err
	}
	s.Avatars = append(s.Avatars, ref)
	return shard.Put(tx, s)
}

// Resume takes back an avatar this client joined before, from another
// World or another process (after a restart of the client's node, say),
// by the ID and session of its handle. It fails with ErrGone if the
// avatar no longer exists or another session holds it.
func (w *World) Resume(ctx context.Context, id, session uuid.UUID) (*Avatar, error) {
	a := &Avatar{w: w, id: id, session: session}
	err := w.h.View(ctx, func(tx *oss.Tx) error {
		av, _, err := a.load(tx)
		a.name = av.Name
		a.lease.Store(av.Lease)
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	w.adopt(a)
	return a, nil
}

func (w *World) adopt(a *Avatar) {
	w.mu.Lock()
	w.mine[a.id] = a
	w.mu.Unlock()
}

// Forget stops this World's Run refreshing the avatar's lease, as if its
// client had crashed: unless a call on it (or on a handle from Resume)
// writes it again, it is removed once its lease runs out. The handle
// still works.
func (w *World) Forget(a *Avatar) { w.disown(a) }

func (w *World) disown(a *Avatar) {
	w.mu.Lock()
	delete(w.mine, a.id)
	w.mu.Unlock()
}

// ID returns the avatar's object ID.
func (a *Avatar) ID() uuid.UUID { return a.id }

// Name returns the avatar's name.
func (a *Avatar) Name() string { return a.name }

// Session returns the session that owns the avatar: with the ID, what
// Resume needs.
func (a *Avatar) Session() uuid.UUID { return a.session }

// World returns the world the avatar lives in.
func (a *Avatar) World() *World { return a.w }

// load reads the avatar and its room, and checks that this handle's
// session owns it.
func (a *Avatar) load(tx *oss.Tx) (avatarObj, *room, error) {
	av, r, err := a.w.readAvatarObj(tx, a.id)
	if err == nil && av.Session != a.session {
		return av, r, fmt.Errorf("%w: %v belongs to another session", ErrGone, a.id)
	}
	return av, r, err
}

// update runs one interaction: fn changes the avatar (and whatever else
// it writes) and the avatar is written back with its lease refreshed.
func (a *Avatar) update(ctx context.Context, op opKind, fn func(tx *oss.Tx, av *avatarObj, r *room) error) error {
	now, err := a.w.now(ctx)
	if err != nil {
		return err
	}
	err = a.w.op(ctx, op, func(tx *oss.Tx) error {
		av, r, err := a.load(tx)
		if err != nil {
			return err
		}
		if err := fn(tx, &av, r); err != nil {
			return err
		}
		av.Lease = max(av.Lease, now+a.w.lease)
		lease := av.Lease
		tx.OnCommit(func() { a.lease.Store(lease) })
		return oss.Put(tx, a.id, av)
	})
	if err != nil {
		return fmt.Errorf("scene: %v %q: %w", op, a.name, err)
	}
	return nil
}

// free checks that a disk of AvatarRadius at p in r is in the room, in no
// wall and no closed door, and that its cells are free, except those in
// own (the cells the avatar covers already, which it does not read). It
// reads the other cells and the doors it touches, so the transaction
// conflicts with whoever takes them first.
func (w *World) free(tx *oss.Tx, r *room, p Vec, own []cell) error {
	if !inside(r.obj.Size, p, AvatarRadius) {
		return fmt.Errorf("%w: %v is outside the room", ErrBlocked, p)
	}
	for _, wall := range r.obj.Walls {
		if diskHits(wall, p, AvatarRadius) {
			return fmt.Errorf("%w: %v is in a wall", ErrBlocked, p)
		}
	}
	for _, d := range r.obj.Doors {
		if diskHits(d.Rect, p, AvatarRadius) {
			door, _, err := w.readProp(tx, d.Prop.ID)
			if err != nil {
				return err
			}
			if !door.On {
				return fmt.Errorf("%w: door %q is closed", ErrBlocked, door.Name)
			}
		}
	}
	for _, c := range cellsOf(p) {
		if hasCell(own, c) {
			continue
		}
		taken, err := tx.Exists(cellID(r.id, c))
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("%w: %v is taken", ErrBlocked, p)
		}
	}
	return nil
}

// Move steps the avatar by d (at most MaxStep long) and turns it to face
// the way it went. The move is refused with ErrBlocked, and nothing
// changes, if the avatar would overlap another, stand in a wall or a
// closed door, or leave the room; with ErrTooFar if d is too long.
//
// The transaction reads the avatar and, only where the step enters cells
// the avatar did not cover before, those cells; it writes the avatar and
// the cells it enters and leaves. Avatars far apart never conflict.
func (a *Avatar) Move(ctx context.Context, d Vec) error {
	if l := d.Len(); l > MaxStep || math.IsNaN(l) {
		return fmt.Errorf("scene: move %q: %w: step of %.3g m, at most %g", a.name, ErrTooFar, l, MaxStep)
	}
	return a.update(ctx, opMove, func(tx *oss.Tx, av *avatarObj, r *room) error {
		to := av.Pos.Add(d)
		from, into := cellsOf(av.Pos), cellsOf(to)
		if err := a.w.free(tx, r, to, from); err != nil {
			return err
		}
		for _, c := range into {
			if !hasCell(from, c) {
				if err := oss.Put(tx, cellID(r.id, c), cellObj{Avatar: oss.RefTo[avatarObj](a.id), Room: av.Room}); err != nil {
					return err
				}
			}
		}
		for _, c := range from {
			if !hasCell(into, c) {
				if err := tx.Delete(cellID(r.id, c)); err != nil {
					return err
				}
			}
		}
		av.Pos = to
		if d != (Vec{}) {
			av.Heading = math.Atan2(d.Y, d.X)
		}
		av.Moves++
		return nil
	})
}

// Turn turns the avatar to face heading (radians; 0 is east, π/2
// south).
func (a *Avatar) Turn(ctx context.Context, heading float64) error {
	if math.IsNaN(heading) || math.IsInf(heading, 0) {
		return fmt.Errorf("scene: turn %q: %w: heading %v", a.name, ErrInvalid, heading)
	}
	return a.update(ctx, opMove, func(tx *oss.Tx, av *avatarObj, r *room) error {
		av.Heading = math.Remainder(heading, 2*math.Pi)
		return nil
	})
}

// propAt reads a prop of room r and where it is at the current tick
// (reading the clock only for a ball that was kicked).
func (w *World) propAt(tx *oss.Tx, r *room, id uuid.UUID) (propObj, Vec, error) {
	if err := w.isProp(id); err != nil {
		return propObj{}, Vec{}, err
	}
	if w.propRoom[id] != r {
		return propObj{}, Vec{}, fmt.Errorf("%w: prop %v is in another room", ErrTooFar, id)
	}
	p, _, err := w.readProp(tx, id)
	if err != nil {
		return p, Vec{}, err
	}
	pos := p.Pos
	if p.Roll != nil && p.Holder.IsZero() {
		c, err := w.readClock(tx)
		if err != nil {
			return p, pos, err
		}
		pos, _, _ = p.Roll.at(&r.obs, c.Tick)
	}
	return p, pos, nil
}

func (a *Avatar) pickUp(ctx context.Context, id uuid.UUID, wait bool) error {
	return a.update(ctx, opPickUp, func(tx *oss.Tx, av *avatarObj, r *room) error {
		p, pos, err := a.w.propAt(tx, r, id)
		if err != nil {
			return err
		}
		switch {
		case !p.Kind.portable():
			return fmt.Errorf("%w: a %v cannot be carried", ErrCannot, p.Kind)
		case p.Holder.ID == a.id:
			return nil
		case !av.Holding.IsZero():
			return ErrHandsFull
		case !p.Holder.IsZero() && wait:
			return tx.Retry()
		case !p.Holder.IsZero():
			return fmt.Errorf("%w: %q", ErrHeld, p.Name)
		case pos.Sub(av.Pos).Len() > Reach:
			return fmt.Errorf("%w: %q is %.2g m away", ErrTooFar, p.Name, pos.Sub(av.Pos).Len())
		}
		p.Holder, p.Roll, p.Pos = oss.RefTo[avatarObj](a.id), nil, pos
		av.Holding = oss.RefTo[propObj](id)
		return oss.Put(tx, id, p)
	})
}

// PickUp takes a ball or a box within Reach. If two avatars grab the same
// prop at once, exactly one holds it; the other gets ErrHeld.
func (a *Avatar) PickUp(ctx context.Context, prop uuid.UUID) error { return a.pickUp(ctx, prop, false) }

// PickUpWhenFree is PickUp that, while another avatar holds the prop,
// waits (without polling: the transaction parks until the prop or the
// avatar changes) until it is free, then takes it if it is still within
// Reach. It returns when ctx ends.
func (a *Avatar) PickUpWhenFree(ctx context.Context, prop uuid.UUID) error {
	return a.pickUp(ctx, prop, true)
}

// Drop puts down what the avatar holds, where it stands.
func (a *Avatar) Drop(ctx context.Context) error {
	return a.update(ctx, opDrop, func(tx *oss.Tx, av *avatarObj, r *room) error {
		if av.Holding.IsZero() {
			return ErrEmptyHands
		}
		held := av.Holding.ID
		av.Holding = oss.Ref[propObj]{}
		if a.w.isProp(held) != nil {
			return nil // it held garbage: its hands are empty now
		}
		p, _, err := a.w.readProp(tx, held)
		switch {
		case errors.Is(err, ErrDamaged) || err == nil && p.Holder.ID != a.id:
			return nil // a damaged prop, or one that is not its own: let go
		case err != nil:
			return err
		}
		p.Holder, p.Pos, p.Roll = oss.Ref[avatarObj]{}, av.Pos, nil
		return oss.Put(tx, held, p)
	})
}

// Give hands what the avatar holds to another avatar within Reach, whose
// hands must be empty.
func (a *Avatar) Give(ctx context.Context, to uuid.UUID) error {
	if to == a.id {
		return fmt.Errorf("scene: give %q: %w: to itself", a.name, ErrInvalid)
	}
	return a.update(ctx, opGive, func(tx *oss.Tx, av *avatarObj, r *room) error {
		if av.Holding.IsZero() {
			return ErrEmptyHands
		}
		b, _, err := a.w.readAvatarObj(tx, to)
		if err != nil {
			return err
		}
		switch {
		case b.Room.ID != r.id:
			return fmt.Errorf("%w: %q is in another room", ErrTooFar, b.Name)
		case b.Pos.Sub(av.Pos).Len() > Reach:
			return fmt.Errorf("%w: %q is %.2g m away", ErrTooFar, b.Name, b.Pos.Sub(av.Pos).Len())
		case !b.Holding.IsZero():
			return fmt.Errorf("%w: %q", ErrHandsFull, b.Name)
		}
		if err := a.w.isProp(av.Holding.ID); err != nil {
			return damaged(AvatarObject, a.id, "holds %v, not a prop", av.Holding.ID)
		}
		p, _, err := a.w.readProp(tx, av.Holding.ID)
		if err != nil {
			return err
		}
		p.Holder = oss.RefTo[avatarObj](to)
		b.Holding, av.Holding = av.Holding, oss.Ref[propObj]{}
		if err := b.Holding.Put(tx, p); err != nil {
			return err
		}
		return oss.Put(tx, to, b)
	})
}

// Kick kicks a ball within Reach (or the ball the avatar holds) with
// velocity v, in metres per second, capped at MaxKickSpeed. The ball then
// rolls without further writes: see Snapshot.
func (a *Avatar) Kick(ctx context.Context, ball uuid.UUID, v Vec) error {
	if l := v.Len(); math.IsNaN(l) || math.IsInf(l, 0) {
		return fmt.Errorf("scene: kick %q: %w: velocity %v", a.name, ErrInvalid, v)
	} else if l > MaxKickSpeed {
		v = v.Scale(MaxKickSpeed / l)
	}
	return a.update(ctx, opKick, func(tx *oss.Tx, av *avatarObj, r *room) error {
		p, pos, err := a.w.propAt(tx, r, ball)
		if err != nil {
			return err
		}
		switch {
		case p.Kind != Ball:
			return fmt.Errorf("%w: a %v cannot be kicked", ErrCannot, p.Kind)
		case p.Holder.ID == a.id:
			pos = av.Pos
			av.Holding = oss.Ref[propObj]{}
		case !p.Holder.IsZero():
			return fmt.Errorf("%w: %q", ErrHeld, p.Name)
		case pos.Sub(av.Pos).Len() > Reach:
			return fmt.Errorf("%w: %q is %.2g m away", ErrTooFar, p.Name, pos.Sub(av.Pos).Len())
		}
		c, err := a.w.readClock(tx)
		if err != nil {
			return err
		}
		p.Holder, p.Pos, p.Roll = oss.Ref[avatarObj]{}, pos, newRoll(pos, v, c.Tick)
		return oss.Put(tx, ball, p)
	})
}

// Toggle switches a lamp on or off, or opens or closes a door, within
// Reach. A door does not close on an avatar: that is ErrBlocked.
func (a *Avatar) Toggle(ctx context.Context, prop uuid.UUID) error {
	return a.update(ctx, opToggle, func(tx *oss.Tx, av *avatarObj, r *room) error {
		p, pos, err := a.w.propAt(tx, r, prop)
		if err != nil {
			return err
		}
		dist := pos.Sub(av.Pos).Len()
		switch p.Kind {
		case Lamp:
		case Door:
			var rect Rect
			for _, d := range r.obj.Doors {
				if d.Prop.ID == prop {
					rect = d.Rect
				}
			}
			dist = rect.Dist(av.Pos)
			if p.On {
				// Closing: no avatar may cover the doorway. An avatar
				// that overlaps it claims a cell that overlaps it, so
				// the claimants of those cells are the ones to check.
				for _, c := range cellsIn(rect) {
					co, bad, err := get[cellObj](tx, cellID(r.id, c))
					if errors.Is(err, oss.ErrNotFound) || bad != nil {
						continue // free, or garbage that names nobody
					} else if err != nil {
						return err
					}
					b, bad, err := get[avatarObj](tx, co.Avatar.ID)
					if err != nil && !errors.Is(err, oss.ErrNotFound) {
						return err
					}
					if err != nil || bad != nil || b.check(r) != "" {
						continue // a cell whose avatar is gone is free
					}
					if diskHits(rect, b.Pos, AvatarRadius) {
						return fmt.Errorf("%w: %q stands in door %q", ErrBlocked, b.Name, p.Name)
					}
				}
			}
		default:
			return fmt.Errorf("%w: a %v cannot be switched", ErrCannot, p.Kind)
		}
		if dist > Reach {
			return fmt.Errorf("%w: %q is %.2g m away", ErrTooFar, p.Name, dist)
		}
		p.On = !p.On
		return oss.Put(tx, prop, p)
	})
}

// Say adds a message to the room's chat and shows it as what the avatar
// said last. Messages appear in every client in the same order: the
// order of the log (see Snapshot.Chat).
func (a *Avatar) Say(ctx context.Context, text string) error {
	if text == "" || len(text) > MaxText || !utf8.ValidString(text) {
		return fmt.Errorf("scene: say %q: %w: 1 to %d bytes of UTF-8", a.name, ErrInvalid, MaxText)
	}
	for _, r := range text {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("scene: say %q: %w: %U", a.name, ErrInvalid, r)
		}
	}
	return a.update(ctx, opSay, func(tx *oss.Tx, av *avatarObj, r *room) error {
		shard := r.obj.Chat[shardOf(a.id, len(r.obj.Chat))]
		s, v, err := readChat(tx, shard.ID)
		if err != nil {
			return err
		}
		if n := len(s.Msgs); n > 0 && s.Msgs[n-1].Index == 0 {
			s.Msgs[n-1].Index = v // the previous append committed at v
		}
		s.Msgs = append(s.Msgs, chatMsg{Avatar: a.id, From: av.Name, Text: text})
		if n := len(s.Msgs); n > ChatKeep {
			s.Msgs = s.Msgs[n-ChatKeep:]
		}
		av.Said = text
		return shard.Put(tx, s)
	})
}

// Heartbeat refreshes the avatar's lease. Every other call does too, and
// World.Run heartbeats the idle avatars of its World: a client calls it
// only if it does not run Run.
func (a *Avatar) Heartbeat(ctx context.Context) error {
	return a.update(ctx, opHeartbeat, func(*oss.Tx, *avatarObj, *room) error { return nil })
}

// Leave removes the avatar from the world; what it held stays where it
// stood. The handle is then gone.
func (a *Avatar) Leave(ctx context.Context) error {
	err := a.w.op(ctx, opLeave, func(tx *oss.Tx) error {
		av, _, err := a.load(tx)
		if err != nil {
			return err
		}
		return a.w.remove(tx, a.id, &av)
	})
	a.w.disown(a)
	if err != nil {
		return fmt.Errorf("scene: leave %q: %w", a.name, err)
	}
	return nil
}

func packColor(c color.RGBA) uint32 {
	return uint32(c.R)<<24 | uint32(c.G)<<16 | uint32(c.B)<<8 | uint32(c.A)
}

func unpackColor(c uint32) color.RGBA {
	return color.RGBA{uint8(c >> 24), uint8(c >> 16), uint8(c >> 8), uint8(c)}
}

// colorOf derives a bright colour from a name.
func colorOf(name string) color.RGBA {
	var h uint32 = 2166136261
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	hue := float64(h%360) / 60
	x := uint8(255 * (1 - math.Abs(math.Mod(hue, 2)-1)))
	switch int(hue) {
	case 0:
		return color.RGBA{255, x, 40, 255}
	case 1:
		return color.RGBA{x, 255, 40, 255}
	case 2:
		return color.RGBA{40, 255, x, 255}
	case 3:
		return color.RGBA{40, x, 255, 255}
	case 4:
		return color.RGBA{x, 40, 255, 255}
	}
	return color.RGBA{255, 40, x, 255}
}

// finite reports whether f is a number: neither NaN nor infinite.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
