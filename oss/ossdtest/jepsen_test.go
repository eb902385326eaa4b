package ossdtest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/internal/testkit/check"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// udpProxy stands between one ossd node's socket and its peers: the node
// advertises the proxy's address, and the proxy forwards each peer's
// datagrams from a socket of its own for that peer, and the answers back.
// It drops the datagrams of the peers it is told to cut off, both ways.
type udpProxy struct {
	front *net.UDPConn
	wg    sync.WaitGroup

	mu     sync.Mutex
	target *net.UDPAddr            // the node's own socket; nil until it starts
	backs  map[string]*net.UDPConn // per peer's address, the socket the node sees it at
	cut    map[string]bool         // peers' addresses cut off from the node
	peers  map[string]*net.UDPAddr // by address, for the answers
	closed bool
}

func newUDPProxy() (*udpProxy, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	p := &udpProxy{front: c, backs: map[string]*net.UDPConn{}, cut: map[string]bool{}, peers: map[string]*net.UDPAddr{}}
	p.wg.Go(p.forward)
	return p, nil
}

func (p *udpProxy) addr() string { return p.front.LocalAddr().String() }

func (p *udpProxy) setTarget(listen string) {
	a, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		panic(err)
	}
	p.mu.Lock()
	p.target = a
	p.mu.Unlock()
}

// setCut replaces the set of peers (by their listen addresses) cut off.
func (p *udpProxy) setCut(addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.cut)
	for _, a := range addrs {
		p.cut[a] = true
	}
}

func (p *udpProxy) isCut(from string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut[from]
}

// forward takes the peers' datagrams to the node.
func (p *udpProxy) forward() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.front.ReadFromUDP(buf)
		if err != nil {
			return
		}
		back := p.backFor(from)
		if back == nil {
			continue
		}
		back.Write(buf[:n])
	}
}

// backFor returns the socket that carries from's datagrams to the node,
// or nil if from is cut off or the node has not started.
func (p *udpProxy) backFor(from *net.UDPAddr) *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := from.String()
	if p.closed || p.target == nil || p.cut[key] {
		return nil
	}
	if b := p.backs[key]; b != nil {
		return b
	}
	b, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, p.target)
	if err != nil {
		return nil
	}
	p.backs[key], p.peers[key] = b, from
	p.wg.Go(func() { p.answer(b, from) })
	return b
}

// answer takes the node's datagrams to one peer.
func (p *udpProxy) answer(b *net.UDPConn, to *net.UDPAddr) {
	buf := make([]byte, 64<<10)
	for {
		n, err := b.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && !p.isClosed() {
				continue // ICMP unreachable while the node is down
			}
			return
		}
		if !p.isCut(to.String()) {
			p.front.WriteToUDP(buf[:n], to)
		}
	}
}

