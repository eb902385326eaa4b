package scene

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

const (
	// rootPrefix prefixes the named roots of worlds and of avatar names.
	rootPrefix = "wissenheim/"
	// RosterShards is the number of objects that list a room's avatars.
	RosterShards = 16
	// ChatShards is the number of objects that hold a room's chat.
	ChatShards = 8
	// ChatKeep is the number of latest messages each chat shard keeps,
	// and the most a Snapshot shows.
	ChatKeep = 32
	// DefaultLease is how long an avatar lives without a write when the
	// Spec does not say.
	DefaultLease = 10 * time.Second
	// MaxName is the longest avatar name, in bytes; MaxText the longest
	// chat message.
	MaxName = 32
	MaxText = 200
	// maxDoors bounds the doors of a room.
	maxDoors = 64
)

// Spec describes a world to create.
type Spec struct {
	// Name names the world; several worlds can share a heap. If empty,
	// "wissenheim".
	Name  string
	Rooms []RoomSpec
	// Lease is how long an avatar lives after its last write (every
	// interaction refreshes it, and World.Run refreshes the idle avatars
	// of its process) before any node may remove it. If zero,
	// DefaultLease.
	Lease time.Duration
}

// RoomSpec describes a room: the area [0, Size.X] × [0, Size.Y], its walls,
// doors and props.
type RoomSpec struct {
	Name  string
	Size  Vec
	Walls []Rect
	Doors []DoorSpec
	Props []PropSpec
}

// DoorSpec places a door: a rectangle avatars cannot enter while it is
// closed.
type DoorSpec struct {
	Name string
	Rect Rect
	Open bool
}

// PropSpec places a ball, a box or a lamp.
type PropSpec struct {
	Kind Kind
	Name string
	Pos  Vec
	On   bool
}

// World is a world in a heap: the handle a client (a renderer, a bot)
// uses to join avatars, read snapshots and keep the world's clock. Its
// rooms are read once, when it opens: they never change. A World is safe
// for concurrent use.
type World struct {
	h      *oss.Heap
	name   string
	clock  uuid.UUID
	lease  uint64
	rooms  []*room
	byID   map[uuid.UUID]*room
	byName map[string]*room
	// structural holds the IDs of the world object, its clock, rooms,
	// props, roster and chat shards: objects no roster may list.
	structural map[uuid.UUID]ObjectKind
	propRoom   map[uuid.UUID]*room // the room of each prop

	mu   sync.Mutex            // protects the fields up to tick
	mine map[uuid.UUID]*Avatar // avatars joined or resumed here, for Run's heartbeats

	// cellsOf caches cellOfWorld's answers (the rooms never change), and
	// enumerations counts the enumerations it made.
	cellsOf      map[uuid.UUID]bool
	enumerations atomic.Uint64

	tick    atomic.Uint64 // the latest clock tick this World read (sawTick)
	running atomic.Int32  // Runs under way, which keep tick current
	stats   [numOps]opCounters

	// beforeReapCommit, if not nil, runs before each reap transaction
	// commits: a test's way to commit something in between.
	beforeReapCommit func()
	// clockNow, if not nil, replaces time.Now for advance: a test's
	// clock.
	clockNow func() time.Time

	paceMu sync.Mutex
	pace   pace // advance's; see there
}

// room is a room as a World caches it.
type room struct {
	id  uuid.UUID
	obj roomObj
	obs obstacles
}

func worldRoot(name string) string { return rootPrefix + name }

func nameRoot(world, avatar string) string { return rootPrefix + world + "/avatar/" + avatar }

