package scene

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// Garbage written by other means than the scene (`ossd put`, the admin
// transaction API) into any object of a room: the room's snapshot leaves
// the object out and names it, with its kind, in Damaged (each of these
// failed whole, for every client, until the object was rewritten); an
// interaction that needs the object fails with ErrDamaged (it failed
// with the decoder's error, or not at all: a cell nobody covers blocked
// its spot for ever); and Repair (or, for the clock, Run's advance) mends
// it, after which the world verifies and the interaction succeeds.
func TestGarbageInARoomIsLeftOutAndRepaired(t *testing.T) {
	for _, c := range []struct {
		name string
		kind ObjectKind                             // "": nothing is left out, Repair alone mends it
		hit  func(g *garbageWorld) (uuid.UUID, any) // the object and its garbage
		use  func(g *garbageWorld) error            // an interaction that needs it
		want error
		// stays: nothing can rebuild the object (a prop's kind and name
		// are in it alone); it stays left out, and the rest verifies.
		stays bool
	}{
		{"roster garbage", RosterObject, func(g *garbageWorld) (uuid.UUID, any) { return g.roster(), "garbage" },
			nil, nil, false},
		{"roster lists a missing avatar", RosterObject, func(g *garbageWorld) (uuid.UUID, any) {
			return g.roster(), g.rosterWith(g.ada.ID(), uuid.New())
		}, nil, nil, false},
		{"roster lists a prop", RosterObject, func(g *garbageWorld) (uuid.UUID, any) {
			return g.roster(), g.rosterWith(g.ada.ID(), g.ball)
		}, nil, nil, false},
		{"roster lists an avatar twice", RosterObject, func(g *garbageWorld) (uuid.UUID, any) {
			return g.roster(), g.rosterWith(g.ada.ID(), g.ada.ID())
		}, nil, nil, false},
		{"prop garbage", PropObject, func(g *garbageWorld) (uuid.UUID, any) { return g.ball, []int{1, 2} },
			func(g *garbageWorld) error { return g.ada.PickUp(g.ctx, g.ball) }, ErrDamaged, true},
		{"prop outside the room", PropObject, func(g *garbageWorld) (uuid.UUID, any) {
			p := g.prop()
			p.Pos = Vec{X: -3, Y: 1e300}
			return g.ball, p
		}, func(g *garbageWorld) error { return g.ada.PickUp(g.ctx, g.ball) }, ErrDamaged, true},
		{"prop held by a non-avatar", "", func(g *garbageWorld) (uuid.UUID, any) {
			p := g.prop()
			p.Holder = oss.RefTo[avatarObj](g.w.clock)
			return g.ball, p
		}, func(g *garbageWorld) error { return g.ada.PickUp(g.ctx, g.ball) }, ErrHeld, false},
		{"chat garbage", ChatObject, func(g *garbageWorld) (uuid.UUID, any) { return g.chat(), "garbage" },
			func(g *garbageWorld) error { return g.ada.Say(g.ctx, "hello") }, ErrDamaged, false},
		{"chat of 5000 messages", ChatObject, func(g *garbageWorld) (uuid.UUID, any) {
			return g.chat(), chatShard{Msgs: make([]chatMsg, 5000)}
		}, func(g *garbageWorld) error { return g.ada.Say(g.ctx, "hello") }, ErrDamaged, false},
		{"clock garbage", ClockObject, func(g *garbageWorld) (uuid.UUID, any) { return g.w.clock, "noon" },
			func(g *garbageWorld) error { return g.ada.Kick(g.ctx, g.ball, Vec{X: 1}) }, ErrDamaged, false},
		{"clock beyond reason", ClockObject, func(g *garbageWorld) (uuid.UUID, any) {
			return g.w.clock, clockObj{Tick: math.MaxUint64}
		}, func(g *garbageWorld) error { return g.ada.Move(g.ctx, Vec{X: 0.1}) }, ErrDamaged, false},
		{"clock before 1970", ClockObject, func(g *garbageWorld) (uuid.UUID, any) {
			return g.w.clock, clockObj{Tick: 1, Wall: math.MinInt64}
		}, func(g *garbageWorld) error { return g.ada.Kick(g.ctx, g.ball, Vec{X: 1}) }, ErrDamaged, false},
		{"cell garbage", "", func(g *garbageWorld) (uuid.UUID, any) { return cellID(g.room.id, cellsOf(Vec{X: 8, Y: 8})[0]), "x" },
			func(g *garbageWorld) error {
				_, err := g.w.Join(g.ctx, "cy", &JoinOptions{At: &Vec{X: 8, Y: 8}})
				return err
			}, ErrBlocked, false},
		{"cell of a gone avatar", "", func(g *garbageWorld) (uuid.UUID, any) {
			return cellID(g.room.id, cellsOf(Vec{X: 8, Y: 8})[0]), cellObj{Avatar: oss.RefTo[avatarObj](uuid.New()), Room: oss.RefTo[roomObj](g.room.id)}
		}, func(g *garbageWorld) error {
			_, err := g.w.Join(g.ctx, "cy", &JoinOptions{At: &Vec{X: 8, Y: 8}})
			return err
		}, ErrBlocked, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGarbageWorld(t)
			before := g.snap()
			id, v := c.hit(g)
			g.put(id, v)
			s := g.readBoth(before)
			found := slices_index(s.Damaged, id)
			switch {
			case c.kind == "" && len(s.Damaged) > 0:
				t.Errorf("damaged %+v, want none", s.Damaged)
			case c.kind != "" && (found < 0 || s.Damaged[found].Kind != c.kind):
				t.Errorf("damaged %+v, want %v as a %s", s.Damaged, id, c.kind)
			}
			if _, ok := avatarOf(s, g.bob.ID()); !ok {
				t.Errorf("bob left out: %+v", s.Avatars)
			}
			if c.use != nil {
				if err := c.use(g); !errors.Is(err, c.want) {
					t.Errorf("interaction with the damaged object: %v, want %v", err, c.want)
				}
			}
			g.mend()
			s = g.snap()
			if len(s.Avatars) != 2 {
				t.Errorf("after repair: avatars %+v; want ada and bob", s.Avatars)
			}
			if c.stays {
				if len(s.Damaged) != 1 || s.Damaged[0].ID != id {
					t.Errorf("after repair: damaged %+v, want %v alone", s.Damaged, id)
				}
				if err := c.use(g); !errors.Is(err, c.want) {
					t.Errorf("interaction with the damaged object after repair: %v, want %v", err, c.want)
				}
				return
			}
			if s.Damaged != nil {
				t.Errorf("after repair: damaged %+v, want none", s.Damaged)
			}
			if c.use != nil {
				if err := c.use(g); err != nil && !errors.Is(err, ErrBlocked) {
					t.Errorf("interaction after repair: %v", err)
				} else if err != nil && strings.Contains(err.Error(), "taken") {
					t.Errorf("interaction after repair: %v", err)
				}
			}
			g.verify()
		})
	}
}

