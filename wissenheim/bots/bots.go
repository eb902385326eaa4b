// Package bots drives headless avatars in a Wissenheim world, for load,
// tests and benchmarks: seeded bots that wander, follow each other, chase
// and kick balls, fight over the same prop, open and close doors and chat.
// Many bots share one node and one scene.World; each bot is a goroutine
// that steps at a fixed rate (20 Hz by default), reading its own avatar
// and its target from the local replica (a View: no network) every few
// steps and making at most one interaction, one transaction, per step.
//
//	w, _ := scene.Open(ctx, h, "wissenheim")
//	go w.Run(ctx) // the clock, leases and the removal of dead avatars
//	s, _ := bots.Start(ctx, w, &bots.Config{N: 100, Prefix: "a", Seed: 1})
//	defer s.Close(ctx)
//
// Bot names are Prefix-bot-N: swarms on different nodes of one world need
// different prefixes.
package bots

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// Config configures a swarm of bots.
type Config struct {
	// N is the number of bots.
	N int
	// Prefix starts every bot's name. If empty, "bot".
	Prefix string
	// Seed seeds the bots' choices; the same seed gives the same
	// intentions (what happens still depends on the others).
	Seed uint64
	// Rate is how many steps a bot takes a second. If zero, 20; a
	// negative rate is refused with scene.ErrInvalid.
	Rate float64
	// Room is the room the bots join. If empty, the world's first.
	Room string
	// Speed is how fast a bot walks, in metres per second. If zero, 1.5;
	// a negative speed is refused with scene.ErrInvalid.
	Speed float64
	// Resume takes back avatars of an earlier swarm (Swarm.Sessions) in
	// place of joining new ones for the first bots: what a client does
	// after its node restarted.
	Resume []Session
	// OnMove, if not nil, is called after each committed move with the
	// avatar's move count after it (AvatarState.Moves), when the move
	// began and how long its transaction took: what a benchmark needs to
	// follow moves to other nodes.
	OnMove func(avatar uuid.UUID, moves uint64, start time.Time, took time.Duration)
}

// Session is what Resume needs to take an avatar back.
type Session struct {
	Name        string
	ID, Session uuid.UUID
}

// Stats counts what a swarm's bots did.
type Stats struct {
	Steps uint64
	// Moves counts committed moves; Blocked the moves refused because
	// the way was taken (ErrBlocked, ErrTooFar).
	Moves, Blocked uint64
	// Actions counts committed interactions other than moves: pick-ups,
	// drops, gives, kicks, toggles, messages; Refused those refused by
	// the world's rules (a held prop, full hands, …).
	Actions, Refused uint64
	// Kicks, PickUps, Lost (grabs lost to another avatar: ErrHeld), Says
	// and Toggles break Actions and Refused down.
	Kicks, PickUps, Lost, Says, Toggles uint64
	// Rejoins counts bots whose avatar was removed and that joined again.
	Rejoins uint64
	// Errors counts failures that are not the world's rules: no quorum,
	// unknown outcomes, timeouts.
	Errors uint64
	// LastError is the latest of them.
	LastError string
}

// Swarm is a set of running bots.
type Swarm struct {
	w      *scene.World
	cfg    Config
	room   string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	bots   []*bot

	mu      sync.Mutex // protects following fields
	lastErr string
	view    *scene.Snapshot // shared, refreshed each second: targets to pick

	steps, moves, blocked, actions, refused      atomic.Uint64
	kicks, pickUps, lost, says, toggles, rejoins atomic.Uint64
	errs                                         atomic.Uint64
}

type mode uint8

const (
	wander mode = iota
	follow
	chase
	fight
	toggle
	numModes
)

// weights of the modes a bot picks, out of 100.
var weights = [numModes]int{wander: 25, follow: 20, chase: 30, fight: 12, toggle: 13}