// Create creates the world spec describes in h, unless a world of that
// name exists already, and opens it. Nodes that race to create a world
// all open the same one, created once; spec is then ignored, and so not
// checked: a spec the world's creator took opens its world, whatever
// bounds were added since. A nil spec is refused with ErrInvalid; a spec
// Create would write, but that Open or a read would find damaged once
// written, with ErrInvalid, nothing written.
func Create(ctx context.Context, h *oss.Heap, spec *Spec) (*World, error) {
	if spec == nil {
		return nil, fmt.Errorf("%w: no spec of the world to create", ErrInvalid)
	}
	s := *spec
	if s.Name == "" {
		s.Name = "wissenheim"
	}
	if s.Lease == 0 {
		s.Lease = DefaultLease
	}
	err := h.Update(ctx, func(tx *oss.Tx) error {
		if _, err := tx.Root(worldRoot(s.Name)); err == nil {
			return nil // created already: only the root was read
		} else if !errors.Is(err, oss.ErrNotFound) {
			return err
		}
		// Checked only now that it is to be written: Create checked it
		// first, and refused a spec the world's creator had taken (a
		// prop's name over a bound added since) at every start of the
		// application, which calls Create with its spec.
		if err := s.validate(); err != nil {
			return err
		}
		return writeWorld(tx, &s)
	})
	if err != nil {
		return nil, fmt.Errorf("scene: create world %q: %w", s.Name, err)
	}
	return Open(ctx, h, s.Name)
}

// writeWorld writes the world s describes, its name's root included.
func writeWorld(tx *oss.Tx, s *Spec) error {
	clock, err := oss.New(tx, clockObj{})
	if err != nil {
		return err
	}
	w := worldObj{Name: s.Name, Clock: clock, Lease: max(1, uint64(s.Lease*TickRate/time.Second))}
	for _, rs := range s.Rooms {
		r, err := createRoom(tx, rs)
		if err != nil {
			return err
		}
		w.Rooms = append(w.Rooms, r)
	}
	ref, err := oss.New(tx, w)
	if err != nil {
		return err
	}
	return tx.SetRoot(worldRoot(s.Name), ref.ID)
}

func createRoom(tx *oss.Tx, rs RoomSpec) (oss.Ref[roomObj], error) {
	// The room's ID comes first so its props can point at it.
	id := uuid.Must(uuid.NewV7())
	ref := oss.RefTo[roomObj](id)
	r := roomObj{Name: rs.Name, Size: rs.Size, Walls: rs.Walls}
	for _, ps := range rs.Props {
		p, err := oss.New(tx, propObj{Kind: ps.Kind, Name: ps.Name, Room: ref, Pos: ps.Pos, On: ps.On})
		if err != nil {
			return ref, err
		}
		r.Props = append(r.Props, p)
	}
	for _, ds := range rs.Doors {
		p, err := oss.New(tx, propObj{Kind: Door, Name: ds.Name, Room: ref, Pos: ds.Rect.Center(), On: ds.Open})
		if err != nil {
			return ref, err
		}
		r.Props = append(r.Props, p)
		r.Doors = append(r.Doors, doorSpec{Rect: ds.Rect, Prop: p})
	}
	for range RosterShards {
		s, err := oss.New(tx, rosterObj{})
		if err != nil {
			return ref, err
		}
		r.Rosters = append(r.Rosters, s)
	}
	for range ChatShards {
		s, err := oss.New(tx, chatShard{})
		if err != nil {
			return ref, err
		}
		r.Chat = append(r.Chat, s)
	}
	return ref, ref.Put(tx, r)
}

func (s *Spec) validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(f, a...)) }
	if len(s.Rooms) == 0 {
		return bad("a world needs a room")
	}
	if s.Lease < time.Second/TickRate {
		return bad("lease %v shorter than a tick", s.Lease)
	}
	names := map[string]bool{}
	for _, r := range s.Rooms {
		if r.Name == "" || names[r.Name] {
			return bad("room name %q empty or repeated", r.Name)
		}
		names[r.Name] = true
		if why := r.validate(); why != "" {
			return bad("room %.40q: %s", r.Name, why)
		}
	}
	return nil
}