// A damaged world object or room cannot be rebuilt: Open says so with a
// *Damage naming it (it panicked on a world of no rooms or of a lease of
// 0 ticks, in Run, and on a room of no roster shards, in Join).
func TestDamagedWorldOrRoomIsRefusedByOpen(t *testing.T) {
	for _, c := range []struct {
		name string
		hit  func(g *garbageWorld) (uuid.UUID, any)
	}{
		{"world garbage", func(g *garbageWorld) (uuid.UUID, any) { return g.worldID(), "garbage" }},
		{"world without rooms", func(g *garbageWorld) (uuid.UUID, any) {
			return g.worldID(), worldObj{Name: "test", Clock: oss.RefTo[clockObj](g.w.clock), Lease: 20}
		}},
		{"world of a lease of 0 ticks", func(g *garbageWorld) (uuid.UUID, any) {
			return g.worldID(), worldObj{Name: "test", Rooms: []oss.Ref[roomObj]{oss.RefTo[roomObj](g.room.id)}, Clock: oss.RefTo[clockObj](g.w.clock)}
		}},
		{"room garbage", func(g *garbageWorld) (uuid.UUID, any) { return g.room.id, 7 }},
		{"room without roster shards", func(g *garbageWorld) (uuid.UUID, any) {
			ro := g.room.obj
			ro.Rosters = nil
			return g.room.id, ro
		}},
		{"room of a negative size", func(g *garbageWorld) (uuid.UUID, any) {
			ro := g.room.obj
			ro.Size = Vec{X: -10, Y: 10}
			return g.room.id, ro
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGarbageWorld(t)
			id, v := c.hit(g)
			g.put(id, v)
			_, err := Open(g.ctx, g.w.Heap(), "test")
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), id.String()) {
				t.Fatalf("Open: %v, want ErrDamaged naming %v", err, id)
			}
			// The World opened before keeps its rooms: they never change.
			g.snap()
		})
	}
}

