package oss_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
	"github.com/objectsharing/oss/oss/pki"
	"go.uber.org/goleak"
)

// Probes of the watch promise as a consumer that builds a cache relies on
// it, checked against what the writers were told rather than against the
// replica: every acknowledged commit reaches every consumer (as its event,
// or inside a resync's state), a commit of unknown outcome may, nothing
// else does, and no commit comes twice or out of order; through
// partitions of the watcher's node, kills of the leader, restarts of the
// watcher's node (the watch resumed from the last event taken), history
// lost, consumers that stop reading, many watchers at once and a heap
// dropped under its watches.

// wpVal is what the probes' writers put: each commit one new object.
type wpVal struct{ N int }

// wprobe is a cluster, the writers' record of outcomes and the current
// handle on each node's replica of the watched heap.
type wprobe struct {
	c       *osstest.Cluster
	heap    string
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the consumers
	writing sync.WaitGroup // the writers
	hold    func()         // if set, called in each writer's transaction (not the marker's)

	mu      sync.Mutex
	handles map[string]*oss.Heap // nil while the node is down
	acked   map[uuid.UUID]bool
	unknown map[uuid.UUID]bool
	writer  map[uuid.UUID]string // the node each commit was written through
}

func newWProbe(c *osstest.Cluster, heap string, nodes []string) *wprobe {
	p := &wprobe{c: c, heap: heap, handles: map[string]*oss.Heap{}, acked: map[uuid.UUID]bool{}, unknown: map[uuid.UUID]bool{}, writer: map[uuid.UUID]string{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for _, n := range nodes {
		p.handles[n] = c.Heap(n, heap)
	}
	return p
}

func (p *wprobe) handle(node string) *oss.Heap {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handles[node]
}

func (p *wprobe) setHandle(node string, h *oss.Heap) {
	p.mu.Lock()
	p.handles[node] = h
	p.mu.Unlock()
}

// open opens the heap on node, restarted or a client: c.Heap on a
// server, which creates it if need be, and Node.Heap, once the client's
// grant is in, on a client.
func (p *wprobe) open(node string) *oss.Heap {
	if node != "c1" {
		return p.c.Heap(node, p.heap)
	}
	var h *oss.Heap
	p.c.Wait(node+" to open "+p.heap, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		h, err = p.c.Node(node).Heap(ctx, p.heap)
		return err == nil
	})
	return h
}

// write commits one new object through node's replica and records the
// outcome: acknowledged, unknown, or (any other error) nothing written.
func (p *wprobe) write(node string, n int) (uuid.UUID, error) {
	h := p.handle(node)
	if h == nil {
		return uuid.Nil, oss.ErrClosed
	}
	id := uuid.New()
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	err := h.Update(ctx, func(tx *oss.Tx) error {
		if p.hold != nil && n >= 0 {
			p.hold()
		}
		return oss.Put(tx, id, wpVal{n})
	})
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writer[id] = node
	switch {
	case err == nil:
		p.acked[id] = true
	case errors.Is(err, oss.ErrCommitUnknown):
		p.unknown[id] = true
	}
	return id, err
}

// writers writes from every node in turn until stop, k goroutines;
// stopWriters ends them.
func (p *wprobe) writers(k int, nodes []string, stop <-chan struct{}) {
	for i := range k {
		p.writing.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-p.ctx.Done():
					return
				default:
				}
				if _, err := p.write(nodes[(i+n)%len(nodes)], n); err != nil {
					select {
					case <-stop:
					case <-p.ctx.Done():
					case <-time.After(5 * time.Millisecond):
					}
				}
			}
		})
	}
}

// stopWriters closes the writers' stop and waits for their writes in
// flight to end. A write acknowledged after the marker went in lies past
// it in the log, and a consumer that took the marker need not have it
// yet: check may compare only once every acknowledged write is in.
func (p *wprobe) stopWriters(stop chan struct{}) {
	close(stop)
	p.writing.Wait()
}

