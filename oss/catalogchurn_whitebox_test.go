package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// The catalog churn: workers on three nodes create, open, drop and restore
// the same few heap names at once, while a nemesis restarts nodes and cuts
// one off, and every call is checked against the catalog's own history of
// the names (each entry's group, the index that created it and the one
// that dropped it), which a watch of the catalog on a node never restarted
// records. What a user relies on:
//   - a handle Heap, CreateHeap or CreateHeapIfNotExists returned is of a
//     heap the catalog held under the name, and not of one the calling
//     node's catalog had dropped before the call began;
//   - CreateHeap returning nil created the entry: no other call holds its
//     group before it began, and no two such calls share one;
//   - a write a handle committed to the heap the catalog ends with is in it;
//   - a write refused as dropped is on a heap the catalog dropped;
//   - once the churn stops, every node's table holds the catalog's heaps
//     and no other, and Heap agrees on every node.

// churnNames are the names the workers fight over.
var churnNames = []string{"c0", "c1", "c2"}

// churnOp is one call of a worker, as the checks read it.
type churnOp struct {
	node       int
	name, kind string
	start, end time.Time
	startIdx   uint64 // the calling node's applied catalog index before the call
	endIdx     uint64 // and after it
	group      uint64 // the handle's group, 0 for none
	err        error
	key        uuid.UUID // the write made with the handle, if any
	wrote      bool      // committed
	writeErr   error
	closed     bool // the node was closed after the write
}

// churnLife is one heap of a name in the catalog's history.
type churnLife struct{ created, dropped uint64 }

type churn struct {
	t      *testing.T
	c      *testCluster
	seed   uint64
	long   bool
	backup []byte

	mu    sync.Mutex
	nodes []*Node // by worker's node; nil while down
	ops   []churnOp
	keys  atomic.Uint64
	cuts  atomic.Int64 // partitions the nemesis made
	downs atomic.Int64 // and restarts

	hmu    sync.Mutex
	life   map[string]map[uint64]*churnLife // name → group → life
	cur    map[string]uint64
	resync bool
	twice  []string // an entry replaced without a drop between
}

var churnNodes = []string{"n0", "n1", "n2"}

func churnSeed() uint64 {
	if s := os.Getenv("OSS_CHURN_SEED"); s != "" {
		v, _ := strconv.ParseUint(s, 10, 64)
		return v
	}
	return uint64(time.Now().UnixNano())
}

func newChurn(t *testing.T) *churn {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seed := churnSeed()
	t.Logf("seed %d (OSS_CHURN_SEED=%d repeats it)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("failed with seed %d (OSS_CHURN_SEED=%d repeats it)", seed, seed)
		}
	})
	ch := &churn{t: t, seed: seed, long: os.Getenv("OSS_LONG") != "",
		life: map[string]map[uint64]*churnLife{}, cur: map[string]uint64{}}
	ch.c = startDurable(t, seed, churnNodes, nil)
	for _, name := range churnNodes {
		ch.nodes = append(ch.nodes, ch.c.nodes[name])
	}
	ch.backup = churnBackup(t, ch.c.nodes["n0"])
	return ch
}