type bot struct {
	s    *Swarm
	name string
	rng  *rand.Rand

	mu sync.Mutex // protects a, replaced when the bot joins again
	a  *scene.Avatar

	mode    mode
	steps   int       // left in this mode
	heading float64   // wander, and a detour's
	detour  int       // steps left going round an obstacle
	target  uuid.UUID // follow, chase, fight, toggle
	hold    int       // steps left to hold what it holds

	// What the bot last read of its avatar and its target, and the steps
	// until it reads them again (see readEvery). Between reads it
	// follows its own moves in me: only they move its avatar and count
	// its moves.
	me        scene.AvatarState
	leader    scene.AvatarState // follow's target
	prop      scene.PropState   // chase's, fight's and toggle's
	targetErr error
	unread    int
}

// readEvery is how often, in steps, a bot reads its avatar and its target
// from the local replica: five times a second at 20 steps a second, and
// on the step after anything but a move. Reading them every step was a
// tenth of a benchmark's CPU, spent on the load rather than on the world:
// a player's client draws from the snapshots it takes for its frames and
// reads nothing to make a move.
const readEvery = 4

// withDefaults fills in c's defaults and checks its rate and speed.
func withDefaults(c Config) (Config, error) {
	if c.Prefix == "" {
		c.Prefix = "bot"
	}
	if c.Rate == 0 {
		c.Rate = 20
	}
	if c.Speed == 0 {
		c.Speed = 1.5
	}
	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) || !(c.Speed > 0) || math.IsInf(c.Speed, 0) {
		return c, fmt.Errorf("%w: bots: %g steps/s at %g m/s: want positive numbers", scene.ErrInvalid, c.Rate, c.Speed)
	}
	if c.Speed/c.Rate > scene.MaxStep {
		return c, fmt.Errorf("%w: bots: speed %g m/s at %g steps/s is more than a step", scene.ErrInvalid, c.Speed, c.Rate)
	}
	return c, nil
}

// Start joins cfg.N bots to the world (a few at a time) and starts them.
// It returns when all have joined, or the first error.
func Start(ctx context.Context, w *scene.World, cfg *Config) (*Swarm, error) {
	c, err := withDefaults(*cfg)
	if err != nil {
		return nil, err
	}
	room := c.Room
	if room == "" {
		room = w.Rooms()[0].Name
	}
	if _, err := w.Room(room); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Swarm{w: w, cfg: c, room: room, cancel: cancel}
	for i := range c.N {
		s.bots = append(s.bots, &bot{s: s, name: fmt.Sprintf("%s-bot-%d", c.Prefix, i+1), rng: rand.New(rand.NewPCG(c.Seed, uint64(i)))})
	}
	if err := s.refresh(ctx); err != nil {
		cancel()
		return nil, err
	}
	// Join a few at a time: all at once they would mostly conflict on the
	// room's roster shards.
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var joinErr error
	var once sync.Once
	for i, b := range s.bots {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var err error
			if i < len(c.Resume) && c.Resume[i].Name == b.name {
				b.a, err = w.Resume(ctx, c.Resume[i].ID, c.Resume[i].Session)
				if errors.Is(err, scene.ErrGone) {
					b.a, err = s.join(ctx, b.name)
				}
			} else {
				b.a, err = s.join(ctx, b.name)
			}
			if err != nil {
				once.Do(func() { joinErr = err })
			}
		})
	}
	wg.Wait()
	if joinErr != nil {
		cancel()
		return nil, fmt.Errorf("bots: %w", joinErr)
	}
	period := time.Duration(float64(time.Second) / c.Rate)
	for _, b := range s.bots {
		s.wg.Go(func() { b.run(runCtx, period) })
	}
	s.wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if err := s.refresh(runCtx); err != nil && runCtx.Err() == nil {
					s.fail(err)
				}
			}
		}
	})
	return s, nil
}