// validate returns what is wrong with a room's spec, or "": anything the
// check of a room or a prop would find damaged once written (Create
// wrote a wall of NaN, and the world it made could never be opened).
func (r *RoomSpec) validate() string {
	switch {
	case len(r.Name) > maxObjName:
		return fmt.Sprintf("name of %d bytes, at most %d", len(r.Name), maxObjName)
	case !finiteVec(r.Size) || r.Size.X < 2*AvatarRadius || r.Size.Y < 2*AvatarRadius || r.Size.X > 1e5 || r.Size.Y > 1e5:
		return fmt.Sprintf("size %v", r.Size)
	case len(r.Doors) > maxDoors:
		return fmt.Sprintf("%d doors, at most %d", len(r.Doors), maxDoors)
	case len(r.Walls) > maxRoomItems || len(r.Props)+len(r.Doors) > maxRoomItems:
		return fmt.Sprintf("%d walls and %d props, at most %d each", len(r.Walls), len(r.Props)+len(r.Doors), maxRoomItems)
	}
	for _, w := range r.Walls {
		if badWall(w) {
			return fmt.Sprintf("wall %v", w)
		}
	}
	for _, d := range r.Doors {
		if badDoor(d.Rect) || len(d.Name) > maxObjName {
			return fmt.Sprintf("door %.40q at %v", d.Name, d.Rect)
		}
	}
	for _, p := range r.Props {
		switch {
		case p.Kind != Ball && p.Kind != Box && p.Kind != Lamp:
			return fmt.Sprintf("prop %.40q of kind %v (doors go in Doors)", p.Name, p.Kind)
		case !finiteVec(p.Pos) || !inside(r.Size, p.Pos, 0):
			return fmt.Sprintf("prop %.40q outside the room", p.Name)
		case len(p.Name) > maxObjName:
			return fmt.Sprintf("prop name of %d bytes, at most %d", len(p.Name), maxObjName)
		}
	}
	return ""
}