// churnBackup is a backup of a small heap, for the restores.
func churnBackup(t *testing.T, n *Node) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	h, err := n.CreateHeap(ctx, "churnsrc", &HeapOptions{Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Update(ctx, func(tx *Tx) error { return Put(tx, answerID(1), 1) }); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := h.Backup(ctx, &b, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// watch records the catalog's history of the names, on n0, until stop.
func (ch *churn) watch(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	var ids []uuid.UUID
	byID := map[uuid.UUID]string{}
	for _, name := range append(churnNames[:len(churnNames):len(churnNames)], churnEnd) {
		ids = append(ids, entryID(name))
		byID[entryID(name)] = name
	}
	w, err := ch.nodes[0].catalog.Load().Watch(&WatchOptions{IDs: ids, Buffer: 1 << 16})
	if err != nil {
		ch.t.Error(err)
		return
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			return
		}
		ch.record(ev, byID)
	}
}

// record folds one event of the catalog's watch into the history.
func (ch *churn) record(ev *Event, byID map[uuid.UUID]string) {
	ch.hmu.Lock()
	defer ch.hmu.Unlock()
	if ev.Kind == EventResync {
		ch.resync = true
	}
	for _, o := range ev.Objects {
		name := byID[o.ID]
		if ch.life[name] == nil {
			ch.life[name] = map[uint64]*churnLife{}
		}
		cur := ch.cur[name]
		if o.Deleted {
			if cur != 0 {
				ch.life[name][cur].dropped = o.Version
			}
			ch.cur[name] = 0
			continue
		}
		var e heapEntry
		if o.Decode(&e) != nil {
			continue
		}
		if e.Group != cur && cur != 0 {
			ch.twice = append(ch.twice, fmt.Sprintf("%s: group %d replaced by %d at %d with no drop", name, cur, e.Group, o.Version))
		}
		if _, ok := ch.life[name][e.Group]; !ok {
			ch.life[name][e.Group] = &churnLife{created: o.Version}
		}
		ch.cur[name] = e.Group
	}
}

func (ch *churn) node(i int) *Node {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.nodes[i]
}

func catalogIndex(n *Node) uint64 { return n.catalog.Load().state.Load().Index() }

// worker calls on node i until stop.
func (ch *churn) worker(i, w int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(ch.seed, uint64(i*16+w)))
	for {
		select {
		case <-stop:
			return
		default:
		}
		n := ch.node(i)
		if n == nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		op := ch.call(n, i, rng)
		ch.mu.Lock()
		ch.ops = append(ch.ops, op)
		ch.mu.Unlock()
	}
}

// call makes one call on n and, with the handle it returned, one write.
func (ch *churn) call(n *Node, i int, rng *rand.Rand) churnOp {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	op := churnOp{node: i, name: churnNames[rng.IntN(len(churnNames))], start: time.Now(), startIdx: catalogIndex(n)}
	var h *Heap
	switch k := rng.IntN(10); {
	case k < 3:
		op.kind = "create"
		h, op.err = n.CreateHeap(ctx, op.name, nil)
	case k < 5:
		op.kind = "ifnot"
		h, op.err = n.CreateHeapIfNotExists(ctx, op.name, nil)
	case k < 7:
		op.kind = "heap"
		h, op.err = n.Heap(ctx, op.name)
	case k < 9:
		op.kind = "drop"
		op.err = n.DropHeap(ctx, op.name)
	default:
		op.kind = "restore"
		_, op.err = n.RestoreHeap(ctx, op.name, bytes.NewReader(ch.backup), nil)
	}
	op.end, op.endIdx = time.Now(), catalogIndex(n)
	if h == nil {
		return op
	}
	op.group = h.group
	op.key = uuid.UUID{0: 'k', 8: byte(ch.seed), 15: byte(ch.keys.Add(1))}
	k := ch.keys.Load()
	op.key[14], op.key[13], op.key[12] = byte(k>>8), byte(k>>16), byte(k>>24)
	op.writeErr = h.Update(ctx, func(tx *Tx) error { return Put(tx, op.key, int(op.group)) })
	op.wrote, op.closed = op.writeErr == nil, n.isClosed()
	return op
}

// nemesis restarts n1 or n2, or cuts a node off for a moment, until stop;
// every node is up and the network whole when it returns.
func (ch *churn) nemesis(stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(ch.seed, 99))
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(200+rng.IntN(500)) * time.Millisecond):
		}
		i := 1 + rng.IntN(2)
		if rng.IntN(2) == 0 {
			ch.restart(i, time.Duration(rng.IntN(300))*time.Millisecond)
			ch.downs.Add(1)
			continue
		}
		cut := churnNodes[rng.IntN(3)]
		var rest []string
		for _, name := range churnNodes {
			if name != cut {
				rest = append(rest, name)
			}
		}
		ch.c.net.Partition([]string{cut}, rest)
		ch.cuts.Add(1)
		time.Sleep(time.Duration(100+rng.IntN(500)) * time.Millisecond)
		ch.c.net.Heal()
	}
}