// join joins a bot, waiting out the lease of an avatar of the same name
// left by an earlier run that did not leave. A join that found no leader
// in reach (ErrNoQuorum), or whose outcome is unknown, is tried again
// until ctx ends: if the unknown one did create the avatar, nothing steps
// it, so its lease runs out, it is reaped, and the name is free again.
func (s *Swarm) join(ctx context.Context, name string) (*scene.Avatar, error) {
	for {
		a, err := s.w.Join(ctx, name, &scene.JoinOptions{Room: s.room})
		if !errors.Is(err, scene.ErrNameTaken) && !errors.Is(err, oss.ErrNoQuorum) && !errors.Is(err, oss.ErrCommitUnknown) {
			return a, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// refresh takes the snapshot bots pick their targets from.
func (s *Swarm) refresh(ctx context.Context) error {
	v, err := s.w.Snapshot(ctx, s.room)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.view = v
	s.mu.Unlock()
	return nil
}

func (s *Swarm) shared() *scene.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view
}

func (s *Swarm) fail(err error) {
	s.errs.Add(1)
	s.mu.Lock()
	s.lastErr = err.Error()
	s.mu.Unlock()
}

// Avatars returns the IDs of the bots' avatars.
func (s *Swarm) Avatars() []uuid.UUID {
	ids := make([]uuid.UUID, len(s.bots))
	for i, b := range s.bots {
		ids[i] = b.avatar().ID()
	}
	return ids
}

// Sessions returns what Config.Resume needs to take the bots' avatars
// back in another swarm.
func (s *Swarm) Sessions() []Session {
	ss := make([]Session, len(s.bots))
	for i, b := range s.bots {
		a := b.avatar()
		ss[i] = Session{Name: a.Name(), ID: a.ID(), Session: a.Session()}
	}
	return ss
}

// Stats returns what the bots have done so far.
func (s *Swarm) Stats() Stats {
	s.mu.Lock()
	last := s.lastErr
	s.mu.Unlock()
	return Stats{
		Steps: s.steps.Load(), Moves: s.moves.Load(), Blocked: s.blocked.Load(),
		Actions: s.actions.Load(), Refused: s.refused.Load(),
		Kicks: s.kicks.Load(), PickUps: s.pickUps.Load(), Lost: s.lost.Load(), Says: s.says.Load(), Toggles: s.toggles.Load(),
		Rejoins: s.rejoins.Load(), Errors: s.errs.Load(), LastError: last,
	}
}

// Stop stops the bots and leaves their avatars in the world, as a client
// that crashed would: their leases run out and a node running the world
// removes them, unless a swarm resumes them first.
func (s *Swarm) Stop() {
	s.cancel()
	s.wg.Wait()
	for _, b := range s.bots {
		s.w.Forget(b.avatar())
	}
}

// Close stops the bots and removes their avatars from the world.
func (s *Swarm) Close(ctx context.Context) error {
	s.cancel()
	s.wg.Wait()
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, b := range s.bots {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := b.avatar().Leave(ctx); err != nil && !errors.Is(err, scene.ErrGone) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (b *bot) avatar() *scene.Avatar {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.a
}

func (b *bot) run(ctx context.Context, period time.Duration) {
	// Start at a random phase, so the swarm's steps spread over a period.
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Duration(b.rng.Int64N(int64(period)))):
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if err := b.step(ctx); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// step takes one step; it returns an error only when the bot must stop.
func (b *bot) step(ctx context.Context) error {
	s := b.s
	s.steps.Add(1)
	a := b.avatar()
	if b.unread <= 0 {
		if err := b.read(ctx, a); err != nil {
			return b.handle(ctx, err, nil)
		}
		b.unread = readEvery
	}
	b.unread--
	me, target, prop := b.me, b.leader, b.prop
	if b.targetErr != nil || b.steps <= 0 {
		b.pick(me)
		return nil
	}
	b.steps--

	// Chat now and then: about once every ten seconds.
	if b.rng.Float64() < 1/(s.cfg.Rate*10) {
		err := a.Say(ctx, phrases[b.rng.IntN(len(phrases))])
		return b.handle(ctx, err, &s.says)
	}
	// Let go of what it holds when its time is up.
	if me.Holding != uuid.Nil {
		if b.hold--; b.hold <= 0 {
			return b.handle(ctx, a.Drop(ctx), nil)
		}
	}
	if b.detour > 0 {
		b.detour--
		return b.walk(ctx, me, Vec(math.Cos(b.heading), math.Sin(b.heading)))
	}
	return b.act(ctx, a, me, target, prop)
}

// read reads the bot's avatar a into me and, by its mode, its target
// into leader or prop, with the target's error in targetErr.
func (b *bot) read(ctx context.Context, a *scene.Avatar) error {
	s := b.s
	return s.w.Heap().View(ctx, func(tx *oss.Tx) error {
		var err error
		if b.me, err = s.w.Avatar(tx, a.ID()); err != nil {
			return err
		}
		switch b.mode {
		case follow:
			b.leader, b.targetErr = s.w.Avatar(tx, b.target)
		case chase, fight, toggle:
			b.prop, b.targetErr = s.w.Prop(tx, b.target)
		}
		return nil
	}, nil)
}

// act takes the step of the bot's mode, from me: it wanders, follows the
// avatar target (giving it what it holds now and then), or goes for the
// prop to kick it, pick it up or toggle it.
func (b *bot) act(ctx context.Context, a *scene.Avatar, me, target scene.AvatarState, prop scene.PropState) error {
	s := b.s
	switch b.mode {
	case wander:
		if b.rng.Float64() < 0.05 {
			b.heading += b.rng.NormFloat64()
		}
		return b.walk(ctx, me, Vec(math.Cos(b.heading), math.Sin(b.heading)))
	case follow:
		d := target.Pos.Sub(me.Pos)
		if d.Len() < 1.2 {
			if me.Holding != uuid.Nil && target.Holding == uuid.Nil && b.rng.Float64() < 0.3 {
				return b.handle(ctx, a.Give(ctx, target.ID), nil)
			}
			return nil // close enough: stand by
		}
		return b.walk(ctx, me, d)
	case chase, fight:
		d := prop.Pos.Sub(me.Pos)
		if prop.Holder == me.ID {
			b.pick(me)
			return nil
		}
		if d.Len() > scene.Reach*0.9 {
			return b.walk(ctx, me, d)
		}
		if b.mode == chase && (me.Holding != uuid.Nil || b.rng.Float64() < 0.7) {
			v := Vec(math.Cos(b.rng.Float64()*2*math.Pi), math.Sin(b.rng.Float64()*2*math.Pi)).Scale(3 + b.rng.Float64()*5)
			return b.handle(ctx, a.Kick(ctx, prop.ID, v), &s.kicks)
		}
		if me.Holding != uuid.Nil {
			return b.handle(ctx, a.Drop(ctx), nil)
		}
		b.hold = 20 + b.rng.IntN(80)
		return b.handle(ctx, a.PickUp(ctx, prop.ID), &s.pickUps)
	case toggle:
		d := prop.Pos.Sub(me.Pos)
		if d.Len() > scene.Reach*0.9 {
			return b.walk(ctx, me, d)
		}
		b.steps = 0
		return b.handle(ctx, a.Toggle(ctx, prop.ID), &s.toggles)
	}
	return nil
}

// Vec is shorthand for a scene.Vec.
func Vec(x, y float64) scene.Vec { return scene.Vec{X: x, Y: y} }

// walk steps along d (at the swarm's speed); blocked, it turns at random.
func (b *bot) walk(ctx context.Context, me scene.AvatarState, d scene.Vec) error {
	s := b.s
	l := d.Len()
	if l == 0 {
		return nil
	}
	step := d.Scale(min(l, s.cfg.Speed/s.cfg.Rate) / l)
	start := time.Now()
	a := b.avatar()
	err := a.Move(ctx, step)
	if err == nil {
		took := time.Since(start)
		s.moves.Add(1)
		// As the move did: only its own moves move the avatar and count
		// its moves, and the bot read it after its last other
		// interaction.
		b.me.Pos, b.me.Moves = me.Pos.Add(step), me.Moves+1
		if s.cfg.OnMove != nil {
			s.cfg.OnMove(a.ID(), me.Moves+1, start, took)
		}
		return nil
	}
	if errors.Is(err, scene.ErrBlocked) || errors.Is(err, scene.ErrTooFar) {
		s.blocked.Add(1)
		// Go round: walk off to one side for a while, then head for the
		// target again.
		side := math.Pi / 2
		if b.rng.IntN(2) == 0 {
			side = -side
		}
		b.heading = math.Atan2(d.Y, d.X) + side + b.rng.NormFloat64()*0.3
		b.detour = 5 + b.rng.IntN(25)
		return nil
	}
	return b.handle(ctx, err, nil)
}

// handle counts the outcome of an interaction other than a move. It
// returns an error only when the bot must stop.
func (b *bot) handle(ctx context.Context, err error, kind *atomic.Uint64) error {
	s := b.s
	b.unread = 0 // whatever happened, the next step reads what it did
	switch {
	case err == nil:
		s.actions.Add(1)
		if kind != nil {
			kind.Add(1)
		}
	case ctx.Err() != nil || errors.Is(err, oss.ErrClosed):
		return err
	case errors.Is(err, scene.ErrGone):
		// Removed (its lease ran out while its node was cut off, say):
		// join again.
		a, err := s.join(ctx, b.name)
		if err != nil {
			s.fail(err)
			return nil
		}
		b.mu.Lock()
		b.a = a
		b.mu.Unlock()
		s.rejoins.Add(1)
	case errors.Is(err, scene.ErrHeld):
		s.refused.Add(1)
		s.lost.Add(1)
		b.mode, b.steps = wander, 10+b.rng.IntN(40)
	case errors.Is(err, scene.ErrBlocked), errors.Is(err, scene.ErrTooFar), errors.Is(err, scene.ErrHandsFull),
		errors.Is(err, scene.ErrEmptyHands), errors.Is(err, scene.ErrCannot), errors.Is(err, scene.ErrDamaged):
		// A damaged prop or shard (scene.Damage): another target, until
		// the world's Run has mended it.
		s.refused.Add(1)
		b.steps = 0
	default:
		s.fail(err)
	}
	return nil
}

// pick chooses the bot's next mode and target from the shared snapshot.
func (b *bot) pick(me scene.AvatarState) {
	b.unread, b.targetErr = 0, nil // the next step reads the new target
	v := b.s.shared()
	n := b.rng.IntN(100)
	b.mode = wander
	for m, w := range weights {
		if n < w {
			b.mode = mode(m)
			break
		}
		n -= w
	}
	b.steps = 40 + b.rng.IntN(160)
	if b.mode != wander && b.mode != follow {
		b.steps = 300 // time to get there
	}
	b.heading = b.rng.Float64() * 2 * math.Pi
	var cands []uuid.UUID
	switch b.mode {
	case follow:
		for _, a := range v.Avatars {
			if a.ID != me.ID && a.Pos.Sub(me.Pos).Len() < 15 {
				cands = append(cands, a.ID)
			}
		}
	case chase:
		cands = b.nearest(v, me.Pos, func(p scene.PropState) bool { return p.Kind == scene.Ball })
	case fight:
		// Every fighter of every swarm goes for the same box.
		for _, p := range v.Props {
			if p.Kind == scene.Box {
				cands = []uuid.UUID{p.ID}
				break
			}
		}
	case toggle:
		cands = b.nearest(v, me.Pos, func(p scene.PropState) bool { return p.Kind == scene.Door || p.Kind == scene.Lamp })
	}
	if b.mode != wander {
		if len(cands) == 0 {
			b.mode = wander
			return
		}
		b.target = cands[b.rng.IntN(len(cands))]
	}
}

// nearest returns up to two of the props that match, nearest first.
func (b *bot) nearest(v *scene.Snapshot, at scene.Vec, ok func(scene.PropState) bool) []uuid.UUID {
	var best []scene.PropState
	for _, p := range v.Props {
		if !ok(p) {
			continue
		}
		best = append(best, p)
		for i := len(best) - 1; i > 0 && best[i].Pos.Sub(at).Len() < best[i-1].Pos.Sub(at).Len(); i-- {
			best[i], best[i-1] = best[i-1], best[i]
		}
		if len(best) > 2 {
			best = best[:2]
		}
	}
	ids := make([]uuid.UUID, len(best))
	for i, p := range best {
		ids[i] = p.ID
	}
	return ids
}

var phrases = []string{
	"hello", "over here!", "mine!", "pass the ball", "nice kick", "who closed the door?",
	"anyone seen the box?", "lights on, please", "brb", "gg", "follow me", "wait up",
}
