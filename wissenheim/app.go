package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/wissenheim/bots"
	"github.com/objectsharing/oss/wissenheim/client"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// config is what the flags say.
type config struct {
	join    []string // an existing cluster's addresses; none starts a local one
	certs   string
	name    string
	listen  string
	heap    string
	world   string
	room    string
	nodes   int
	dataDir string
	port    int
	bots    int
	botRate float64
	seed    uint64
	at      *scene.Vec // where the player joins; nil: the world picks
	logger  *slog.Logger
	out     io.Writer // where the join command and other news go
}

// app is the process: the local cluster it started, if any, its bots and
// the window's player, each running until close.
type app struct {
	cfg    config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	local  *local
	swarms []*bots.Swarm
	botLat *client.Durations // commit times of the bots' moves

	mu     sync.Mutex // protects following fields
	node   *oss.Node  // the player's node
	player *client.Player
	status string // what the window says while it has no player
	failed error  // why the player's node could not start or join
	fatal  error  // what ended the start for good; set once, before dead closes

	dead     chan struct{} // closed when the start failed for good
	deadOnce sync.Once
}

func newApp(cfg config) *app {
	ctx, cancel := context.WithCancel(context.Background())
	return &app{cfg: cfg, ctx: ctx, cancel: cancel, botLat: client.NewDurations(2048), dead: make(chan struct{})}
}

// die records what ended the start for good, and closes a.dead: the
// process then ends, saying why, instead of waiting for a retry that
// cannot help.
func (a *app) die(err error) {
	a.deadOnce.Do(func() {
		a.mu.Lock()
		a.fatal = err
		a.mu.Unlock()
		close(a.dead)
	})
}

// Fatal returns what ended the start for good, or nil.
func (a *app) Fatal() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatal
}

// permanent returns, for an error no retry can mend, the error that says
// which flag to change; nil for any other error. local says whether err
// came from starting the local cluster's nodes (whose addresses come from
// --port and data from --data-dir) rather than the player's node (whose
// address comes from --listen).
func (c *config) permanent(err error, local bool) error {
	addrTaken := errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EADDRNOTAVAIL)
	switch {
	case local && addrTaken && c.port != 0:
		return fmt.Errorf("the local cluster cannot listen on 127.0.0.1 ports %d to %d (--port): %w\n"+
			"another process holds one (a wissenheim or ossd started with the same --port?): stop it, or give another --port",
			c.port, c.port+c.nodes-1, err)
	case local && addrTaken:
		return fmt.Errorf("the local cluster cannot listen on loopback: %w", err)
	case local && c.dataDir != "" && errors.Is(err, syscall.EWOULDBLOCK):
		return fmt.Errorf("the local cluster's data directory %s (--data-dir) is in use: %w\n"+
			"another process holds it (a wissenheim started with the same --data-dir?): stop it, or give another --data-dir", c.dataDir, err)
	case errors.Is(err, scene.ErrNoRoom):
		return c.noRoom(err)
	case errors.Is(err, scene.ErrInvalid):
		// No retry mends it: the world refuses what the flags ask for.
		return fmt.Errorf("the world refuses the player: %w", err)
	case !local && addrTaken:
		return fmt.Errorf("the player's node cannot listen on %s (--listen): %w\n"+
			"give another --listen (127.0.0.1:0 picks a free port)", c.listen, err)
	}
	return nil
}

// noRoom says that the world has no room of --room's name: rooms are
// made with the world, so no retry finds it.
func (c *config) noRoom(err error) error {
	return fmt.Errorf("the world has no room %q (--room; without it, the world's first): %w", c.room, err)
}

func (a *app) setStatus(s string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status, a.failed = s, err
}

// Status returns the player, once it has joined, or what the window
// should say instead.
func (a *app) Status() (*client.Player, *oss.Node, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failed != nil {
		return a.player, a.node, a.status + ": " + a.failed.Error()
	}
	return a.player, a.node, a.status
}