// Open opens the world of that name in h. It returns an error matching
// ErrNoWorld if there is none, and a *Damage (ErrDamaged) naming the
// world object or a room if one holds something that is not a world or
// a room: neither can be rebuilt.
func Open(ctx context.Context, h *oss.Heap, name string) (*World, error) {
	if name == "" {
		name = "wissenheim"
	}
	var w *World
	err := h.View(ctx, func(tx *oss.Tx) error {
		w = &World{h: h, name: name, byID: map[uuid.UUID]*room{}, byName: map[string]*room{},
			mine: map[uuid.UUID]*Avatar{}, structural: map[uuid.UUID]ObjectKind{}, propRoom: map[uuid.UUID]*room{}}
		id, err := tx.Root(worldRoot(name))
		if errors.Is(err, oss.ErrNotFound) {
			return fmt.Errorf("%w: %q", ErrNoWorld, name)
		} else if err != nil {
			return err
		}
		wo, bad, err := get[worldObj](tx, id)
		if err != nil {
			return err
		} else if bad != nil {
			return errOf(WorldObject, id, bad)
		} else if why := wo.check(); why != "" {
			return damaged(WorldObject, id, "%s", why)
		}
		w.clock, w.lease = wo.Clock.ID, wo.Lease
		w.structural[id], w.structural[w.clock] = WorldObject, ClockObject
		for _, ref := range wo.Rooms {
			if err := w.openRoom(tx, ref.ID); err != nil {
				return err
			}
		}
		c, bad, err := get[clockObj](tx, w.clock)
		if err == nil && bad == nil {
			w.tick.Store(c.Tick) // a damaged clock is Run's to repair
		}
		return err
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("scene: open world %q: %w", name, err)
	}
	return w, nil
}

// openRoom reads the room id for Open, and refuses it if it is damaged.
func (w *World) openRoom(tx *oss.Tx, id uuid.UUID) error {
	ro, bad, err := get[roomObj](tx, id)
	switch {
	case err != nil:
		return fmt.Errorf("room %v: %w", id, err)
	case bad != nil:
		return errOf(RoomObject, id, bad)
	case w.structural[id] != "":
		return damaged(RoomObject, id, "named twice by the world, or also its %s", w.structural[id])
	case w.byName[ro.Name] != nil:
		return damaged(RoomObject, id, "its name %q is another room's", ro.Name)
	}
	if why := ro.check(); why != "" {
		return damaged(RoomObject, id, "%s", why)
	}
	r := &room{id: id, obj: ro, obs: newObstacles(&ro)}
	w.rooms = append(w.rooms, r)
	w.byID[r.id] = r
	w.byName[ro.Name] = r
	w.structural[id] = RoomObject
	for _, refs := range []struct {
		ids  []uuid.UUID
		kind ObjectKind
	}{{refIDs(ro.Props), PropObject}, {refIDs(ro.Rosters), RosterObject}, {refIDs(ro.Chat), ChatObject}} {
		for _, oid := range refs.ids {
			if k := w.structural[oid]; k != "" {
				return damaged(RoomObject, id, "names %v as a %s, which is also the world's %s", oid, refs.kind, k)
			}
			w.structural[oid] = refs.kind
		}
	}
	for _, p := range ro.Props {
		w.propRoom[p.ID] = r
	}
	return nil
}

func refIDs[T any](refs []oss.Ref[T]) []uuid.UUID {
	ids := make([]uuid.UUID, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	return ids
}

// Heap returns the heap the world lives in.
func (w *World) Heap() *oss.Heap { return w.h }

// Name returns the world's name.
func (w *World) Name() string { return w.name }

// Rooms returns the world's rooms, in the order of its Spec.
func (w *World) Rooms() []RoomInfo {
	rs := make([]RoomInfo, len(w.rooms))
	for i, r := range w.rooms {
		rs[i] = r.info()
	}
	return rs
}

// Room returns the room of that name, or an error matching ErrNoRoom.
func (w *World) Room(name string) (RoomInfo, error) {
	r, ok := w.byName[name]
	if !ok {
		return RoomInfo{}, fmt.Errorf("%w: %q", ErrNoRoom, name)
	}
	return r.info(), nil
}

func (r *room) info() RoomInfo {
	ri := RoomInfo{ID: r.id, Name: r.obj.Name, Size: r.obj.Size, Walls: r.obj.Walls}
	for _, d := range r.obj.Doors {
		ri.Doors = append(ri.Doors, DoorInfo{Prop: d.Prop.ID, Rect: d.Rect})
	}
	return ri
}

// now returns the world clock's tick: the one Run read last if it runs
// (at most a fifth of a tick ago), else the latest local snapshot's.
func (w *World) now(ctx context.Context) (uint64, error) {
	if w.running.Load() > 0 {
		return w.tick.Load(), nil
	}
	var t uint64
	err := w.h.View(ctx, func(tx *oss.Tx) error {
		var err error
		t, err = w.Tick(tx)
		return err
	}, nil)
	if err == nil {
		w.sawTick(t)
	}
	return t, err
}

// Run keeps the world going from this process until ctx ends: it
// advances the world clock TickRate times a second (any number of
// processes may run it; between them the clock still advances at that
// rate, and a commit that comes late adds the ticks that passed), removes avatars whose lease ran out, whoever joined them,
// and refreshes the leases of the avatars joined through this World that
// have been idle. A process that stops running it (it crashed, or lost
// its network) lets its avatars' leases run out, and another node's Run
// removes them: no avatar is left frozen in the world.
//
// Run returns nil when ctx ends, or ErrClosed (wrapped) when the heap
// closes; it rides out lost quorums and conflicts.
func (w *World) Run(ctx context.Context) error {
	const period = time.Second / TickRate
	if _, err := w.now(ctx); err != nil && !errors.Is(err, ErrDamaged) {
		return fmt.Errorf("scene: run: %w", err) // a damaged clock is advance's to repair
	}
	w.running.Add(1)
	defer w.running.Add(-1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The clock, the heartbeats and the reaping each run on a loop of
	// their own, so that none slowed down by a loaded cluster holds the
	// others back: a reap that keeps conflicting must not delay the
	// heartbeats that keep this World's live avatars from expiring.
	// Chores run every second, or four times a lease if that is shorter.
	choreEvery := min(time.Second, time.Duration(w.lease)*period/4)
	chores := []func() error{
		func() error { _, err := w.Reap(ctx); return err },
		func() error { return w.heartbeats(ctx) },
		func() error { _, err := w.Repair(ctx); return err },
	}
	done := make(chan error, len(chores))
	for i, f := range chores {
		every := choreEvery
		if i == len(chores)-1 {
			every *= repairEvery // it reads the whole heap
		}
		go func() { done <- w.every(ctx, every, f) }()
	}
	err := w.every(ctx, period/5, func() error { return w.advance(ctx, period) })
	cancel()
	for range chores {
		if cerr := <-done; err == nil {
			err = cerr
		}
	}
	return err
}

// every runs f every d until ctx ends (nil) or f fails with ErrClosed.
func (w *World) every(ctx context.Context, d time.Duration, f func() error) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := f()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, oss.ErrClosed):
			return fmt.Errorf("scene: run: %w", err)
		}
	}
}

