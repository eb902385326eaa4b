package client

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// PlayerOptions say where and how a player joins.
type PlayerOptions struct {
	// Room is the room to join; if empty, the world's first.
	Room string
	// At places the avatar; if nil, the world picks a free spot.
	At *scene.Vec
	// Color is the avatar's colour; if zero, the world derives one from
	// the name.
	Color color.RGBA
	// OpTimeout bounds each interaction. If zero, 5 s.
	OpTimeout time.Duration
}

// Player is one player's avatar in a world, driven by a Controller: a
// sender goroutine makes at most one interaction a tick, and the window
// takes a Snapshot every frame from the local replica. Its methods are
// safe for concurrent use, except Snapshot, which belongs to the window's
// goroutine.
type Player struct {
	w    *scene.World
	name string
	room string
	o    PlayerOptions
	ctl  Controller
	// Latencies are the durations of the player's committed interactions.
	Latencies *Durations

	mu     sync.Mutex // protects following fields
	a      *scene.Avatar
	note   string
	noteAt time.Time

	latest  atomic.Pointer[reading] // the latest snapshot the reader took
	readErr atomic.Pointer[error]   // why the latest read failed, nil after a success
	ops     atomic.Uint64           // committed interactions
	errs    atomic.Uint64           // interactions that failed for other reasons than the world's rules

	ip     Interpolator // the window's
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Join adds a player named name to the world, waiting while an avatar of
// that name left by an earlier run is alive (its lease runs out within
// the world's lease), until ctx ends. It starts the player's sender.
func Join(ctx context.Context, w *scene.World, name string, o *PlayerOptions) (*Player, error) {
	p := &Player{w: w, name: name, Latencies: NewDurations(512)}
	if o != nil {
		p.o = *o
	}
	if p.o.OpTimeout == 0 {
		p.o.OpTimeout = 5 * time.Second
	}
	p.room = p.o.Room
	if p.room == "" {
		p.room = w.Rooms()[0].Name
	}
	a, err := p.join(ctx)
	if err != nil {
		return nil, err
	}
	p.a = a
	p.ip.Me = a.ID()
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.read(ctx)
	p.wg.Go(func() { p.reader(runCtx) })
	p.wg.Go(func() { p.send(runCtx) })
	return p, nil
}

func (p *Player) join(ctx context.Context) (*scene.Avatar, error) {
	for {
		a, err := p.w.Join(ctx, p.name, &scene.JoinOptions{Room: p.room, At: p.o.At, Color: p.o.Color})
		if !errors.Is(err, scene.ErrNameTaken) {
			return a, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (an avatar of that name is in the world: another client's, or one an earlier run left, which goes when its lease runs out)", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Controller returns the controller the window hands its keys to.
func (p *Player) Controller() *Controller { return &p.ctl }

// ID returns the player's avatar's ID.
func (p *Player) ID() uuid.UUID { return p.avatar().ID() }

// Name returns the player's name.
func (p *Player) Name() string { return p.name }

// Room returns the name of the player's room.
func (p *Player) Room() string { return p.room }

// World returns the player's world.
func (p *Player) World() *scene.World { return p.w }

func (p *Player) avatar() *scene.Avatar {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.a
}

// Ops returns how many interactions of the player committed, and how many
// failed for reasons other than the world's rules (no quorum, time-outs).
func (p *Player) Ops() (committed, failed uint64) { return p.ops.Load(), p.errs.Load() }

// Notice returns what the player should read about the latest
// interaction that went wrong, for a few seconds after it.
func (p *Player) Notice(now time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.noteAt) > 3*time.Second {
		return ""
	}
	return p.note
}

// reading is a snapshot and when it was taken.
type reading struct {
	s  *scene.Snapshot
	at time.Time
}

// ReadRate is how often the reader goroutine looks for a new state of the
// local replica: as often as a window draws.
const ReadRate = 60

// reader is the reader goroutine: ReadRate times a second, it takes a
// snapshot of the room if the local replica has applied a commit since
// the last. A room of a thousand avatars takes a few milliseconds to
// read; here they are not the window's.
func (p *Player) reader(ctx context.Context) {
	t := time.NewTicker(time.Second / ReadRate)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.read(ctx)
		}
	}
}

func (p *Player) read(ctx context.Context) {
	// Only the avatars written since the latest snapshot are decoded.
	var prev *scene.Snapshot
	if r := p.latest.Load(); r != nil && r.s.Room.Name == p.room {
		prev = r.s
	}
	var s *scene.Snapshot
	err := p.w.Heap().View(ctx, func(tx *oss.Tx) error {
		if prev != nil && tx.Index() == prev.Index {
			return nil // nothing applied since
		}
		var err error
		s, err = p.w.ReadSince(tx, p.room, prev)
		return err
	}, nil)
	if err == nil && s == nil {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			p.readErr.Store(&err)
		}
		return
	}
	p.readErr.Store(nil)
	p.latest.Store(&reading{s, time.Now()})
}

// Latest returns the latest snapshot of the player's room that the reader
// took, as it was read, and why the latest read failed, if it did.
func (p *Player) Latest() (*scene.Snapshot, error) {
	var err error
	if e := p.readErr.Load(); e != nil {
		err = *e
	}
	if r := p.latest.Load(); r != nil {
		return r.s, err
	}
	return nil, err
}

// Frame returns the latest snapshot of the player's room with every
// avatar and rolling ball placed for a frame drawn at now (see
// Interpolator). It reads nothing from the heap: the reader goroutine
// keeps the snapshot fresh. The snapshot returned is reused by the next
// call, which must come from the same goroutine.
func (p *Player) Frame(now time.Time) *scene.Snapshot {
	if r := p.latest.Load(); r != nil {
		p.ip.Me = p.ID()
		p.ip.Observe(r.s, r.at)
	}
	return p.ip.Frame(now)
}

// Me finds the player's avatar in a snapshot, or nil.
func (p *Player) Me(s *scene.Snapshot) *scene.AvatarState {
	return Find(s, p.ID())
}

// Find returns the avatar of a snapshot with the given ID, or nil.
func Find(s *scene.Snapshot, id uuid.UUID) *scene.AvatarState {
	if s == nil {
		return nil
	}
	i, ok := slices.BinarySearchFunc(s.Avatars, id, func(a scene.AvatarState, id uuid.UUID) int {
		return slices.Compare(a.ID[:], id[:])
	})
	if !ok {
		return nil
	}
	return &s.Avatars[i]
}

// send is the sender goroutine: each tick, the controller's intent, made
// as one transaction.
func (p *Player) send(ctx context.Context) {
	t := time.NewTicker(tickPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, _ := p.Latest()
		it := p.ctl.Next(p.Me(s), s)
		if it.Op == None {
			if s != nil && p.Me(s) == nil && p.gone() {
				p.rejoin(ctx)
			}
			continue
		}
		start := time.Now()
		err := p.do(ctx, it)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			p.ops.Add(1)
			p.Latencies.Add(time.Since(start))
		}
		if errors.Is(err, scene.ErrGone) {
			p.rejoin(ctx)
			continue
		}
		note := p.ctl.Done(it, err)
		if err != nil && !rules(err) {
			p.errs.Add(1)
		}
		if note != "" {
			p.mu.Lock()
			p.note, p.noteAt = note, time.Now()
			p.mu.Unlock()
		}
	}
}