// A clock set back, or garbage in it, does not stop Run (it returned at
// once on a clock that did not decode, and nothing advanced the clock
// again): Run mends it and the clock goes on from the latest tick the
// World read.
func TestRunMendsTheClock(t *testing.T) {
	for _, v := range []any{"garbage", clockObj{Tick: 1}} {
		g := newGarbageWorld(t)
		ctx, cancel := context.WithCancel(g.ctx)
		g.put(g.w.clock, clockObj{Tick: 1000})
		if _, err := g.w.now(g.ctx); err != nil {
			t.Fatal(err)
		}
		g.put(g.w.clock, v)
		done := make(chan error, 1)
		go func() { done <- g.w.Run(ctx) }()
		// Until the clock has gone on from 1000: the transaction parks
		// until the clock changes.
		err := g.w.Heap().Update(ctx, func(tx *oss.Tx) error {
			if c, bad, err := get[clockObj](tx, g.w.clock); err != nil || bad != nil || c.Tick <= 1000 {
				return tx.Retry()
			}
			return nil
		})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Run with the clock %v: %v", v, err)
		}
	}
}

// garbageWorld is the verify world with two avatars, ada and bob.
type garbageWorld struct {
	t        *testing.T
	ctx      context.Context
	w        *World
	room     *room
	ada, bob *Avatar
	ball     uuid.UUID
}

func newGarbageWorld(t *testing.T) *garbageWorld {
	g := &garbageWorld{t: t, ctx: context.Background(), w: verifyWorld(t)}
	g.room = g.w.rooms[0]
	g.ball = g.room.obj.Props[0].ID
	var err error
	if g.ada, err = g.w.Join(g.ctx, "ada", &JoinOptions{At: &Vec{X: 2, Y: 2.6}}); err != nil {
		t.Fatal(err)
	}
	if g.bob, err = g.w.Join(g.ctx, "bob", &JoinOptions{At: &Vec{X: 7, Y: 5}}); err != nil {
		t.Fatal(err)
	}
	if shardOf(g.ada.ID(), RosterShards) == shardOf(g.bob.ID(), RosterShards) ||
		shardOf(g.ada.ID(), ChatShards) == shardOf(g.bob.ID(), ChatShards) {
		return newGarbageWorld(t) // ada's shards are to be damaged, not bob's
	}
	return g
}

func (g *garbageWorld) roster() uuid.UUID {
	return g.room.obj.Rosters[shardOf(g.ada.ID(), RosterShards)].ID
}
func (g *garbageWorld) chat() uuid.UUID { return g.room.obj.Chat[shardOf(g.ada.ID(), ChatShards)].ID }

func (g *garbageWorld) rosterWith(ids ...uuid.UUID) rosterObj {
	var ro rosterObj
	for _, id := range ids {
		ro.Avatars = append(ro.Avatars, oss.RefTo[avatarObj](id))
	}
	return ro
}

func (g *garbageWorld) prop() (p propObj) {
	g.view(func(tx *oss.Tx) (err error) { p, err = oss.Get[propObj](tx, g.ball); return err })
	return p
}

