// Package transporttest is an in-memory network implementing
// transport.Transport, for tests: seeded and deterministic, with
// partitions, drops, delays, duplicates and reordering.
//
// A Network keeps every message in flight in a queue ordered by virtual
// delivery time. Step delivers the next one, calling the receiver's handler
// on the caller's goroutine; with the same seed and the same sends, the
// same sequence of deliveries follows, so a run can be replayed exactly.
// Start runs delivery on a goroutine of its own, in real time, for tests
// of code that expects a live network.
package transporttest

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/objectsharing/oss/transport"
)

// Faults are applied to every message sent after they are set.
type Faults struct {
	// Drop, Duplicate: probabilities in [0, 1] per message.
	Drop, Duplicate float64
	// MinDelay, MaxDelay: a delay drawn uniformly from this range.
	MinDelay, MaxDelay time.Duration
	// Reorder lets messages between one pair of nodes overtake each other;
	// without it they arrive in the order sent (unless dropped).
	Reorder bool
}

// Stats count what the network did.
type Stats struct {
	Sent, Delivered, Dropped, Duplicated, Blocked uint64
}

type envelope struct {
	at       time.Duration // virtual delivery time
	seq      uint64
	from, to string
	msg      []byte
	call     *pendingCall // nil for one-way messages
	reply    bool
	header   []byte // set for a stream, whose body is msg
	stream   bool
}

type pendingCall struct {
	done chan callResult
}

type callResult struct {
	resp []byte
	err  error
}

// Network connects endpoints.
type Network struct {
	mu        sync.Mutex // protects following fields
	rng       *rand.Rand
	now       time.Duration
	seq       uint64
	queue     envelopes
	endpoints map[string]*Endpoint
	meta      map[string][]byte  // membership records, by node
	follow    bool               // Live hides the nodes a node cannot reach
	group     map[string]int     // partition group per node; absent = 0
	cut       map[[2]string]bool // links cut both ways, on top of groups
	oneway    map[[2]string]bool // links cut from [0] to [1] only
	faults    Faults
	last      map[[2]string]time.Duration // last delivery time per pair, for FIFO
	stats     Stats
	trace     uint64 // hash of the deliveries so far
	scratch   []byte // traceHeader's, reused for every delivery
	wake      chan struct{}
	ctx       context.Context // handlers' context, ended by Stop
	cancel    context.CancelFunc
	handlers  sync.WaitGroup // calls and streams handled on their own goroutines
	stop      chan struct{}
	done      chan struct{}
	started   bool
	start     time.Time // real time of Start, when started
}

// envelopes is a min-heap by (delivery time, sequence).
type envelopes []*envelope

func (q envelopes) Len() int { return len(q) }
func (q envelopes) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q envelopes) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *envelopes) Push(x any)   { *q = append(*q, x.(*envelope)) }
func (q *envelopes) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// clock advances virtual time to real time when the network runs on its
// own. Called with n.mu held.
func (n *Network) clock() time.Duration {
	if n.started {
		n.now = max(n.now, time.Since(n.start))
	}
	return n.now
}

// NewNetwork returns an empty network whose randomness comes from seed.
func NewNetwork(seed uint64) *Network {
	return &Network{
		rng:       rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)),
		endpoints: make(map[string]*Endpoint),
		meta:      make(map[string][]byte),
		group:     make(map[string]int),
		last:      make(map[[2]string]time.Duration),
		wake:      make(chan struct{}, 1),
		ctx:       context.Background(),
	}
}

// Endpoint attaches a node to the network.
func (n *Network) Endpoint(name string, h transport.Handler) *Endpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := &Endpoint{net: n, name: name, h: h}
	n.endpoints[name] = e
	return e
}

// Attach attaches a node to the network, as Endpoint does: a Network
// is a transport.Network, which a node takes in place of QUIC and gossip.
func (n *Network) Attach(name string, h transport.Handler) (transport.Transport, error) {
	return n.Endpoint(name, h), nil
}

var _ transport.Network = (*Network)(nil)

// Announce sets the named node's membership record; nil withdraws it.
func (n *Network) Announce(name string, meta []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if meta == nil {
		delete(n.meta, name)
		return
	}
	n.meta[name] = append([]byte(nil), meta...)
}