// sawTick notes that the clock was at tick: the World's tick only moves
// on, so that a clock set back is found out (advance) and a stale read
// does not take it back.
func (w *World) sawTick(tick uint64) {
	for {
		old := w.tick.Load()
		if tick <= old || w.tick.CompareAndSwap(old, tick) {
			return
		}
	}
}

// maxCatchUp bounds the ticks one advance adds: after a longer pause the
// clock adds one tick and jumps to now rather than catching up.
const maxCatchUp = TickRate

// advance moves the clock on by the periods that have passed since the
// last tick, as this process's monotonic clock counts them from when
// this World first read that tick (or from the period it wrote it for):
// a tick a period, so the clock keeps time when commits are slow, up to
// maxCatchUp; after a longer pause it adds one tick. The process that
// ticked last stays ahead of the others, which first read its tick a
// little later, and keeps the clock; if it stops, another takes over a
// period after it read the last tick. No process reads another's wall
// clock (the clock's Wall is written for the record only): with wall
// clocks compared across processes, one a day ahead took every Wall of
// the others for a long pause and each of the others took its Wall for
// a clock set back, and between them the clock ticked at every call,
// five times a period, so that leases ran out five times too soon.
//
// It is a manual transaction that neither retries nor checks: if no tick
// is due it ends without a commit, and a conflict means another process
// ticked first. Either way the next call, a fifth of a period later,
// reads the clock again and refreshes the World's tick. (In an Update,
// "not due" was an error to check against a read index, and the check
// found the clock changed, ticked meanwhile by another node, every time
// a read index took longer than a period: on a loaded machine one call
// ran 50 times over 11 s, and the World's tick, which every interaction
// of its avatars writes into their leases, stood still meanwhile.)
func (w *World) advance(ctx context.Context, period time.Duration) error {
	clockNow := w.clockNow
	if clockNow == nil {
		clockNow = time.Now
	}
	tx, err := w.h.Begin(ctx, nil)
	if err != nil {
		return err
	}
	c, err := w.readClock(tx)
	if err != nil && !errors.Is(err, ErrDamaged) {
		tx.Rollback()
		return err
	}
	// Read after the clock: a tick another process wrote while the read
	// took its time is counted from when this World saw it, not from
	// before (a World that then took the clock over wrote a tick for each
	// period the read had taken, at once).
	now := clockNow()
	w.paceMu.Lock()
	p := w.pace
	w.paceMu.Unlock()
	var k int64
	switch seen := w.tick.Load(); {
	case err != nil || c.Tick < seen:
		// Garbage, or a clock set back (this World read a later
		// tick): written by other means than advance. It goes on
		// from the latest tick this World read.
		c, k, p.at = clockObj{Tick: seen}, 1, now.Add(-period)
	case c.Tick != p.tick || now.Before(p.at):
		// A tick this World has not counted from (another process
		// wrote it, or this World just opened), or a test's clock
		// set back: its period starts now.
		w.sawTick(c.Tick)
		w.setPace(pace{tick: c.Tick, at: now})
		return tx.Rollback()
	default:
		k = int64(now.Sub(p.at) / period)
	}
	w.sawTick(c.Tick)
	if k < 1 {
		return tx.Rollback() // not due
	}
	if k > maxCatchUp {
		// A pause (no process ran the clock, or this one stood
		// still): time stood still meanwhile.
		c.Tick++
		p.at = now
	} else {
		c.Tick += uint64(k)
		p.at = p.at.Add(time.Duration(k) * period)
	}
	c.Wall = max(0, now.UnixNano())
	tick := c.Tick
	tx.OnCommit(func() { w.sawTick(tick) })
	if err := oss.Put(tx, w.clock, c); err != nil {
		tx.Rollback()
		return err
	}
	err = tx.Commit()
	if err == nil {
		w.setPace(pace{tick: tick, at: p.at})
	}
	if err != nil && !errors.Is(err, oss.ErrConflict) {
		return err
	}
	return nil
}