func (g *garbageWorld) worldID() (id uuid.UUID) {
	g.view(func(tx *oss.Tx) (err error) { id, err = tx.Root(worldRoot("test")); return err })
	return id
}

func (g *garbageWorld) view(f func(tx *oss.Tx) error) {
	g.t.Helper()
	if err := g.w.Heap().View(g.ctx, f, nil); err != nil {
		g.t.Fatal(err)
	}
}

// put writes v to the object id, as `ossd put` does.
func (g *garbageWorld) put(id uuid.UUID, v any) {
	g.t.Helper()
	if err := g.w.Heap().Update(g.ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, v) }); err != nil {
		g.t.Fatal(err)
	}
}

func (g *garbageWorld) snap() *Snapshot {
	g.t.Helper()
	s, err := g.w.Snapshot(g.ctx, "room")
	if err != nil {
		g.t.Fatal(err)
	}
	return s
}

// readBoth reads the room with Read and with ReadSince from prev, and
// fails unless they agree.
func (g *garbageWorld) readBoth(prev *Snapshot) *Snapshot {
	g.t.Helper()
	var full, inc *Snapshot
	g.view(func(tx *oss.Tx) (err error) {
		if full, err = g.w.Read(tx, "room"); err != nil {
			return err
		}
		inc, err = g.w.ReadSince(tx, "room", prev)
		return err
	})
	if !reflect.DeepEqual(full, inc) {
		g.t.Fatalf("ReadSince gives\n%+v\nand Read\n%+v", inc, full)
	}
	return full
}

// mend runs what Run runs to mend the world: an advance of the clock,
// Repair and Reap.
func (g *garbageWorld) mend() {
	g.t.Helper()
	if err := g.w.advance(g.ctx, 1); err != nil {
		g.t.Fatal(err)
	}
	if _, err := g.w.Repair(g.ctx); err != nil {
		g.t.Fatal(err)
	}
	if _, err := g.w.Reap(g.ctx); err != nil {
		g.t.Fatal(err)
	}
}

func (g *garbageWorld) verify() {
	g.t.Helper()
	g.view(g.w.Verify)
}

func slices_index(ds []Damage, id uuid.UUID) int {
	for i, d := range ds {
		if d.ID == id {
			return i
		}
	}
	return -1
}

func avatarOf(s *Snapshot, id uuid.UUID) (AvatarState, bool) {
	for _, a := range s.Avatars {
		if a.ID == id {
			return a, true
		}
	}
	return AvatarState{}, false
}

// A damaged door refuses whoever comes near it with ErrDamaged, but a
// Join without a place tries its other spots (it failed with the door's
// error at the first spot near it).
func TestJoinAvoidsADamagedDoor(t *testing.T) {
	ctx := context.Background()
	g := &garbageWorld{t: t, ctx: ctx, w: startTestWorld(t, &Spec{Name: "test", Rooms: []RoomSpec{{
		Name: "corridor", Size: Vec{X: 10, Y: 1},
		Doors: []DoorSpec{{Name: "door", Rect: R(0, 0, 9, 1), Open: true}},
	}}})}
	door := g.w.rooms[0].obj.Doors[0].Prop.ID
	g.put(door, "garbage")
	a, err := g.w.Join(ctx, "ada", nil)
	if err != nil {
		t.Fatalf("join beside a damaged door: %v", err)
	}
	if err := a.Toggle(ctx, door); !errors.Is(err, ErrDamaged) {
		t.Errorf("toggle of the damaged door: %v, want ErrDamaged", err)
	}
	if _, err := g.w.Join(ctx, "bob", &JoinOptions{At: &Vec{X: 1, Y: 0.5}}); !errors.Is(err, ErrBlocked) {
		t.Errorf("join in the damaged door: %v, want ErrBlocked", err)
	}
}

// startTestWorld starts a one-node in-memory cluster and creates the
// world spec describes.
func startTestWorld(t *testing.T, spec *Spec) *World {
	t.Helper()
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	h, err := n.CreateHeapIfNotExists(ctx, "world", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Create(ctx, h, spec)
	if err != nil {
		t.Fatal(err)
	}
	return w
}