// start brings the process up, reporting on the window's status line:
// with no --join, the local cluster and its bots, and the command that
// joins another window to it; then the player (unless headless), and,
// with --join, the bots of --bots on the player's node (or, headless, on
// a node of their own).
func (a *app) start(headless bool) {
	c := &a.cfg
	joined := len(c.join) > 0
	if !joined {
		a.setStatus("starting a local cluster", nil)
		l, err := startLocal(a.ctx, localOptions{nodes: c.nodes, dataDir: c.dataDir, port: c.port,
			guests: guestNames(c.name), logger: c.logger})
		if err != nil {
			// Nothing starts it again: the process ends, and says what
			// to change if a flag is the cause.
			a.setStatus("cannot start the local cluster", err)
			if perr := c.permanent(err, true); perr != nil {
				a.die(perr)
				return
			}
			a.die(fmt.Errorf("cannot start the local cluster: %w", err))
			return
		}
		a.mu.Lock()
		a.local = l
		c.certs, c.join = l.certs, l.addrs()
		a.mu.Unlock()
		fmt.Fprintf(c.out, "wissenheim: %d nodes on %s, certificates in %s\n", len(l.nodes), strings.Join(c.join, ", "), l.certs)
		fmt.Fprintf(c.out, "wissenheim: another window joins with:\n\n"+
			"  go run ./wissenheim --join %s --certs %s --name %s\n\n", c.join[0], l.certs, guestNames(c.name)[1])
	}
	if headless {
		if !joined {
			a.bots(a.local.nodes)
		}
		if joined && c.bots > 0 {
			a.startJoinedBots()
		}
		return
	}
	// The player first, so that the window shows the world while the
	// bots join it.
	a.connect()
	a.mu.Lock()
	n := a.node
	a.mu.Unlock()
	switch {
	case !joined:
		a.bots(a.local.nodes)
	case c.bots > 0 && n != nil:
		a.bots([]*oss.Node{n})
	}
}

// startJoinedBots starts, headless and joined to a cluster, the bots'
// node, trying again every few seconds as a window's player does (the
// cluster may not be up yet), then the bots on it. The bots are all such
// a process runs, so if they cannot start it ends, saying why. It used
// to give up on the first failure of the node's start and wait, doing
// nothing, for an interrupt: an unreachable cluster, or a --listen that
// named no address of the machine, kept the process running for ever
// with nothing said until it was stopped.
func (a *app) startJoinedBots() {
	n := a.retry("the bots' node", func() (*oss.Node, error) {
		ctx, cancel := context.WithTimeout(a.ctx, 20*time.Second)
		defer cancel()
		n, err := a.startNode(ctx, a.cfg.name)
		if err == nil {
			a.mu.Lock()
			a.node = n
			a.mu.Unlock()
		}
		return n, err
	})
	if n == nil {
		return
	}
	// The process ends with the error, which run's caller prints: said
	// here as well, it was printed twice.
	if err := a.tryBots([]*oss.Node{n}); err != nil && a.ctx.Err() == nil {
		a.die(fmt.Errorf("cannot start the bots: %w", err))
	}
}

// bots starts the bots on the given nodes, saying why it could not, and
// returns what it failed with.
func (a *app) bots(nodes []*oss.Node) error {
	err := a.tryBots(nodes)
	if err != nil && !errors.Is(err, scene.ErrNoRoom) && a.ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "wissenheim: cannot start the bots:", err)
	}
	return err
}

// tryBots starts the bots on the given nodes and returns what it failed
// with, which the status shows; a room the world lacks ends the start.
func (a *app) tryBots(nodes []*oss.Node) error {
	err := a.startBots(a.ctx, nodes)
	switch {
	case err == nil:
		a.setStatus("", nil)
	case errors.Is(err, scene.ErrNoRoom):
		a.setStatus("cannot start the bots", err)
		a.die(a.cfg.noRoom(err))
	case a.ctx.Err() == nil:
		a.setStatus("cannot start the bots", err)
	}
	return err
}