// pace is the tick advance last read or wrote, and the instant, on this
// process's clock, from which it counts the periods to the next.
type pace struct {
	tick uint64
	at   time.Time
}

func (w *World) setPace(p pace) {
	w.paceMu.Lock()
	w.pace = p
	w.paceMu.Unlock()
}

// Reap removes every avatar of the world whose lease has run out, and
// returns how many it removed. Run calls it every second; a test or a
// tool may call it too.
func (w *World) Reap(ctx context.Context) (int, error) {
	batches, tick, err := w.expired(ctx)
	if err != nil {
		return 0, err
	}
	// Several nodes reap at once: each goes through the batches in its
	// own order, so they seldom collide, and a few at a time: batches of
	// different roster shards share nothing, and one slow commit does not
	// hold up the others.
	rand.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	var n atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, reapAtOnce)
	errs := make([]error, len(batches))
	for i, batch := range batches {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			removed, err := w.reap(ctx, tick, batch)
			n.Add(int64(removed))
			errs[i] = err
		})
	}
	wg.Wait()
	return int(n.Load()), errors.Join(errs...)
}

// expired returns the avatars whose lease is below the clock's tick, and
// the damaged ones (Snapshot.Damaged), in batches for reap, and that
// tick, as a View reads them. A batch holds avatars of one roster shard
// of one room only, at most reapBatch of them: a reap transaction reads
// the roster shards of the avatars it removes, and one that read every
// shard conflicted with every join and every other reap while it waited
// for its commit. On the loaded machine, where joins came every second
// and a commit took more than one, reaps committed 20 times in 80 s and
// left 28 of 40 avatars of crashed bots in the world a minute after
// their leases ran out.
func (w *World) expired(ctx context.Context) ([]*expiry, uint64, error) {
	var batches []*expiry
	var tick uint64 // the clock as the View read it
	err := w.h.View(ctx, func(tx *oss.Tx) error {
		c, err := w.readClock(tx)
		if err != nil {
			return err
		}
		tick = c.Tick
		for _, r := range w.rooms {
			for shard, ref := range r.obj.Rosters {
				s, err := readRoster(tx, ref.ID)
				if errors.Is(err, ErrDamaged) {
					continue // Repair's to rebuild
				} else if err != nil {
					return err
				}
				e := &expiry{r: r}
				seen := map[uuid.UUID]bool{}
				for _, a := range s.Avatars {
					av, dmg, why, err := w.rosterEntry(tx, r, shard, a.ID, seen)
					switch {
					case err != nil:
						return err
					case why != "" || dmg == nil && av.Lease >= c.Tick:
						continue
					case dmg != nil:
						e.damaged = append(e.damaged, w.remainsOf(tx, r, a.ID))
					}
					if e.ids = append(e.ids, a.ID); len(e.ids) == reapBatch {
						batches, e = append(batches, e), &expiry{r: r}
					}
				}
				if len(e.ids) > 0 {
					batches = append(batches, e)
				}
			}
		}
		return nil
	}, nil)
	return batches, tick, err
}

// expiry is a batch of avatars of one room for reap to remove.
type expiry struct {
	r       *room
	ids     []uuid.UUID
	damaged []*remains // of the damaged avatars among ids
}

// remains is what of a room still names a damaged avatar, which a View
// found: the cells that name it and the props it holds. Its own object
// no longer says where it stood or what it held.
type remains struct {
	id    uuid.UUID
	cells []uuid.UUID
	props []uuid.UUID
}

// remainsOf finds, in tx, the cells of room r and the props of r that
// name the avatar id. It reads every cell of the room: it is for damaged
// avatars only, which are rare.
func (w *World) remainsOf(tx *oss.Tx, r *room, id uuid.UUID) *remains {
	rem := &remains{id: id}
	nx, ny := int32(r.obj.Size.X/CellSize), int32(r.obj.Size.Y/CellSize)
	for y := int32(0); y <= ny; y++ {
		for x := int32(0); x <= nx; x++ {
			cid := cellID(r.id, cell{x, y})
			if c, bad, err := get[cellObj](tx, cid); err == nil && bad == nil && c.Avatar.ID == id {
				rem.cells = append(rem.cells, cid)
			}
		}
	}
	for _, ref := range r.obj.Props {
		if p, _, err := w.readProp(tx, ref.ID); err == nil && p.Holder.ID == id {
			rem.props = append(rem.props, ref.ID)
		}
	}
	return rem
}