// marker commits one object, retrying until it is acknowledged; call it
// after stopWriters, so that every commit acknowledged comes before it.
func (p *wprobe) marker(t *testing.T, nodes []string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	p.c.Wait("a marker acknowledged", func() bool {
		var err error
		id, err = p.write(nodes[rand.IntN(len(nodes))], -1)
		return err == nil
	})
	return id
}

// roamer is a consumer that resumes its watch on the next node every
// few events: the version and incarnation it took on one replica are
// its resume point on the others.
func (p *wprobe) roamer(nodes []string, opts oss.WatchOptions) *wconsumer {
	k := &wconsumer{p: p, node: "roaming", roam: nodes, opts: opts, objs: map[uuid.UUID]bool{}, delivered: map[uuid.UUID]int{}}
	p.wg.Go(k.run)
	return k
}

// wconsumer follows the watched heap on one node as a cache would: it
// keeps the objects it learned of and the version and incarnation of
// the last event it took, and resumes from them on the node's new
// replica when the node restarts.
type wconsumer struct {
	p     *wprobe
	node  string
	opts  oss.WatchOptions
	roam  []string                      // if set, the consumer moves to the next of these nodes every few events
	short bool                          // each Next gets a deadline of a millisecond or two, as a frame's would
	pause atomic.Pointer[chan struct{}] // set: stop reading until it closes

	mu        sync.Mutex
	objs      map[uuid.UUID]bool
	delivered map[uuid.UUID]int // EventChange deliveries per object
	index     uint64
	inc       uint64
	resyncs   int
	watches   int // watches started (resumed after restarts)
	err       error
	trace     []wpStep // the watches started and the events taken, for a failure's message
}

// wpStep is one watch started (kind 0: from index, incarnation inc) or
// one event taken, on node.
type wpStep struct {
	node             string
	kind             oss.EventKind
	from, index, inc uint64
}

func (s wpStep) String() string {
	if s.kind == 0 {
		return fmt.Sprintf("watch on %s from %d/%d", s.node, s.index, s.inc)
	}
	return fmt.Sprintf("%v %d..%d on %s", s.kind, s.from, s.index, s.node)
}

func (p *wprobe) consume(node string, opts oss.WatchOptions) *wconsumer {
	k := &wconsumer{p: p, node: node, opts: opts, objs: map[uuid.UUID]bool{}, delivered: map[uuid.UUID]int{}}
	p.wg.Go(k.run)
	return k
}