// startBots creates the world if it is not there and spreads the bots
// over the given nodes, each of which runs the world's clock.
func (a *app) startBots(ctx context.Context, nodes []*oss.Node) error {
	c := &a.cfg
	for i, n := range nodes {
		w, err := a.openWorld(ctx, n)
		if err != nil {
			return err
		}
		a.wg.Go(func() { w.Run(a.ctx) })
		count := c.bots / len(nodes)
		if i < c.bots%len(nodes) {
			count++
		}
		if count == 0 {
			continue
		}
		a.setStatus(fmt.Sprintf("starting %d bots", c.bots), nil)
		s, err := bots.Start(ctx, w, &bots.Config{N: count, Prefix: prefix(n), Seed: c.seed + uint64(i),
			Rate: c.botRate, Speed: min(1.5, 0.9*scene.MaxStep*c.botRate), Room: c.room,
			OnMove: func(_ uuid.UUID, _ uint64, _ time.Time, took time.Duration) { a.botLat.Add(took) }})
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.swarms = append(a.swarms, s)
		a.mu.Unlock()
	}
	return nil
}

// openWorld opens the world's heap on n, creating heap and world if the
// cluster has neither.
func (a *app) openWorld(ctx context.Context, n *oss.Node) (*scene.World, error) {
	h, err := n.CreateHeapIfNotExists(ctx, a.cfg.heap, &oss.HeapOptions{Replicas: min(3, max(1, a.cfg.nodes))})
	if err != nil {
		return nil, fmt.Errorf("heap %q: %w", a.cfg.heap, err)
	}
	spec := scene.DemoSpec(max(a.cfg.bots, 24))
	spec.Name = a.cfg.world
	return scene.Create(ctx, h, spec)
}

// startNode starts a client node of the given name that joins the
// cluster at cfg.join.
func (a *app) startNode(ctx context.Context, name string) (*oss.Node, error) {
	c := &a.cfg
	tc, err := readCerts(c.certs, name)
	if err != nil {
		return nil, err
	}
	return oss.Start(ctx, &oss.Config{Name: name, Role: pki.RoleClient, TLS: tc, Listen: c.listen, Join: c.join,
		Gossip: oss.GossipLoopback, Logger: c.logger})
}

// guestNames returns the names of the local cluster's client
// certificates: the player's, then two for other windows, neither of
// which is the player's (the command the window prints names the first).
func guestNames(player string) []string {
	names := []string{player}
	for i := 2; len(names) < 3; i++ {
		if g := fmt.Sprintf("player%d", i); g != player {
			names = append(names, g)
		}
	}
	return names
}

// connect starts the player's node and joins the player, trying again
// every few seconds until it succeeds or the app closes; the window shows
// why it waits.
func (a *app) connect() {
	a.retry("the player's node", func() (*oss.Node, error) { return nil, a.connectOnce() })
}