// reapBatch is how many expired avatars one transaction of Reap removes
// at most; reapAtOnce how many of its transactions one Reap runs at once.
const (
	reapBatch  = 32
	reapAtOnce = 8
)

// reap removes, in one transaction, the avatars of batch whose lease is
// below tick, and returns how many it removed.
//
// Expiry is judged against tick, the clock as Reap's View read it, and
// the transaction does not read the clock: the clock only moves on, so a
// lease below that tick is below the clock's tick when the transaction
// commits. It reads the avatars again, so an interaction or a heartbeat
// that renewed one since still wins: the transaction sees the new lease,
// or conflicts with it. Reading the clock made every reap conflict with
// every tick, 20 a second: on a loaded cluster, where a commit takes
// longer than a tick, a reap ran 100 times over a minute, gave up, and
// left the avatars of crashed clients in the world.
//
// It is a manual transaction, tried once: if none of the batch is left
// to remove (removed by another node, or renewed), it ends without a
// commit, and a conflict (another node reaped some of them first, or one
// was renewed) leaves the rest to the next Reap, which reads afresh. In
// an Update, "nothing to remove" was an error to check against a read
// index, and a batch holding a renewed avatar that walks, written 20
// times a second, was found changed at every check, run again at once,
// and held up the reaping for half a minute.
func (w *World) reap(ctx context.Context, tick uint64, e *expiry) (int, error) {
	c := &w.stats[opReap]
	c.calls.Add(1)
	c.runs.Add(1)
	tx, err := w.h.Begin(ctx, nil)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, id := range e.ids {
		ok, err := w.reapOne(tx, e, tick, id)
		if err != nil {
			tx.Rollback()
			return 0, err
		}
		if ok {
			removed++
		}
	}
	if removed == 0 {
		return 0, tx.Rollback()
	}
	if w.beforeReapCommit != nil {
		w.beforeReapCommit()
	}
	switch err := tx.Commit(); {
	case errors.Is(err, oss.ErrConflict):
		return 0, nil
	case err != nil:
		return 0, err
	}
	c.commits.Add(1)
	return removed, nil
}

// reapOne removes, in tx, the avatar id of e if its lease is below tick
// or it is damaged, and reports whether it did.
func (w *World) reapOne(tx *oss.Tx, e *expiry, tick uint64, id uuid.UUID) (bool, error) {
	av, r, err := w.readAvatarObj(tx, id)
	ok := err == nil && r == e.r
	switch {
	case errors.Is(err, ErrGone):
		return false, nil // removed by another node meanwhile
	case err != nil && !errors.Is(err, ErrDamaged):
		return false, err
	case ok && av.Lease >= tick:
		return false, nil // renewed meanwhile
	case ok:
		return true, w.remove(tx, id, &av)
	}
	if validName(av.Name) != nil {
		av.Name = "" // no name of a live avatar: no root to unbind
	}
	i := slices.IndexFunc(e.damaged, func(r *remains) bool { return r.id == id })
	if i < 0 {
		return false, nil // damaged since the View: the next Reap finds it
	}
	return true, w.removeDamaged(tx, e.r, e.damaged[i], av.Name)
}

// removeDamaged deletes a damaged avatar of room r (Snapshot.Damaged)
// and everything that still points at it, as rem found it: the cells
// that name it, its hold on props, which stay where they were picked up,
// its roster entry, and name's root if name is the avatar's and names it.
func (w *World) removeDamaged(tx *oss.Tx, r *room, rem *remains, name string) error {
	for _, cid := range rem.cells {
		c, bad, err := get[cellObj](tx, cid)
		if errors.Is(err, oss.ErrNotFound) || err == nil && (bad != nil || c.Avatar.ID != rem.id) {
			continue
		}
		if err := tx.Delete(cid); err != nil {
			return err
		}
	}
	for _, pid := range rem.props {
		p, _, err := w.readProp(tx, pid)
		if errors.Is(err, ErrDamaged) || err == nil && p.Holder.ID != rem.id {
			continue
		} else if err != nil {
			return err
		}
		p.Holder, p.Roll = oss.Ref[avatarObj]{}, nil
		if err := oss.Put(tx, pid, p); err != nil {
			return err
		}
	}
	return w.unlist(tx, r, rem.id, name)
}