// gone reports whether the local replica no longer holds the player's
// avatar: a snapshot without it may only be older than the avatar.
func (p *Player) gone() bool {
	err := p.w.Heap().View(context.Background(), func(tx *oss.Tx) error {
		_, err := p.w.Avatar(tx, p.ID())
		return err
	}, nil)
	return errors.Is(err, scene.ErrGone)
}

// rejoin joins the player again after its avatar was removed: its lease
// ran out while this process was cut off or paused, and some node reaped
// it. A player who stands still is noticed as one who walks is, so the
// others see the player again without a key pressed.
func (p *Player) rejoin(ctx context.Context) {
	a, err := p.join(ctx)
	p.mu.Lock()
	p.note, p.noteAt = "your avatar was removed; joined again", time.Now()
	if err == nil {
		p.a = a
	}
	p.mu.Unlock()
}

// rules reports whether err is a refusal by the world's rules, not a
// failure of the cluster.
func rules(err error) bool {
	for _, e := range []error{scene.ErrBlocked, scene.ErrTooFar, scene.ErrHeld, scene.ErrHandsFull,
		scene.ErrEmptyHands, scene.ErrCannot, scene.ErrInvalid} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (p *Player) do(ctx context.Context, it Intent) error {
	ctx, cancel := context.WithTimeout(ctx, p.o.OpTimeout)
	defer cancel()
	a := p.avatar()
	switch it.Op {
	case Move:
		return a.Move(ctx, it.D)
	case PickUp:
		return a.PickUp(ctx, it.Prop)
	case Drop:
		return a.Drop(ctx)
	case Kick:
		return a.Kick(ctx, it.Prop, it.D)
	case Toggle:
		return a.Toggle(ctx, it.Prop)
	case Say:
		return a.Say(ctx, it.Text)
	}
	return nil
}

// Close stops the sender and takes the avatar out of the world (ctx
// bounds that transaction). A player whose cluster is gone leaves its
// avatar behind, to be removed when its lease runs out.
func (p *Player) Close(ctx context.Context) error {
	p.cancel()
	p.wg.Wait()
	err := p.avatar().Leave(ctx)
	if errors.Is(err, scene.ErrGone) || errors.Is(err, oss.ErrClosed) {
		err = nil
	}
	return err
}