// restart crashes node i and starts it again from its disk after down.
func (ch *churn) restart(i int, down time.Duration) {
	name := churnNodes[i]
	ch.mu.Lock()
	ch.nodes[i] = nil
	ch.mu.Unlock()
	ch.c.kill(name)
	time.Sleep(down)
	n := ch.c.add(name, true, func(cfg *Config) { cfg.DataDir = "/data/" + name })
	ch.mu.Lock()
	ch.nodes[i] = n
	ch.mu.Unlock()
}

// run churns for d with workers per node, then lets the catalog's watch
// catch up with n0's catalog.
func (ch *churn) run(d time.Duration, workers int) {
	stop, wstop := make(chan struct{}), make(chan struct{})
	watched := make(chan struct{})
	go ch.watch(wstop, watched)
	var wg sync.WaitGroup
	for i := range churnNodes {
		for w := range workers {
			wg.Add(1)
			go func() { defer wg.Done(); ch.worker(i, w, stop) }()
		}
	}
	wg.Add(1)
	go func() { defer wg.Done(); ch.nemesis(stop) }()
	time.Sleep(d)
	close(stop)
	await.Wait(ch.t, &wg, "the churn's workers")
	ch.c.net.Heal()
	ch.settled()
	await.Until(ch.t, "the catalog's watch at the heap created after the churn", func() bool {
		ch.hmu.Lock()
		defer ch.hmu.Unlock()
		return ch.cur[churnEnd] != 0
	})
	close(wstop)
	<-watched
}

// churnEnd is a heap created once the churn stopped: the watch that saw
// its entry has seen every change of the churn.
const churnEnd = "churnend"