func (k *wconsumer) run() {
	var last *oss.Heap
	for turn := 0; k.p.ctx.Err() == nil; {
		node := k.node
		if k.roam != nil {
			node = k.roam[turn%len(k.roam)]
			turn++
			last = nil
		}
		h := k.p.handle(node)
		if h == nil || h == last {
			select {
			case <-k.p.ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		last = h
		k.mu.Lock()
		o := k.opts
		o.From, o.Incarnation = k.index, k.inc
		k.watches++
		k.trace = append(k.trace, wpStep{node: node, index: k.index, inc: k.inc})
		k.mu.Unlock()
		w, err := h.Watch(&o)
		if err != nil {
			continue // the replica closed already
		}
		ok := k.follow(w, node)
		w.Close()
		if !ok {
			return
		}
	}
}

// follow takes w's events until it ends (or, roaming, for a few
// events); false if an event broke the promise.
func (k *wconsumer) follow(w *oss.Watch, node string) bool {
	for n := 0; k.roam == nil || n < 20+rand.IntN(60); n++ {
		if ch := k.pause.Load(); ch != nil {
			select {
			case <-*ch:
			case <-k.p.ctx.Done():
			}
		}
		ev, err := k.next(w)
		if k.short && errors.Is(err, context.DeadlineExceeded) && k.p.ctx.Err() == nil {
			n--
			continue
		}
		if err != nil {
			if !errors.Is(err, oss.ErrClosed) && k.p.ctx.Err() == nil {
				k.fail(fmt.Errorf("Next: %w", err))
				return false
			}
			return true
		}
		if err := k.apply(ev, node); err != nil {
			k.fail(err)
			return false
		}
	}
	return true
}

// next is w.Next, with a deadline of a millisecond or two for a short
// consumer.
func (k *wconsumer) next(w *oss.Watch) (*oss.Event, error) {
	if !k.short {
		return w.Next(k.p.ctx)
	}
	ctx, cancel := context.WithTimeout(k.p.ctx, time.Duration(1+rand.IntN(2))*time.Millisecond)
	defer cancel()
	return w.Next(ctx)
}

func (k *wconsumer) fail(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err == nil {
		k.err = fmt.Errorf("%s %+v: %w", k.node, k.opts, err)
	}
}

// apply takes one event into the consumer's cache, or says how it broke
// the promise.
func (k *wconsumer) apply(ev *oss.Event, node string) error {
	var objs map[uuid.UUID]bool
	if ev.Kind != oss.EventChange {
		var err error
		if objs, err = objectsOf(ev); err != nil {
			return err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.trace = append(k.trace, wpStep{node: node, kind: ev.Kind, from: ev.FromIndex, index: ev.Index, inc: ev.Incarnation})
	switch {
	case k.inc != 0 && ev.Incarnation != k.inc:
		return fmt.Errorf("%v event of incarnation %d after %d: the heap was never dropped", ev.Kind, ev.Incarnation, k.inc)
	case ev.Index < k.index, ev.Kind == oss.EventChange && ev.Index == k.index:
		return fmt.Errorf("%v event at index %d after one at %d", ev.Kind, ev.Index, k.index)
	case ev.Kind == oss.EventChange && ev.FromIndex <= k.index:
		return fmt.Errorf("change of %d..%d after an event at %d", ev.FromIndex, ev.Index, k.index)
	case ev.Kind == oss.EventChange && (k.opts.Merge || k.opts.Rate > 0) && k.index != 0 && ev.FromIndex != k.index+1:
		return fmt.Errorf("merged change from %d after an event at %d: a gap", ev.FromIndex, k.index)
	}
	k.index, k.inc = ev.Index, ev.Incarnation
	if ev.Kind != oss.EventChange {
		k.objs = objs
		if ev.Kind == oss.EventResync {
			k.resyncs++
		}
		return nil
	}
	for _, c := range ev.Objects {
		if k.delivered[c.ID]++; k.delivered[c.ID] > 1 {
			return fmt.Errorf("object %v, written by one commit, delivered %d times (now at index %d)", c.ID, k.delivered[c.ID], ev.Index)
		}
		if k.objs[c.ID] {
			return fmt.Errorf("object %v delivered at index %d after a resync's state held it", c.ID, ev.Index)
		}
		k.objs[c.ID] = !c.Deleted
	}
	return nil
}

// objectsOf reads the objects of a snapshot's or resync's state.
func objectsOf(ev *oss.Event) (map[uuid.UUID]bool, error) {
	objs := map[uuid.UUID]bool{}
	err := ev.View(func(tx *oss.Tx) error {
		return tx.Scan(func(id uuid.UUID) bool { objs[id] = true; return true })
	})
	return objs, err
}

// check waits for every consumer to hold marker and compares what each
// holds with the writers' outcomes.
func (p *wprobe) check(t *testing.T, marker uuid.UUID, ks []*wconsumer) {
	t.Helper()
	for _, k := range ks {
		k.pause.Store(nil)
		p.c.Wait(k.node+"'s consumer to take the marker", func() bool {
			k.mu.Lock()
			defer k.mu.Unlock()
			return k.err != nil || k.objs[marker]
		})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.indexOf(marker)
	resyncs, watches := 0, 0
	for _, k := range ks {
		k.mu.Lock()
		if k.err != nil {
			t.Error(k.err)
		}
		var missing, extra []uuid.UUID
		for id := range p.acked {
			if !k.objs[id] {
				missing = append(missing, id)
			}
		}
		for id, ok := range k.objs {
			if ok && !p.acked[id] && !p.unknown[id] {
				extra = append(extra, id)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s %+v: %d acknowledged commits never reached the consumer (%v first; the marker was committed at index %d)", k.node, k.opts, len(missing), missing[0], at)
			for _, id := range missing[:min(len(missing), 4)] {
				t.Log(p.missed(k, id))
			}
		}
		if len(extra) > 0 {
			t.Errorf("%s %+v: the consumer holds %d objects no writer wrote (%v first)", k.node, k.opts, len(extra), extra[0])
		}
		resyncs += k.resyncs
		watches += k.watches
		k.mu.Unlock()
	}
	t.Logf("%d acknowledged commits, %d unknown; %d consumers, %d watches started, %d resyncs", len(p.acked), len(p.unknown), len(ks), watches, resyncs)
}

// missed says which commit wrote id (its index, the node it was written
// through) and what k took around it. Called with p.mu and k.mu held.
func (p *wprobe) missed(k *wconsumer, id uuid.UUID) string {
	at := p.indexOf(id)
	msg := fmt.Sprintf("missed %v: written through %s, committed at index %d; %d watches, %d resyncs; around it:", id, p.writer[id], at, k.watches, k.resyncs)
	i := 0
	for i < len(k.trace) && (k.trace[i].kind == 0 || k.trace[i].index < at) {
		i++
	}
	for j := max(0, i-8); j < min(len(k.trace), i+8); j++ {
		msg += "\n\t" + k.trace[j].String()
	}
	return msg
}

// indexOf is the index of the commit that wrote id, as the first
// replica that has it says; 0 if none does. Called with p.mu held.
func (p *wprobe) indexOf(id uuid.UUID) uint64 {
	for _, h := range p.handles {
		if h == nil {
			continue
		}
		var at uint64
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := h.View(ctx, func(tx *oss.Tx) error {
			var err error
			at, err = tx.Version(id)
			return err
		}, nil)
		cancel()
		if err == nil && at != 0 {
			return at
		}
	}
	return 0
}

func (p *wprobe) stop() {
	p.cancel()
	p.writing.Wait()
	p.wg.Wait()
}

// wpLong is how long the fault schedule of a probe runs.
func wpLong(short, long time.Duration) time.Duration {
	if os.Getenv("OSS_LONG") != "" {
		return long
	}
	return short
}

// Consumers of every kind on every node of three (plain, a small buffer,
// merged, rate-capped; two that move from node to node, resuming where
// they were; two whose every Next has a deadline of a millisecond or
// two) while writers commit through every node, and faults: the
// watcher's node cut off, the heap's leader killed and restarted, another
// node killed and restarted (its consumers resume from the last event
// they took; the history before the restart is gone, and the leader's
// log is short, so a node behind catches up from a snapshot), and
// consumers that stop reading for seconds. At the end each consumer holds
// every acknowledged commit, no object no writer wrote, and took no
// commit twice or out of order. Eight seconds of faults; two minutes
// with OSS_LONG.
func TestWatchProbeAcknowledgedCommitsUnderFaults(t *testing.T) {
	t.Parallel()
	wpUnderFaults(t, wpSetup{})
}

// TestWatchProbeAcknowledgedCommitsUnderFaults with a client node (a
// learner of the heap, never a voter) among the watchers and writers,
// cut off, killed and restarted like the others.
func TestWatchProbeAcknowledgedCommitsUnderFaultsOnAClient(t *testing.T) {
	t.Parallel()
	wpUnderFaults(t, wpSetup{client: true})
}

// TestWatchProbeAcknowledgedCommitsUnderFaultsOnAClient with membership
// following the partitions: a node cut off past Config.ReplaceAfter loses
// its replicas, which rejoin once the cut heals, and its watches go on.
func TestWatchProbeAcknowledgedCommitsUnderFaultsRemovedAndRejoined(t *testing.T) {
	t.Parallel()
	wpUnderFaults(t, wpSetup{client: true, follow: true})
}

// TestWatchProbeAcknowledgedCommitsUnderFaults on QUIC over loopback,
// as in production, with kills and restarts and stalled consumers (the
// QUIC cluster has no partitions).
func TestWatchProbeAcknowledgedCommitsUnderFaultsQUIC(t *testing.T) {
	t.Parallel()
	wpUnderFaults(t, wpSetup{quic: true})
}

// wpSetup says how wpUnderFaults runs its cluster: on QUIC, with a client
// node, with membership following partitions.
type wpSetup struct{ quic, client, follow bool }

func wpUnderFaults(t *testing.T, setup wpSetup) {
	quic, client := setup.quic, setup.client
	seed := rand.Uint64()
	if s := os.Getenv("OSS_WP_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("OSS_WP_SEED: %v", err)
		}
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	servers := 3
	if setup.follow {
		servers = 4 // a spare server for the replica of one cut off
	}
	c := osstest.Start(t, servers, &osstest.Options{Seed: seed, Durable: true, QUIC: quic, FollowPartitions: setup.follow, Configure: func(name string, cfg *oss.Config) {
		// Little history, and little log for a replica behind: a
		// watcher's node cut off or restarted catches up from its
		// leader's snapshot, and its watches resync.
		cfg.WatchHistory = 32
		cfg.CheckpointEvery, cfg.KeepEntries, cfg.MaxLogBytes = 64, 16, 16<<10
		if name == "c1" {
			cfg.Role = pki.RoleClient
		}
	}})
	nodes := c.Live()
	p := newWProbe(c, "wp", nodes)
	defer p.stop()
	c.WaitLeader("wp")
	if client {
		c.Add("c1")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := c.Node("n1").Grant(ctx, oss.Grant{Who: "c1", Heap: "wp", Perm: oss.PermWrite}); err != nil {
			t.Fatal(err)
		}
		p.setHandle("c1", p.open("c1"))
		nodes = append(nodes, "c1")
	}
	var ks []*wconsumer
	for _, n := range nodes {
		ks = append(ks,
			p.consume(n, oss.WatchOptions{}),
			p.consume(n, oss.WatchOptions{Buffer: 8}),
			p.consume(n, oss.WatchOptions{Merge: true}),
			p.consume(n, oss.WatchOptions{Rate: 40}))
	}
	ks = append(ks, p.roamer(nodes, oss.WatchOptions{}), p.roamer(nodes, oss.WatchOptions{Merge: true}))
	for i, opts := range []oss.WatchOptions{{}, {Rate: 40}} {
		k := &wconsumer{p: p, node: nodes[i+1], opts: opts, short: true, objs: map[uuid.UUID]bool{}, delivered: map[uuid.UUID]int{}}
		p.wg.Go(k.run)
		ks = append(ks, k)
	}
	stop := make(chan struct{})
	p.writers(4, nodes, stop)
	for end := time.Now().Add(wpLong(8*time.Second, 2*time.Minute)); time.Now().Before(end); {
		wpFault(t, p, rng, nodes, ks, quic)
	}
	p.stopWriters(stop)
	if !quic {
		c.Heal()
	}
	p.check(t, p.marker(t, nodes), ks)
	rejoins := uint64(0)
	for _, n := range nodes {
		rejoins += p.handle(n).Stats().Rejoins
	}
	t.Logf("%d rejoins of replicas since their nodes' last start", rejoins)
}

// wpFault injects one fault and ends it.
func wpFault(t *testing.T, p *wprobe, rng *rand.Rand, nodes []string, ks []*wconsumer, quic bool) {
	c := p.c
	hold := func() { time.Sleep(time.Duration(200+rng.IntN(2500)) * time.Millisecond) }
	kind := rng.IntN(4)
	if quic && kind == 0 {
		kind = 3
	}
	switch kind {
	case 0: // the watcher's node cut off
		cut := nodes[rng.IntN(len(nodes))]
		var rest []string
		for _, n := range nodes {
			if n != cut {
				rest = append(rest, n)
			}
		}
		c.Partition([]string{cut}, rest)
		hold()
		c.Heal()
	case 1, 2: // the leader (1) or any node (2) killed and restarted
		victim := nodes[rng.IntN(len(nodes))]
		if rng.IntN(3) == 1 {
			victim = c.WaitLeader(p.heap)
		}
		p.setHandle(victim, nil)
		c.Kill(victim)
		hold()
		c.Restart(victim)
		p.setHandle(victim, p.open(victim))
	case 3: // a consumer stops reading
		k := ks[rng.IntN(len(ks))]
		ch := make(chan struct{})
		k.pause.Store(&ch)
		hold()
		hold()
		k.pause.Store(nil)
		close(ch)
	}
}

// Many watches at once on the followers, half of them not read while
// the writers commit: the commits go on (no watch holds them up), and
// each watch, read at last, brings its consumer every acknowledged commit
// (a resync where it fell behind). Then the heap is dropped under them:
// every watch ends with an error matching ErrClosed that says the heap
// was dropped, and nothing is left running.
func TestWatchProbeManyWatchersAndADrop(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, nil)
	nodes := []string{"n1", "n2", "n3"}
	p := newWProbe(c, "many", nodes)
	defer p.stop()
	c.WaitLeader("many")
	var ks, stalled []*wconsumer
	hold := make(chan struct{})
	for i := range wpCount(64, 256) {
		opts := []oss.WatchOptions{{}, {Buffer: 4}, {Merge: true}, {Rate: 100}, {BufferBytes: 2048}}[i%5]
		k := p.consume(nodes[1+i%2], opts)
		if i%2 == 0 {
			k.pause.Store(&hold)
			stalled = append(stalled, k)
		}
		ks = append(ks, k)
	}
	stop := make(chan struct{})
	p.writers(4, nodes, stop)
	c.Wait("the writers to commit while half the watches are not read", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.acked) >= wpCount(300, 3000)
	})
	p.stopWriters(stop)
	close(hold)
	p.check(t, p.marker(t, nodes), ks)
	t.Logf("%d of the watches were not read while the writers committed", len(stalled))

	var ended sync.WaitGroup
	errs := make(chan error, 2*len(nodes))
	for _, n := range nodes[1:] {
		for _, opts := range []oss.WatchOptions{{}, {Merge: true}} {
			w, err := p.handle(n).Watch(&opts)
			if err != nil {
				t.Fatal(err)
			}
			ended.Go(func() {
				defer w.Close()
				for {
					if _, err := w.Next(context.Background()); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.Node("n1").DropHeap(ctx, "many"); err != nil {
		t.Fatal(err)
	}
	ended.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, oss.ErrClosed) {
			t.Errorf("a watch of a dropped heap ended with %v; want ErrClosed", err)
		}
	}
}

// wpCount is n, or long with OSS_LONG.
func wpCount(n, long int) int {
	if os.Getenv("OSS_LONG") != "" {
		return long
	}
	return n
}

// Watches on a node cut off while its heap is dropped and created again
// under the same name, with commits of its own: once the node is back,
// every watch of the old heap ends with an error matching ErrClosed, none
// delivers an event of the new heap's incarnation (its indexes say
// nothing of the old one's), and a watch resumed on the node's new
// replica from the old version and incarnation starts with a resync that
// holds the new heap's commits and nothing of the old heap.
func TestWatchProbeHeapDroppedAndCreatedWhileTheWatcherIsCutOff(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := osstest.Start(t, 3, nil)
	nodes := []string{"n1", "n2", "n3"}
	p := newWProbe(c, "re", nodes)
	defer p.stop()
	c.WaitLeader("re")
	old := p.marker(t, nodes)
	c.WaitConverged("re")
	h3 := p.handle("n3")
	type taken struct {
		evs []*oss.Event
		err error
	}
	var ws []*oss.Watch
	out := make(chan taken, 3)
	for _, opts := range []oss.WatchOptions{{}, {Merge: true}, {Rate: 50}} {
		w, err := h3.Watch(&opts)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
		go func() {
			var tk taken
			for {
				ev, err := w.Next(ctx)
				if err != nil {
					tk.err = err
					out <- tk
					return
				}
				tk.evs = append(tk.evs, ev)
			}
		}()
	}
	defer func() {
		for _, w := range ws {
			w.Close()
		}
	}()
	first := h3.Stats().Incarnation
	last := h3.Stats().Applied

	c.Partition([]string{"n3"}, []string{"n1", "n2"})
	dropAgainUntilKnown(ctx, t, c.Node("n1"), "re")
	h2, err := c.Node("n2").CreateHeap(ctx, "re", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.setHandle("n1", nil)
	p.setHandle("n2", h2)
	p.setHandle("n3", nil)
	var fresh []uuid.UUID
	for range 20 {
		id, err := p.write("n2", 1)
		if err != nil {
			t.Fatal(err)
		}
		fresh = append(fresh, id)
	}
	c.Heal()
	for range ws {
		tk := osstest.Recv(t, out, "a watch of the dropped heap to end")
		if !errors.Is(tk.err, oss.ErrClosed) {
			t.Errorf("a watch of the dropped heap ended with %v; want ErrClosed", tk.err)
		}
		for _, ev := range tk.evs {
			if ev.Incarnation != first || ev.Index > last && ev.Kind == oss.EventChange {
				t.Errorf("a watch of the dropped heap delivered a %v at %d of incarnation %d (it watched %d up to %d)", ev.Kind, ev.Index, ev.Incarnation, first, last)
			}
		}
	}
	wpResumedOnTheNewHeap(ctx, t, c, h2, wpPosition{last, first}, old, fresh)
}

// wpPosition is a watch's resume point: a version and its incarnation.
type wpPosition struct{ index, inc uint64 }

// wpResumedOnTheNewHeap resumes a watch on n3's replica of the heap
// created again (h2's) from a position of the dropped one: it must start
// with a resync of the new heap, without old, and bring every one of
// fresh.
func wpResumedOnTheNewHeap(ctx context.Context, t *testing.T, c *osstest.Cluster, h2 *oss.Heap, at wpPosition, old uuid.UUID, fresh []uuid.UUID) {
	t.Helper()
	last, first := at.index, at.inc
	var n3 *oss.Heap
	var err error
	c.Wait("n3 to open the new heap", func() bool {
		octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
		defer ocancel()
		n3, err = c.Node("n3").Heap(octx, "re")
		return err == nil && n3.Stats().Incarnation == h2.Stats().Incarnation
	})
	w, err := n3.Watch(&oss.WatchOptions{From: last, Incarnation: first})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != oss.EventResync || ev.Incarnation != h2.Stats().Incarnation {
		t.Fatalf("a watch resumed from the old heap's version on the new heap: first event %v of incarnation %d; want a resync of %d", ev.Kind, ev.Incarnation, h2.Stats().Incarnation)
	}
	// The resync may come before n3 applied all of the new heap's
	// commits: take events until every one is in.
	objs, err := objectsOf(ev)
	if err != nil {
		t.Fatal(err)
	}
	if objs[old] {
		t.Errorf("the resync of the new heap holds the dropped heap's object")
	}
	for missing := func() bool {
		for _, id := range fresh {
			if !objs[id] {
				return true
			}
		}
		return false
	}; missing(); {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range ev.Objects {
			objs[ch.ID] = true
		}
	}
}

// A Next whose ctx ends ends that call only: the watch goes on, and the
// next Next hands out what was committed meanwhile, every commit once,
// with no resync; Close ends it, and a Next after Close returns
// ErrClosed. What the godoc of Watch and Next says.
func TestWatchProbeEndedContextLeavesTheWatchRunning(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 1, nil)
	p := newWProbe(c, "ctx", []string{"n1"})
	defer p.stop()
	h := p.handle("n1")
	w, err := h.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	first, err := w.Next(context.Background())
	if err != nil || first.Kind != oss.EventSnapshot {
		t.Fatalf("first event %v, %v; want a snapshot", first, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := w.Next(ctx)
		done <- err
	}()
	cancel()
	if err := osstest.Recv(t, done, "the cancelled Next"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled ctx: %v", err)
	}
	var ids []uuid.UUID
	for i := range 3 {
		id, err := p.write("n1", i)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		ev, err := w.Next(context.Background())
		if err != nil || ev.Kind != oss.EventChange || len(ev.Objects) != 1 || ev.Objects[0].ID != id {
			t.Fatalf("after a cancelled Next: %+v, %v; want the change of %v", ev, err, id)
		}
	}
	w.Close()
	if _, err := w.Next(context.Background()); !errors.Is(err, oss.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}