// heartbeats refreshes the leases of this World's avatars that have not
// written for half a lease.
func (w *World) heartbeats(ctx context.Context) error {
	now := w.tick.Load()
	w.mu.Lock()
	var idle []*Avatar
	for _, a := range w.mine {
		if a.lease.Load() < now+w.lease/2 {
			idle = append(idle, a)
		}
	}
	w.mu.Unlock()
	// A few at a time: one slow commit must not hold up the others.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make([]error, len(idle))
	for i, a := range idle {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := a.Heartbeat(ctx); err != nil && !errors.Is(err, ErrGone) {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// remove deletes an avatar and everything that points at it: its cells,
// its roster entry, its name, and its hold on a prop, which it drops
// where it stands.
func (w *World) remove(tx *oss.Tx, id uuid.UUID, av *avatarObj) error {
	r := w.byID[av.Room.ID]
	if r == nil {
		return fmt.Errorf("%w: avatar %v in unknown room %v", ErrNoRoom, id, av.Room.ID)
	}
	for _, c := range cellsOf(av.Pos) {
		if err := tx.Delete(cellID(r.id, c)); err != nil {
			return err
		}
	}
	if w.isProp(av.Holding.ID) == nil {
		p, _, err := w.readProp(tx, av.Holding.ID)
		switch {
		case err == nil && p.Holder.ID == id:
			p.Holder, p.Pos, p.Roll = oss.Ref[avatarObj]{}, av.Pos, nil
			if err := av.Holding.Put(tx, p); err != nil {
				return err
			}
		case err != nil && !errors.Is(err, ErrDamaged):
			return err
		}
	}
	return w.unlist(tx, r, id, av.Name)
}

// unlist deletes the avatar id of room r, its roster entry and name's
// root if that names it.
func (w *World) unlist(tx *oss.Tx, r *room, id uuid.UUID, name string) error {
	shard := r.obj.Rosters[shardOf(id, len(r.obj.Rosters))]
	s, err := readRoster(tx, shard.ID)
	switch {
	case err == nil:
		s.Avatars = slices.DeleteFunc(s.Avatars, func(a oss.Ref[avatarObj]) bool { return a.ID == id })
		if err := shard.Put(tx, s); err != nil {
			return err
		}
	case !errors.Is(err, ErrDamaged):
		return err
		// A damaged shard lists nothing: Repair rebuilds it from the
		// avatars that exist.
	}
	if name != "" {
		root := nameRoot(w.name, name)
		if bound, err := tx.Root(root); err == nil && bound == id {
			if err := tx.DeleteRoot(root); err != nil {
				return err
			}
		}
	}
	return tx.Delete(id)
}

// shardOf returns which of n shards an object ID belongs to.
func shardOf(id uuid.UUID, n int) int {
	h := fnv.New32a()
	h.Write(id[:])
	return int(h.Sum32() % uint32(n))
}

func validName(s string) error {
	if s == "" || len(s) > MaxName || !utf8.ValidString(s) {
		return fmt.Errorf("%w: name %q: 1 to %d bytes of UTF-8", ErrInvalid, s, MaxName)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: name %q holds %U", ErrInvalid, s, r)
		}
	}
	return nil
}

// spawnPoints returns where Join tries to place an avatar: a sequence
// seeded by the name, so that a retried Join tries the same spots.
func spawnPoints(r *room, name string, n int) []Vec {
	h := fnv.New64a()
	h.Write([]byte(name))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x5157))
	ps := make([]Vec, n)
	for i := range ps {
		ps[i] = Vec{
			AvatarRadius + rng.Float64()*(r.obj.Size.X-2*AvatarRadius),
			AvatarRadius + rng.Float64()*(r.obj.Size.Y-2*AvatarRadius),
		}
	}
	return ps
}