// settled creates churnEnd and waits for every node's catalog to apply
// what n0's has then.
func (ch *churn) settled() {
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	for {
		_, err := ch.nodes[0].CreateHeapIfNotExists(ctx, churnEnd, &HeapOptions{Replicas: 1})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			ch.t.Fatalf("a catalog write after the churn: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	at := catalogIndex(ch.nodes[0])
	await.Until(ch.t, "every node's catalog at n0's", func() bool {
		for _, n := range ch.nodes {
			if catalogIndex(n) < at {
				return false
			}
		}
		return true
	})
}

// check holds every call to the catalog's history.
func (ch *churn) check() {
	t := ch.t
	ch.hmu.Lock()
	defer ch.hmu.Unlock()
	if ch.resync {
		t.Fatalf("the catalog's watch resynced: its history of the names is not whole")
	}
	for _, s := range ch.twice {
		t.Errorf("catalog: %s", s)
	}
	creator := map[uint64]churnOp{}
	for _, op := range ch.ops {
		ch.checkOp(op, creator)
	}
	ch.checkCreators(creator)
}

// checkOp holds one call to the history; creator collects the groups
// that CreateHeap calls returned with no error.
func (ch *churn) checkOp(op churnOp, creator map[uint64]churnOp) {
	t := ch.t
	ch.checkNotOpen(op)
	if op.group == 0 {
		if op.kind != "drop" && op.kind != "restore" && op.err == nil {
			t.Errorf("%s %s on n%d: no handle and no error", op.kind, op.name, op.node)
		}
		return
	}
	l, ok := ch.life[op.name][op.group]
	switch {
	case !ok:
		t.Errorf("%s %s on n%d returned a handle of group %d, which the catalog never held under the name", op.kind, op.name, op.node, op.group)
		return
	case l.dropped != 0 && l.dropped <= op.startIdx:
		t.Errorf("%s %s on n%d returned a handle of group %d, dropped at catalog index %d; the node's catalog was at %d when the call began", op.kind, op.name, op.node, op.group, l.dropped, op.startIdx)
	}
	if op.kind == "create" {
		if was, ok := creator[op.group]; ok {
			t.Errorf("two CreateHeap calls of %s (on n%d and n%d) both created group %d", op.name, was.node, op.node, op.group)
		}
		creator[op.group] = op
		if l.created <= op.startIdx {
			t.Errorf("CreateHeap %s on n%d returned group %d, created at catalog index %d, before the call (its node's catalog at %d)", op.name, op.node, op.group, l.created, op.startIdx)
		}
	}
	if op.writeErr != nil && (errors.Is(op.writeErr, ErrClosed) && !op.closed) && l.dropped == 0 {
		t.Errorf("%s %s on n%d: a write on group %d, which the catalog never dropped: %v", op.kind, op.name, op.node, op.group, op.writeErr)
	}
}

// checkCreators: no call held a group CreateHeap created before that
// CreateHeap began.
func (ch *churn) checkCreators(creator map[uint64]churnOp) {
	for _, op := range ch.ops {
		c, ok := creator[op.group]
		if ok && op.group != 0 && op.end.Before(c.start) {
			ch.t.Errorf("%s %s on n%d returned group %d before CreateHeap on n%d, which says it created it, began", op.kind, op.name, op.node, op.group, c.node)
		}
	}
}

// checkWrites: every write committed with a handle of the heap the catalog
// ends with is in it, read on every node.
func (ch *churn) checkWrites() {
	t := ch.t
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	for _, name := range churnNames {
		g := ch.cur[name]
		if g == 0 {
			continue
		}
		for i, n := range ch.nodes {
			h, err := n.Heap(ctx, name)
			if err != nil {
				t.Errorf("Heap %s on n%d after the churn: %v", name, i, err)
				continue
			}
			if h.group != g {
				t.Errorf("Heap %s on n%d after the churn: group %d; the catalog's is %d", name, i, h.group, g)
				continue
			}
			ch.checkWritesIn(ctx, h, i, name)
		}
	}
}

func (ch *churn) checkWritesIn(ctx context.Context, h *Heap, i int, name string) {
	var missing []string
	err := h.View(ctx, func(tx *Tx) error {
		for _, op := range ch.ops {
			if op.name != name || !op.wrote || op.group != h.group {
				continue
			}
			if ok, err := tx.Exists(op.key); err != nil {
				return err
			} else if !ok {
				missing = append(missing, fmt.Sprintf("%s on n%d (key %v)", op.kind, op.node, op.key))
			}
		}
		return nil
	}, nil)
	if err != nil {
		ch.t.Errorf("read %s on n%d: %v", name, i, err)
	}
	for _, m := range missing {
		ch.t.Errorf("%s, group %d, read on n%d: a write acknowledged with the handle of %s is missing", name, h.group, i, m)
	}
}

// converged reports whether every node's table holds the catalog's heaps
// of the names and no other, with what differs.
func (ch *churn) converged() (bool, string) {
	for i, n := range ch.nodes {
		for _, name := range churnNames {
			e, ok := n.catalogEntry(name)
			h := n.replicaOf(name)
			switch {
			case !ok && h != nil:
				return false, fmt.Sprintf("n%d holds group %d of %s, which the catalog has not", i, h.group, name)
			case ok && h != nil && h.group != e.Group:
				return false, fmt.Sprintf("n%d holds group %d of %s; the catalog's is %d", i, h.group, name, e.Group)
			case ok && h == nil && e.FirstVoter(n.id):
				if retired, _ := n.wasRetired(name, e.Group); !retired {
					return false, fmt.Sprintf("n%d, a first voter of %s (group %d), holds no replica of it", i, name, e.Group)
				}
			}
		}
	}
	return true, ""
}

// finish checks the churn's calls and the nodes once it stopped.
func (ch *churn) finish() {
	t := ch.t
	ch.check()
	why := ""
	await.Until(t, "every node's table as the catalog says", func() bool {
		var ok bool
		ok, why = ch.converged()
		return ok
	})
	ch.checkWrites()
	counts := map[string]int{}
	for _, op := range ch.ops {
		res := churnClass(op.err)
		if res == "other" {
			t.Logf("%s %s on n%d: %v", op.kind, op.name, op.node, op.err)
		}
		counts[op.kind+" "+res]++
	}
	groups := 0
	for _, l := range ch.life {
		groups += len(l)
	}
	t.Logf("%d calls, %d restarts, %d partitions, %d heaps of %d names in the catalog's history: %v%s", len(ch.ops), ch.downs.Load(), ch.cuts.Load(), groups, len(churnNames), counts, why)
}

// TestCatalogChurnAcrossNodes: create, open, drop and restore of the same
// names from three nodes at once, with restarts and partitions, hold
// every call to the catalog's history, and the nodes converge after.
func TestCatalogChurnAcrossNodes(t *testing.T) {
	ch := newChurn(t)
	d := 3 * time.Second
	if ch.long {
		d = 60 * time.Second
	}
	ch.run(d, 2)
	ch.finish()
}

// churnClass names the class of a call's error, for the log.
func churnClass(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{{nil, "ok"}, {ErrHeapExists, "exists"}, {ErrNoHeap, "noheap"}, {ErrCreatedNotOpen, "creatednotopen"},
		{ErrCommitUnknown, "unknown"}, {ErrNoQuorum, "noquorum"}, {ErrClosed, "closed"}, {context.DeadlineExceeded, "deadline"}} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "other"
}

// checkNotOpen: a call that says it created a heap it could not open
// names (when it knows it) a group the catalog held; one that says the
// heap was dropped as it opened names a group the catalog dropped.
func (ch *churn) checkNotOpen(op churnOp) {
	var cn *createdNotOpen
	if !errors.As(op.err, &cn) {
		return
	}
	l, ok := ch.life[op.name][cn.group]
	switch {
	case !ok:
		ch.t.Errorf("%s %s on n%d: %v; its group %d was never in the catalog", op.kind, op.name, op.node, op.err, cn.group)
	case l.created <= op.startIdx:
		ch.t.Errorf("%s %s on n%d: %v; its group %d was created at %d, before the call (its node's catalog at %d)", op.kind, op.name, op.node, op.err, cn.group, l.created, op.startIdx)
	case l.dropped == 0 && strings.Contains(op.err.Error(), "dropped while it opened"):
		ch.t.Errorf("%s %s on n%d: %v; its group %d was never dropped", op.kind, op.name, op.node, op.err, cn.group)
	}
}

// TestRacingCreateIfNotExistsOpenOneHeap: CreateHeapIfNotExists of fresh
// names from every node at once, with no drop, open one heap per name,
// and Heap on every node after returns it.
func TestRacingCreateIfNotExistsOpenOneHeap(t *testing.T) {
	ch := newChurn(t)
	rounds := 5
	if ch.long {
		rounds = 50
	}
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	for r := range rounds {
		name := fmt.Sprintf("race%d", r)
		groups := make([]uint64, 3*len(ch.nodes))
		var wg sync.WaitGroup
		for i := range groups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h, err := ch.nodes[i%len(ch.nodes)].CreateHeapIfNotExists(ctx, name, nil)
				for errors.Is(err, ErrNoQuorum) && ctx.Err() == nil {
					time.Sleep(10 * time.Millisecond)
					h, err = ch.nodes[i%len(ch.nodes)].CreateHeapIfNotExists(ctx, name, nil)
				}
				if err != nil {
					t.Errorf("seed %d: CreateHeapIfNotExists %s: %v", ch.seed, name, err)
					return
				}
				groups[i] = h.group
			}()
		}
		await.Wait(t, &wg, "the racing creates")
		for i, n := range ch.nodes {
			h, err := n.Heap(ctx, name)
			if err != nil {
				t.Fatalf("Heap %s on n%d: %v", name, i, err)
			}
			groups = append(groups, h.group)
		}
		for _, g := range groups {
			if g != groups[0] {
				t.Fatalf("seed %d: %s: the racing calls and Heap after them opened groups %v; want one", ch.seed, name, groups)
			}
		}
	}
}
