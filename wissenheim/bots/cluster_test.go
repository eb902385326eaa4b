package bots_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/bots"
	"github.com/objectsharing/oss/wissenheim/internal/cluster"
	"github.com/objectsharing/oss/wissenheim/scene"
)

func long() bool { return os.Getenv("OSS_LONG") != "" }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// observer takes snapshots on one node as a renderer would, as fast as it
// can, and checks every one: the world's invariants (Verify, which reads
// the whole heap in the same View), and what must agree across nodes,
// recorded by log index: the chat and where the balls are.
type observer struct {
	node  string
	w     *scene.World
	done  chan struct{}
	stop  context.CancelFunc
	views int
	err   error
	chat  map[uint64]string      // message index → sender and text
	balls map[uint64][]scene.Vec // snapshot index → every ball's position
}

func observe(node string, w *scene.World) *observer {
	ctx, stop := context.WithCancel(context.Background())
	o := &observer{node: node, w: w, done: make(chan struct{}), stop: stop, chat: map[uint64]string{}, balls: map[uint64][]scene.Vec{}}
	go func() {
		defer close(o.done)
		for ctx.Err() == nil {
			err := w.Heap().View(ctx, func(tx *oss.Tx) error {
				if err := w.Verify(tx); err != nil {
					return fmt.Errorf("invariants at index %d: %w", tx.Index(), err)
				}
				var balls []scene.Vec
				for _, room := range w.Rooms() {
					s, err := w.Read(tx, room.Name)
					if err != nil {
						return err
					}
					o.record(s)
					for _, p := range s.Props {
						if p.Kind == scene.Ball {
							balls = append(balls, p.Pos)
						}
					}
				}
				if prev, ok := o.balls[tx.Index()]; ok && !reflect.DeepEqual(prev, balls) {
					return fmt.Errorf("at index %d the balls were at %v, now at %v", tx.Index(), prev, balls)
				}
				o.balls[tx.Index()] = balls
				return nil
			}, nil)
			switch {
			case errors.Is(err, oss.ErrClosed) || ctx.Err() != nil:
				return // the node was killed, or the test is over
			case err != nil:
				o.err = fmt.Errorf("%s: %w", node, err)
				return
			}
			o.views++
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return o
}

func (o *observer) record(s *scene.Snapshot) {
	for _, m := range s.Chat {
		msg := m.From + ": " + m.Text
		if prev, ok := o.chat[m.Index]; ok && prev != msg && o.err == nil {
			o.err = fmt.Errorf("%s: chat message %d was %q, now %q", o.node, m.Index, prev, msg)
		}
		o.chat[m.Index] = msg
	}
	// Messages at indexes the snapshot covers are all there or fell off
	// the end: none may be missing in the middle.
	for i := 1; i < len(s.Chat); i++ {
		if s.Chat[i].Index <= s.Chat[i-1].Index && o.err == nil {
			o.err = fmt.Errorf("%s: chat out of order at index %d: %+v", o.node, s.Index, s.Chat)
		}
	}
}

func (o *observer) close() error {
	o.stop()
	<-o.done
	return o.err
}

// node is one node of the test's cluster, with its world, the world's
// Run, its bots and its observer.
type node struct {
	w      *scene.World
	cancel context.CancelFunc
	ran    chan error
	swarm  *bots.Swarm
	obs    *observer
}

func startNode(t *testing.T, ctx context.Context, c *cluster.Cluster, i int, spec *scene.Spec, n int, resume []bots.Session) *node {
	t.Helper()
	h, err := c.Nodes[i].CreateHeapIfNotExists(ctx, "wissenheim", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := scene.Create(ctx, h, spec)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	nd := &node{w: w, cancel: cancel, ran: make(chan error, 1)}
	go func() { nd.ran <- w.Run(runCtx) }()
	nd.swarm, err = bots.Start(ctx, w, &bots.Config{N: n, Prefix: cluster.Name(i), Seed: uint64(i + 1), Speed: 3, Resume: resume})
	if err != nil {
		t.Fatal(err)
	}
	nd.obs = observe(cluster.Name(i), w)
	return nd
}

// stop ends the node's bots (abandoning their avatars, as a crash would),
// its Run and its observer.
func (nd *node) stop(t *testing.T) {
	t.Helper()
	nd.swarm.Stop()
	nd.cancel()
	recv(t, nd.ran, "the node's world to stop running")
	if err := nd.obs.close(); err != nil {
		t.Error(err)
	}
}

// Hundreds of bots on three nodes, and on every node a renderer's worth
// of snapshots, each checked: no two avatars overlap, none stands in a
// wall or a closed door, holders and props agree, cells and rosters match
// the avatars, chat is in log order. Meanwhile a node is killed and
// restarted on its data directory, its bots taking their avatars back,
// then cut off by a partition for longer than a lease and healed; then
// one node's bots crash for good, and the others remove their
// avatars when their leases run out. At the end every node holds the same
// world at the same index, and wherever two nodes took a snapshot at the
// same index their balls were at the same places and their chats agreed.
func TestBotsKeepTheInvariantsOnEveryNode(t *testing.T) {
	nBots, phase := 210, time.Second
	if raceOn {
		nBots = 120
	}
	if long() {
		nBots, phase = 600, 20*time.Second
	}
	ctx := context.Background()
	c, err := cluster.Start(ctx, &cluster.Options{Dir: t.TempDir(), Durability: oss.DurabilityBatch, Logger: quiet(), Relays: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Heap(ctx, "wissenheim"); err != nil {
		t.Fatal(err)
	}
	spec := scene.DemoSpec(nBots)
	spec.Lease = 1500 * time.Millisecond
	if long() {
		// Under a long load on a shared machine a live bot's step can
		// stall for longer than a short lease.
		spec.Lease = 5 * time.Second
	}
	per := nBots / 3
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = startNode(t, ctx, c, i, spec, per, nil)
	}
	t0 := time.Now()
	logf := func(f string, a ...any) { t.Logf("%6.2fs "+f, append([]any{time.Since(t0).Seconds()}, a...)...) }
	logf("%d bots joined", nBots)
	var observers []*observer
	for _, nd := range nodes {
		observers = append(observers, nd.obs)
	}
	time.Sleep(phase)

	// Kill node 3 and restart it on its data directory; its bots resume
	// their avatars (or join again, if a lease ran out meanwhile).
	sessions := nodes[2].swarm.Sessions()
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	nodes[2].stop(t)
	logf("%s killed", cluster.Name(2))
	time.Sleep(phase / 2)
	if err := c.Restart(ctx, 2); err != nil {
		t.Fatal(err)
	}
	logf("%s started again", cluster.Name(2))
	nodes[2] = startNode(t, ctx, c, 2, spec, per, sessions)
	observers = append(observers, nodes[2].obs)
	logf("%s restarted, its bots back", cluster.Name(2))
	time.Sleep(phase)

	// Cut node 3 off for longer than a lease: its replica goes stale (its
	// snapshots are still checked), its bots' commits fail, the majority
	// removes their avatars; once healed it catches up and its bots join
	// again.
	c.Partition([]int{0, 1}, []int{2})
	logf("%s cut off", cluster.Name(2))
	time.Sleep(phase + spec.Lease)
	c.Partition([]int{0, 1, 2})
	logf("healed")
	time.Sleep(phase)

	// Node 1's bots crash for good: the others remove their avatars once
	// their leases run out.
	gone := nodes[0].swarm.Avatars()
	nodes[0].swarm.Stop()
	logf("%s's bots crashed", cluster.Name(0))
	awaitCrashedRemoved(t, ctx, nodes, cluster.Name(0)+"-bot-", gone, uint64(spec.Lease*scene.TickRate/time.Second), logf)
	// Stop everything, let the replicas catch up, and compare.
	for _, nd := range nodes[1:] {
		if err := nd.swarm.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	for _, nd := range nodes {
		nd.cancel()
		recv(t, nd.ran, "the node's world to stop running")
	}
	for _, o := range observers {
		if err := o.close(); err != nil {
			t.Error(err)
		}
	}
	logf("all stopped")
	var final []*scene.Snapshot
	deadline := time.Now().Add(5 * time.Minute) // against a hang, not a measure
	for {
		final = final[:0]
		for _, nd := range nodes {
			s, err := nd.w.Snapshot(ctx, "hall")
			if err != nil {
				t.Fatal(err)
			}
			final = append(final, s)
		}
		if final[0].Index == final[1].Index && final[1].Index == final[2].Index {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas did not converge: indexes %d, %d, %d", final[0].Index, final[1].Index, final[2].Index)
		}
		time.Sleep(20 * time.Millisecond)
	}
	logf("replicas at index %d", final[0].Index)
	for i := 1; i < 3; i++ {
		if !reflect.DeepEqual(final[0], final[i]) {
			t.Fatalf("at index %d %s and %s differ:\n%+v\n%+v", final[0].Index, cluster.Name(0), cluster.Name(i), final[0], final[i])
		}
	}
	for _, nd := range nodes {
		if err := nd.w.Heap().View(ctx, nd.w.Verify, nil); err != nil {
			t.Fatal(err)
		}
	}

	// Across nodes: the same chat message at each index, the balls at
	// the same places at each index two nodes both saw.
	chat := map[uint64]string{}
	balls := map[uint64][]scene.Vec{}
	common, views := 0, 0
	for _, o := range observers {
		views += o.views
		if o.views == 0 {
			t.Errorf("%s took no snapshot", o.node)
		}
		for i, m := range o.chat {
			if prev, ok := chat[i]; ok && prev != m {
				t.Errorf("chat message %d is %q on one node, %q on %s", i, prev, m, o.node)
			}
			chat[i] = m
		}
		for i, ps := range o.balls {
			if prev, ok := balls[i]; ok {
				common++
				if !reflect.DeepEqual(prev, ps) {
					t.Errorf("at index %d the balls are at %v on one node, %v on %s", i, prev, ps, o.node)
				}
			} else {
				balls[i] = ps
			}
		}
	}
	var st bots.Stats
	for _, nd := range nodes {
		s := nd.swarm.Stats()
		st.Moves += s.Moves
		st.Kicks += s.Kicks
		st.PickUps += s.PickUps
		st.Lost += s.Lost
		st.Says += s.Says
		st.Toggles += s.Toggles
		st.Errors += s.Errors
		st.Rejoins += s.Rejoins
	}
	t.Logf("%d bots: %d moves, %d kicks, %d pick-ups (%d grabs lost to another), %d messages, %d toggles, %d errors, %d rejoins; %d snapshots checked, %d indexes seen on two nodes, %d chat messages",
		nBots, st.Moves, st.Kicks, st.PickUps, st.Lost, st.Says, st.Toggles, st.Errors, st.Rejoins, views, common, len(chat))
	if st.Moves == 0 || views == 0 {
		t.Fatal("nothing happened")
	}
}

// awaitCrashedRemoved waits until node 2's replica holds no avatar of
// the crashed bots: none named prefix… (a join whose outcome was unknown
// may have committed after its swarm stopped counting it) and none of
// the IDs in gone. Leases are counted in world ticks, and the world clock
// slows down when commits do (an advance that commits more than a second
// after the last adds one tick: see World.advance), which keeps live
// avatars alive on an overloaded cluster and stretches a lease in real
// time as much. So the wait is measured on the world clock: it fails if
// avatars are left a minute after the clock passed two leases from the
// crash (a lease for the crash, one for writes still in flight then), if
// the clock stands still for a minute, or after five minutes in all.
func awaitCrashedRemoved(t *testing.T, ctx context.Context, nodes []*node, prefix string, gone []uuid.UUID, lease uint64, logf func(string, ...any)) {
	t.Helper()
	crashed := map[uuid.UUID]bool{}
	for _, id := range gone {
		crashed[id] = true
	}
	start := time.Now()
	var crashTick, lastTick, dueTick uint64
	var moved, due time.Time
	for {
		s, err := nodes[1].w.Snapshot(ctx, "hall")
		if err != nil {
			t.Fatal(err)
		}
		var left []scene.AvatarState
		for _, a := range s.Avatars {
			if crashed[a.ID] || strings.HasPrefix(a.Name, prefix) {
				left = append(left, a)
			}
		}
		if crashTick == 0 {
			crashTick, lastTick, moved, dueTick = s.Tick, s.Tick, time.Now(), s.Tick+2*lease
		}
		if len(left) == 0 {
			logf("their avatars removed at tick %d, %d ticks after the crash", s.Tick, s.Tick-crashTick)
			return
		}
		if s.Tick != lastTick {
			lastTick, moved = s.Tick, time.Now()
		}
		if due.IsZero() && s.Tick >= dueTick {
			due = time.Now()
			logf("world clock at tick %d, two leases after the crash at tick %d; %d avatars left", s.Tick, crashTick, len(left))
		}
		var why string
		switch {
		case !due.IsZero() && time.Since(due) > time.Minute:
			why = fmt.Sprintf("a minute after the world clock passed tick %d (two leases after the crash at tick %d)", dueTick, crashTick)
		case time.Since(moved) > time.Minute:
			why = fmt.Sprintf("the world clock stood still at tick %d for a minute (crash at tick %d)", s.Tick, crashTick)
		case time.Since(start) > 5*time.Minute:
			why = fmt.Sprintf("five minutes after the crash, the world clock at tick %d (crash at tick %d)", s.Tick, crashTick)
		}
		if why != "" {
			dumpNodes(t, ctx, nodes)
			for _, a := range left {
				t.Logf("left: %s %v, lease %d", a.Name, a.ID, a.Lease)
			}
			t.Fatalf("%d avatars of crashed bots still in the world %s", len(left), why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dumpNodes logs where each node stands: its world clock, its replica
// and leader, what its bots and its world did.
func dumpNodes(t *testing.T, ctx context.Context, nodes []*node) {
	t.Helper()
	for i, nd := range nodes {
		st := nd.w.Heap().Stats()
		s, _ := nd.w.Snapshot(ctx, "hall")
		var tick uint64
		if s != nil {
			tick = s.Tick
		}
		heard := "never"
		if !st.LeaderContact.IsZero() {
			heard = time.Since(st.LeaderContact).Round(time.Millisecond).String() + " ago"
		}
		t.Logf("%s: tick %d, applied %d, lag %d, leader %q (term %d, heard %s), commits %d, conflicts %d, unknown %d; bots %+v; world %+v",
			cluster.Name(i), tick, st.Applied, st.Lag, st.Leader, st.Term, heard,
			st.Commits, st.Conflicts, st.Unknown, nd.swarm.Stats(), nd.w.Stats())
	}
}