// Live returns the records of the nodes that announced one and whose
// endpoint is attached and open, sorted by name. Partitions hide nobody
// unless FollowPartitions is on: a failure detector that never suspects.
func (n *Network) Live(self string) []transport.Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []transport.Peer
	for name, meta := range n.meta {
		e := n.endpoints[name]
		if e == nil || e.isClosed() || n.follow && name != self && !n.reachable(self, name) {
			continue
		}
		out = append(out, transport.Peer{Name: name, Meta: append([]byte(nil), meta...)})
	}
	slices.SortFunc(out, func(a, b transport.Peer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// FollowPartitions makes Live follow the network: a node cut off from
// another is missing from its live set, as a failure detector would
// declare it dead once a partition outlasts its timeouts (here at once).
func (n *Network) FollowPartitions(on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.follow = on
}

// SetFaults sets the faults applied to messages sent from now on.
func (n *Network) SetFaults(f Faults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = f
}

// Partition splits the network: nodes in different groups cannot reach
// each other; nodes in no group form one more group.
func (n *Network) Partition(groups ...[]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.group)
	for i, g := range groups {
		for _, name := range g {
			n.group[name] = i + 1
		}
	}
}

// Heal removes every partition and cut.
func (n *Network) Heal() {
	n.Partition()
	n.mu.Lock()
	clear(n.cut)
	clear(n.oneway)
	n.mu.Unlock()
}

// Stats returns the network's counters.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Trace returns a hash of every delivery so far (time, endpoints, bytes):
// two runs with the same seed and the same sends have the same trace.
func (n *Network) Trace() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.trace
}

// Now is the network's virtual time.
func (n *Network) Now() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.now
}

// Reachable reports whether messages from a to b get through the
// partitions and cuts in force: what a failure detector would see, for
// tests whose membership follows the network.
func (n *Network) Reachable(a, b string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reachable(a, b)
}

func (n *Network) reachable(a, b string) bool {
	return n.group[a] == n.group[b] && !n.cut[[2]string{a, b}] && !n.cut[[2]string{b, a}] && !n.oneway[[2]string{a, b}]
}

// CutOneWay cuts each link from pair[0] to pair[1] only, on top of any
// partition: pair[1] still reaches pair[0]. A call needs both ways, so
// a call either way between them fails; one-way messages from pair[1]
// arrive. Heal restores them.
func (n *Network) CutOneWay(pairs ...[2]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.oneway == nil {
		n.oneway = map[[2]string]bool{}
	}
	for _, p := range pairs {
		n.oneway[p] = true
	}
}

// Cut cuts the links between each pair, both ways, on top of any
// partition: a node can then reach some of the others but not all (a
// bridge between two sides that cannot reach each other). Heal restores
// them.
func (n *Network) Cut(pairs ...[2]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut == nil {
		n.cut = map[[2]string]bool{}
	}
	for _, p := range pairs {
		n.cut[p] = true
	}
}