// retry calls once until it succeeds, returning what it returned, or
// until the app closes or once fails in a way no retry mends (then the
// app dies, saying which flag to change), returning nil; it waits a few
// seconds between calls. The status says why it waits; the terminal
// hears of each new reason once. what names the node once starts.
func (a *app) retry(what string, once func() (*oss.Node, error)) *oss.Node {
	c := &a.cfg
	where := strings.Join(c.join, ", ")
	said := ""
	for attempt := 1; ; attempt++ {
		a.setStatus(fmt.Sprintf("connecting to the cluster at %s", where), nil)
		n, err := once()
		if err == nil {
			return n
		}
		if a.ctx.Err() != nil {
			return nil
		}
		if perr := c.permanent(err, false); perr != nil {
			a.setStatus("cannot start "+what, perr)
			a.die(perr)
			return nil
		}
		why := joinFailure(c.name, where, err)
		a.setStatus(fmt.Sprintf("%s (attempt %d, trying again)", why, attempt), err)
		if why != said { // the terminal hears of each new reason once; the window shows every attempt
			fmt.Fprintf(os.Stderr, "wissenheim: %s (trying again every few seconds): %v\n", why, err)
			said = why
		}
		select {
		case <-a.ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// joinFailure says in a few words why the player could not join: a
// cluster that turned the player away is not one that cannot be reached.
func joinFailure(name, where string, err error) string {
	switch {
	case errors.Is(err, oss.ErrJoinRefused):
		return fmt.Sprintf("the cluster at %s refused node %q: is another client of that name running, or is --certs another cluster's?", where, name)
	case errors.Is(err, scene.ErrNameTaken):
		return fmt.Sprintf("the world has a player named %q already: another client's, or a crashed one's until its lease runs out", name)
	case errors.Is(err, scene.ErrBlocked):
		return fmt.Sprintf("the world has no place for %q where it asks (--at in a wall, on another avatar or outside the room?)", name)
	case errors.Is(err, oss.ErrPermission):
		return permissionFailure(name, where, err) // joinadvice.go
	}
	return fmt.Sprintf("cannot reach the cluster at %s", where)
}

func (a *app) connectOnce() error {
	c := &a.cfg
	ctx, cancel := context.WithTimeout(a.ctx, 20*time.Second)
	defer cancel()
	n, err := a.startNode(ctx, c.name)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.node = n
	a.mu.Unlock()
	fail := func(err error) error {
		a.mu.Lock()
		a.node = nil
		a.mu.Unlock()
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		defer ccancel()
		n.Close(cctx)
		return err
	}
	w, err := a.openWorld(ctx, n)
	if err != nil {
		return fail(err)
	}
	// The world runs while the player joins: an avatar of the player's
	// name that a killed run left goes when its lease runs out on the
	// world's clock, which advances only where a World runs, and this
	// window may be the world's only one.
	stopRun := a.runWorld(w)
	a.setStatus("joining the world as "+c.name, nil)
	p, err := client.Join(ctx, w, c.name, &client.PlayerOptions{Room: c.room, At: c.at})
	if err != nil {
		stopRun()
		return fail(err)
	}
	a.mu.Lock()
	a.player = p
	a.mu.Unlock()
	a.setStatus("", nil)
	return nil
}

// runWorld runs w (its clock, the leases, the removal of dead avatars)
// until the app closes or stop is called; stop returns once it has
// ended.
func (a *app) runWorld(w *scene.World) (stop func()) {
	ctx, cancel := context.WithCancel(a.ctx)
	done := make(chan struct{})
	a.wg.Go(func() {
		defer close(done)
		w.Run(ctx)
	})
	return func() { cancel(); <-done }
}

// Close takes the player and the bots out of the world and closes every
// node this process started.
func (a *app) Close() error {
	a.cancel() // ends a start or a connection under way, and the world clocks
	a.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a.mu.Lock()
	p, n, l, swarms := a.player, a.node, a.local, a.swarms
	a.mu.Unlock()
	var errs []error
	if p != nil {
		errs = append(errs, a.leaveErr("the player", p.Close(ctx)))
	}
	for _, s := range swarms {
		errs = append(errs, a.leaveErr("the bots", s.Close(ctx)))
	}
	if n != nil {
		errs = append(errs, n.Close(ctx))
	}
	if l != nil {
		errs = append(errs, l.Close(ctx))
	}
	return errors.Join(errs...)
}

// leaveErr returns err, the error of who's leave at close, unless it
// says only that the cluster could not be reached: a player who closes
// the window after the servers went away did nothing wrong. That is
// logged, as ossd logs a leave it could not announce, and the process
// ends well; the world drops the avatars when their leases run out.
func (a *app) leaveErr(who string, err error) error {
	if err == nil || !unreached(err) {
		return err
	}
	a.cfg.logger.Warn("leave: the cluster is out of reach; the world drops the avatars when their leases run out",
		"who", who, "err", err)
	return nil
}

// unreached reports whether err, and every error it joins, says only
// that the cluster could not be reached in time.
func unreached(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !unreached(e) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, oss.ErrNoQuorum) || errors.Is(err, oss.ErrCommitUnknown) ||
		errors.Is(err, context.DeadlineExceeded)
}

// prefix names a node's bots after the node.
func prefix(n *oss.Node) string {
	for _, m := range n.Members() {
		if m.Addr == n.Addr() {
			return m.Name
		}
	}
	return "bot"
}