func (p *udpProxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *udpProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.front.Close()
	for _, b := range p.backs {
		b.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// proxied is a cluster of ossd processes whose peers reach each other
// only through udpProxy, so that the network between them can be cut.
type proxied struct {
	mu      sync.Mutex
	proxies map[string]*udpProxy
	listen  map[string]string // each node's own address
}

func (px *proxied) via(name, listen string) string {
	px.mu.Lock()
	defer px.mu.Unlock()
	p := px.proxies[name]
	if p == nil {
		var err error
		if p, err = newUDPProxy(); err != nil {
			panic(err)
		}
		px.proxies[name] = p
	}
	p.setTarget(listen)
	px.listen[name] = listen
	return p.addr()
}

// partition cuts every node of one side off from every node of the other;
// nodes in neither are cut off from nobody.
func (px *proxied) partition(a, b []string) {
	px.mu.Lock()
	defer px.mu.Unlock()
	cut := map[string][]string{}
	for _, x := range a {
		for _, y := range b {
			cut[x] = append(cut[x], px.listen[y])
			cut[y] = append(cut[y], px.listen[x])
		}
	}
	for name, p := range px.proxies {
		p.setCut(cut[name])
	}
}

func (px *proxied) heal() { px.partition(nil, nil) }

func (px *proxied) close() {
	for _, p := range px.proxies {
		p.close()
	}
}

// leaderOf returns the name of the heap's leader as a node reports it.
func leaderOf(ctx context.Context, p *ossdtest.Proc, heap string) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	hs, err := p.Heaps(ctx)
	if err != nil {
		return ""
	}
	for _, h := range hs {
		if h.Name == heap {
			return h.Leader
		}
	}
	return ""
}

// makeLists makes n empty lists, roots list-0 and on, and returns their
// IDs.
func makeLists(ctx context.Context, t *testing.T, p *ossdtest.Proc, n int) []uuid.UUID {
	ids := make([]uuid.UUID, n)
	for k := range ids {
		ids[k] = putRoot(ctx, t, p, "h", fmt.Sprint("list-", k), []int{}).ID
	}
	return ids
}

// runLists starts six clients that run listTxn on processes they pick at
// random; stop ends them.
func runLists(ctx context.Context, seed uint64, ids []uuid.UUID, nodes int, proc func(int) *ossdtest.Proc, rec *check.Recorder) (stop func()) {
	var next [4]atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for p := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(p)+1))
			for {
				select {
				case <-done:
					return
				default:
				}
				listTxn(ctx, proc(rng.IntN(nodes)), p, rng, ids, &next, rec)
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// startProxied starts ossd processes, in Sync mode, whose peers reach
// each other through proxies.
func startProxied(ctx context.Context, t *testing.T, replaceAfter string, names ...string) (*ossdtest.Cluster, *proxied, []*ossdtest.Proc) {
	dir := t.TempDir()
	bin := ossdBin
	c, err := ossdtest.New(ctx, dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	px := &proxied{proxies: map[string]*udpProxy{}, listen: map[string]string{}}
	c.Via = px.via
	c.Flags = []string{"--gossip", "loopback", "--durability", "sync", "--replace-after", replaceAfter}
	procs := make([]*ossdtest.Proc, len(names))
	for i, name := range names {
		if procs[i], err = c.Start(ctx, name, procs[:i]...); err != nil {
			c.Close()
			px.close()
			t.Fatal(err)
		}
	}
	return c, px, procs
}

// TestOssdPartitions runs the list-append workload of TestOssdHarness on
// three ossd processes whose QUIC traffic passes through proxies that cut
// it: one node or the heap's leader cut off, a bridge (two nodes that
// reach only the third), the leader paused with SIGSTOP while cut, and
// SIGKILL with a restart while the others are cut apart, SIGTERM (a
// hand-over and leave) while one peer is cut off, and a restart. No
// anomaly, no acknowledged append lost.
func TestOssdPartitions(t *testing.T) {
	seed, run, ctx, cancel := harnessRun(21, 3*time.Second)
	defer cancel()
	c, px, procs := startProxied(ctx, t, "1m", "n1", "n2", "n3")
	defer c.Close()
	defer px.close()
	names := []string{"n1", "n2", "n3"}
	defer func() {
		if t.Failed() {
			for _, p := range procs {
				t.Logf("%s:\n%s", p.Name, p.Tail(20))
			}
			t.Logf("replay the schedule with: go test ./oss/ossdtest -run TestOssdPartitions -harness.seed %d", seed)
		}
	}()
	ids := makeLists(ctx, t, procs[0], 4)
	var mu sync.Mutex // guards procs against the nemesis
	proc := func(i int) *ossdtest.Proc {
		mu.Lock()
		defer mu.Unlock()
		return procs[i%len(procs)]
	}
	rec := check.NewRecorder()
	stop := runLists(ctx, seed, ids, len(names), proc, rec)
	rng := rand.New(rand.NewPCG(seed, 0x6e656d))
	nem := &netNemesis{t: t, ctx: ctx, c: c, px: px, names: names, rng: rng, faults: map[string]int{},
		proc: proc, replace: func(i int, np *ossdtest.Proc) {
			mu.Lock()
			procs[i] = np
			mu.Unlock()
		}}
	for goOn := faultsGoOn(t, run, rec); goOn(); {
		nem.step()
	}
	stop()
	checkLists(ctx, t, seed, rec, ids, proc, nem.faults)
}

// netNemesis cuts the network between ossd processes, pauses and kills
// them.
type netNemesis struct {
	t       *testing.T
	ctx     context.Context
	c       *ossdtest.Cluster
	px      *proxied
	names   []string
	rng     *rand.Rand
	faults  map[string]int
	proc    func(i int) *ossdtest.Proc
	replace func(i int, np *ossdtest.Proc) // a restarted process in place of the killed one
}

func (n *netNemesis) hold(lo, hi int) {
	time.Sleep(time.Duration(lo+n.rng.IntN(hi-lo)) * time.Millisecond)
}

func (n *netNemesis) others(name string) []string {
	var out []string
	for _, x := range n.names {
		if x != name {
			out = append(out, x)
		}
	}
	return out
}

// leader returns the index of the heap's leader as node i reports it, or
// i if it names none.
func (n *netNemesis) leader(i int) int {
	lead := leaderOf(n.ctx, n.proc(i), "h")
	for j, x := range n.names {
		if x == lead {
			return j
		}
	}
	return i
}

// step injects one fault, holds it, and heals the network.
func (n *netNemesis) step() {
	n.hold(200, 600)
	i := n.rng.IntN(len(n.names))
	switch n.rng.IntN(6) {
	case 0: // one node cut off
		n.px.partition(n.names[i:i+1], n.others(n.names[i]))
		n.faults["isolate"]++
		n.hold(300, 3000)
	case 1: // the leader cut off: it goes on believing it leads
		lead := n.names[n.leader(i)]
		n.px.partition([]string{lead}, n.others(lead))
		n.faults["isolate leader"]++
		n.hold(300, 3000)
	case 2: // a bridge: two nodes that reach each other only through the third
		n.px.partition([]string{n.names[i]}, []string{n.names[(i+1)%len(n.names)]})
		n.faults["bridge"]++
		n.hold(300, 3000)
	case 3: // the leader paused while the others elect, then back
		p := n.proc(n.leader(i))
		p.Pause()
		n.faults["pause leader"]++
		n.hold(1000, 4000)
		p.Resume()
	case 4: // a node killed while the others are cut apart, restarted
		p := n.proc(i)
		p.Kill()
		n.faults["SIGKILL"]++
		o := n.others(n.names[i])
		n.px.partition(o[:1], o[1:])
		n.hold(100, 1500)
		n.px.heal()
		np, err := n.c.Restart(n.ctx, p, n.proc(i+1))
		if err != nil {
			n.t.Fatalf("restart %s: %v", p.Name, err)
		}
		n.replace(i, np)
	case 5: // a node stopped with SIGTERM (hand-over, leave) while one peer is cut off from it, restarted
		p := n.proc(i)
		o := n.others(n.names[i])
		n.px.partition(n.names[i:i+1], o[:1])
		n.faults["SIGTERM"]++
		if err := p.Stop(30 * time.Second); err != nil {
			n.t.Logf("stop %s: %v", p.Name, err)
		}
		n.px.heal()
		n.hold(100, 1000)
		np, err := n.c.Restart(n.ctx, p, n.proc(i+1))
		if err != nil {
			n.t.Fatalf("restart %s after SIGTERM: %v", p.Name, err)
		}
		n.replace(i, np)
	}
	n.px.heal()
}

// converged waits until every process reports the same digest of the
// heap at the same index, and the heap's group holds a replica on each.
func converged(ctx context.Context, t *testing.T, procs []*ossdtest.Proc, heap string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var ds []string
		for _, p := range procs {
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			d, err := p.Digest(dctx, heap)
			cancel()
			if err != nil {
				ds = append(ds, p.Name+": "+err.Error())
				continue
			}
			ds = append(ds, fmt.Sprintf("%d/%s", d.Index, d.Digest))
		}
		last = fmt.Sprint(ds)
		same := true
		for _, d := range ds {
			same = same && d == ds[0]
		}
		if !same {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		hs, err := procs[0].Heaps(hctx)
		cancel()
		for _, h := range hs {
			if err == nil && h.Name == heap && len(h.Voters)+len(h.Learners) == len(procs) {
				return
			}
			if h.Name == heap {
				last += fmt.Sprintf("; voters %v, learners %v", h.Voters, h.Learners)
			}
		}
	}
	t.Errorf("the replicas did not converge within a minute: %s", last)
}

// TestOssdRemovalsThroughPartitions cuts one of four ossd processes off,
// or pauses one (the heap's leader half the time), for longer than
// --replace-after, so that its voter is replaced, and heals; the list-append history must hold, and at the end every
// process's replica, the removed ones back as learners, holds the same
// state at the same index.
func TestOssdRemovalsThroughPartitions(t *testing.T) {
	seed, run, ctx, cancel := harnessRun(22, 3*time.Second)
	defer cancel()
	names := []string{"n1", "n2", "n3", "n4"}
	c, px, procs := startProxied(ctx, t, "2s", names...)
	defer c.Close()
	defer px.close()
	defer func() {
		if t.Failed() {
			for _, p := range procs {
				t.Logf("%s:\n%s", p.Name, p.Tail(20))
			}
			t.Logf("replay the schedule with: go test ./oss/ossdtest -run %s -harness.seed %d", t.Name(), seed)
		}
	}()
	ids := makeLists(ctx, t, procs[0], 4)
	proc := func(i int) *ossdtest.Proc { return procs[i%len(procs)] }
	rec := check.NewRecorder()
	stop := runLists(ctx, seed, ids, len(names), proc, rec)
	rng := rand.New(rand.NewPCG(seed, 0x6e656d))
	faults := map[string]int{}
	for goOn := faultsGoOn(t, run, rec); goOn(); {
		i := rng.IntN(len(names))
		if rng.IntN(2) == 0 {
			px.partition(names[i:i+1], append(slices.Clone(names[:i]), names[i+1:]...))
			faults["isolate past replace-after"]++
		} else {
			if j := slices.Index(names, leaderOf(ctx, proc(i), "h")); j >= 0 && rng.IntN(2) == 0 {
				i = j
			}
			proc(i).Pause()
			faults["pause past replace-after"]++
		}
		time.Sleep(time.Duration(2500+rng.IntN(4000)) * time.Millisecond)
		px.heal()
		proc(i).Resume()
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
	}
	stop()
	checkLists(ctx, t, seed, rec, ids, proc, faults)
	converged(ctx, t, procs, "h")
	var reconf, rejoins int
	for _, p := range procs {
		b, _ := os.ReadFile(p.Log)
		reconf += strings.Count(string(b), "msg=reconfigure")
		rejoins += strings.Count(string(b), "rejoining as a learner")
	}
	t.Logf("seed %d: %d configuration changes proposed, %d removed replicas rejoining", seed, reconf, rejoins)
	if os.Getenv("OSS_LONG") != "" && reconf == 0 {
		t.Errorf("no voter was replaced: the run tested little")
	}
}