// enqueue puts a message in flight, applying faults. Called with n.mu held.
func (n *Network) enqueue(e *envelope) {
	n.stats.Sent++
	if !n.reachable(e.from, e.to) {
		n.stats.Blocked++
		e.lost()
		return
	}
	f := n.faults
	if !e.reply && e.call == nil && f.Drop > 0 && n.rng.Float64() < f.Drop {
		n.stats.Dropped++
		return
	}
	copies := 1
	if e.call == nil && !e.reply && f.Duplicate > 0 && n.rng.Float64() < f.Duplicate {
		copies = 2
		n.stats.Duplicated++
	}
	for range copies {
		c := *e
		delay := f.MinDelay
		if f.MaxDelay > f.MinDelay {
			delay += time.Duration(n.rng.Int64N(int64(f.MaxDelay - f.MinDelay)))
		}
		c.at = n.clock() + delay
		pair := [2]string{e.from, e.to}
		if !f.Reorder && c.at < n.last[pair] {
			c.at = n.last[pair]
		}
		n.last[pair] = c.at
		n.seq++
		c.seq = n.seq
		heap.Push(&n.queue, &c)
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// lost fails the call a blocked envelope belongs to, if any: its request
// never arrived, or its answer is lost, which the caller learns as it
// would from a connection that breaks (though the callee may have acted
// on the call). Without it a caller would wait out its deadline, as no
// connection with keep-alives lets it.
func (e *envelope) lost() {
	switch {
	case e.call == nil:
	case e.reply:
		e.call.done <- callResult{err: fmt.Errorf("%w: the answer of %q was lost", transport.ErrUnreachable, e.from)}
	default:
		e.call.done <- callResult{err: fmt.Errorf("%w: %q", transport.ErrUnreachable, e.to)}
	}
}

// next removes the earliest message, or returns nil. Called with n.mu held.
func (n *Network) next() *envelope {
	if len(n.queue) == 0 {
		return nil
	}
	e := heap.Pop(&n.queue).(*envelope)
	if e.at > n.now {
		n.now = e.at
	}
	return e
}

// Step delivers the next message in flight and reports whether there was
// one. The handler runs on the caller's goroutine.
func (n *Network) Step() bool { return n.step(false) }

// step delivers the next message in flight. With async, as the network's
// own delivery does once Started, a call or a stream is handled on a
// goroutine of its own, as a real transport handles each on its stream:
// a handler that takes long (a snapshot decoded, a catalog write to
// register a node) holds up its caller only, not every message of the
// network. Step, for a simulation, keeps one goroutine and its order.
func (n *Network) step(async bool) bool {
	n.mu.Lock()
	e := n.next()
	if e == nil {
		n.mu.Unlock()
		return false
	}
	dst, ok := n.endpoints[e.to]
	blocked := !n.reachable(e.from, e.to) || !ok || dst.isClosed()
	if blocked {
		n.stats.Blocked++
	} else {
		n.stats.Delivered++
		h := fnv.New64a()
		n.scratch = traceHeader(n.scratch[:0], n.trace, e)
		h.Write(n.scratch)
		h.Write(e.msg)
		n.trace = h.Sum64()
	}
	ctx := n.ctx
	if async && !blocked && !e.reply && e.call != nil {
		n.handlers.Add(1)
		n.mu.Unlock()
		go func() {
			defer n.handlers.Done()
			n.handle(ctx, dst, e)
		}()
		return true
	}
	n.mu.Unlock()
	switch {
	case blocked:
		e.lost()
	case e.reply:
		e.call.done <- callResult{resp: e.msg}
	default:
		n.handle(ctx, dst, e)
	}
	return true
}

// handle hands a message, call or stream to its endpoint's handler and
// sends the answer back.
func (n *Network) handle(ctx context.Context, dst *Endpoint, e *envelope) {
	switch {
	case e.stream:
		err := dst.h.HandleStream(ctx, e.from, e.header, bytes.NewReader(e.msg))
		if err != nil {
			e.call.done <- callResult{err: &transport.RemoteError{Peer: e.to, Message: err.Error()}}
			return
		}
		n.mu.Lock()
		n.enqueue(&envelope{from: e.to, to: e.from, call: e.call, reply: true})
		n.mu.Unlock()
	case e.call != nil:
		resp, err := dst.h.HandleCall(ctx, e.from, e.msg)
		if err != nil {
			e.call.done <- callResult{err: &transport.RemoteError{Peer: e.to, Message: err.Error()}}
			return
		}
		n.mu.Lock()
		n.enqueue(&envelope{from: e.to, to: e.from, msg: resp, call: e.call, reply: true})
		n.mu.Unlock()
	default:
		dst.h.HandleMessage(e.from, e.msg)
	}
}

// Next returns the virtual time at which the next message in flight is
// due, or false if none is.
func (n *Network) Next() (time.Duration, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.queue) == 0 {
		return 0, false
	}
	return n.queue[0].at, true
}

// AdvanceTo moves virtual time forward to t (never back): messages sent
// from now on are due after it. For a simulation that keeps its own clock.
func (n *Network) AdvanceTo(t time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.now = max(n.now, t)
}

// RunUntilIdle steps until nothing is in flight, at most max steps, and
// returns the number of steps taken.
func (n *Network) RunUntilIdle(max int) int {
	i := 0
	for i < max && n.Step() {
		i++
	}
	return i
}

// Start delivers messages on a goroutine of the network's own, in real
// time: virtual delays become real sleeps. Stop ends it.
func (n *Network) Start() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return
	}
	n.started = true
	n.start = time.Now().Add(-n.now)
	n.stop = make(chan struct{})
	n.done = make(chan struct{})
	n.ctx, n.cancel = context.WithCancel(context.Background())
	go n.run()
}

func (n *Network) run() {
	defer close(n.done)
	for {
		n.mu.Lock()
		now := n.clock()
		due, wait := false, time.Duration(-1)
		if len(n.queue) > 0 {
			due = n.queue[0].at <= now
			wait = n.queue[0].at - now
		}
		n.mu.Unlock()
		if due {
			n.step(true)
			continue
		}
		var timer <-chan time.Time
		var t *time.Timer
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-timer:
		case <-n.wake:
		case <-n.stop:
		}
		if t != nil {
			t.Stop()
		}
		select {
		case <-n.stop:
			return
		default:
		}
	}
}

// Stop ends delivery started by Start, and fails calls still in flight.
func (n *Network) Stop() {
	n.mu.Lock()
	if !n.started {
		n.mu.Unlock()
		return
	}
	n.started = false
	close(n.stop)
	n.cancel()
	n.ctx = context.Background()
	n.mu.Unlock()
	<-n.done
	n.handlers.Wait()
	n.mu.Lock()
	q := n.queue
	n.queue = nil
	n.mu.Unlock()
	for _, e := range q {
		if e.call != nil {
			e.call.done <- callResult{err: transport.ErrClosed}
		}
	}
}

// Endpoint is one node's attachment to a Network.
type Endpoint struct {
	net  *Network
	name string
	h    transport.Handler

	mu     sync.Mutex // protects closed
	closed bool
}

var _ transport.Transport = (*Endpoint)(nil)

// Name returns the node's name.
func (e *Endpoint) Name() string { return e.name }

func (e *Endpoint) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// Send puts a one-way message in flight. It never waits: the network's
// queue stands for the wire. So ctx, which bounds only a wait for room
// (transport.Transport), never refuses a message, as the QUIC transport
// takes one its peer's queue has room for whatever its context.
func (e *Endpoint) Send(_ context.Context, to string, msg []byte) error {
	if e.isClosed() {
		return transport.ErrClosed
	}
	n := e.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.endpoints[to]; !ok {
		return fmt.Errorf("%w: %q", transport.ErrUnknownPeer, to)
	}
	n.enqueue(&envelope{from: e.name, to: to, msg: append([]byte(nil), msg...)})
	return nil
}

// Call sends a request and waits for the answer, until ctx ends. A request
// across a partition fails with transport.ErrUnreachable when its delivery
// comes due.
func (e *Endpoint) Call(ctx context.Context, to string, req []byte) ([]byte, error) {
	if e.isClosed() {
		return nil, transport.ErrClosed
	}
	n := e.net
	pc := &pendingCall{done: make(chan callResult, 2)}
	n.mu.Lock()
	if _, ok := n.endpoints[to]; !ok {
		n.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", transport.ErrUnknownPeer, to)
	}
	if !n.reachable(e.name, to) {
		n.stats.Sent++
		n.stats.Blocked++
		n.mu.Unlock()
		return nil, fmt.Errorf("%w: %q (partitioned)", transport.ErrUnreachable, to)
	}
	n.enqueue(&envelope{from: e.name, to: to, msg: append([]byte(nil), req...), call: pc})
	n.mu.Unlock()
	select {
	case r := <-pc.done:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SendStream delivers header and body as one event, read into memory
// first, and waits for the receiver's answer like Call.
func (e *Endpoint) SendStream(ctx context.Context, to string, header []byte, body io.Reader) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if e.isClosed() {
		return transport.ErrClosed
	}
	n := e.net
	pc := &pendingCall{done: make(chan callResult, 2)}
	n.mu.Lock()
	if _, ok := n.endpoints[to]; !ok {
		n.mu.Unlock()
		return fmt.Errorf("%w: %q", transport.ErrUnknownPeer, to)
	}
	if !n.reachable(e.name, to) {
		n.stats.Sent++
		n.stats.Blocked++
		n.mu.Unlock()
		return fmt.Errorf("%w: %q (partitioned)", transport.ErrUnreachable, to)
	}
	n.enqueue(&envelope{from: e.name, to: to, msg: data, header: append([]byte(nil), header...), call: pc, stream: true})
	n.mu.Unlock()
	select {
	case r := <-pc.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close detaches the endpoint: it sends and receives nothing more.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

// traceHeader appends what the trace hashes of a delivery before its
// message to b: the trace so far, the delivery's time, sender, recipient
// and whether it is a reply, as fmt's "%d|%d|%s|%s|%t|" writes them (the
// traces of runs are unchanged). fmt.Fprintf was a tenth of a simulated
// run's time, and more under the race detector.
func traceHeader(b []byte, trace uint64, e *envelope) []byte {
	b = strconv.AppendUint(b, trace, 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(e.at), 10)
	b = append(b, '|')
	b = append(b, e.from...)
	b = append(b, '|')
	b = append(b, e.to...)
	b = append(b, '|')
	b = strconv.AppendBool(b, e.reply)
	return append(b, '|')
}
