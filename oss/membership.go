package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/objectsharing/oss/transport/gossip"
)

// Member is a node of the cluster as membership sees it.
type Member struct {
	Name string
	// Addr is the node's QUIC address (host:port).
	Addr string
	// Role is the node's role: its certificate's once this node has a
	// connection to it, until then the one it announces.
	Role pki.Role
	// Leads lists the heaps the node leads, in Node.Status: those its
	// Heaps name it the leader of. Node.Members leaves it empty:
	// membership does not tell it (docs/design.md, "What a status tells
	// whom"), nothing routes by it, and every member, client nodes
	// included, was told who leads every heap.
	Leads []string
	// Version is the node's build, as it announces it (Version); empty
	// for a node that announces none.
	Version string
}

// memberEventKind says what happened to a member.
type memberEventKind uint8

const (
	memberJoined  memberEventKind = iota + 1
	memberLeft                    // left gracefully
	memberFailed                  // stopped answering and was declared dead
	memberUpdated                 // its metadata changed
)

func (k memberEventKind) String() string {
	return [...]string{"unknown", "joined", "left", "failed", "updated"}[k]
}

// memberEvent is a change in membership.
type memberEvent struct {
	Kind   memberEventKind
	Member Member
	id     uint64 // the member's raft ID, as it announced it (0: none)
}

type memberMeta struct {
	Addr string `cbor:"1,keyasint"`
	Role string `cbor:"2,keyasint"`
	// Key 3 held the heaps the node led, until 2026-12-07; a peer of an
	// earlier build still sends it, and it is not read.
	ID      uint64 `cbor:"4,keyasint"`
	Leaving bool   `cbor:"5,keyasint,omitempty"`
	Version string `cbor:"6,keyasint,omitempty"`
	// Life is drawn at random when the membership starts: it tells this
	// process of the node from an earlier or a later one of the same
	// name. Zero from a node that announces none.
	Life uint64 `cbor:"7,keyasint,omitempty"`
	// Cluster is the ID of the node's cluster (cluster.go), 0 if it has
	// none yet.
	Cluster uint64 `cbor:"8,keyasint,omitempty"`
}

type memberConfig struct {
	name      string
	role      pki.Role
	id        uint64
	quic      *transport.QUIC
	advertise string
	fast      bool // timings tuned for loopback tests
	logger    *slog.Logger
	onEvent   func(memberEvent)
	known     func() map[string]string // the servers this node last saw (its peer book); nil: none
	cluster   uint64                   // the node's cluster, 0 if it has none yet
	// adoptCluster, if not nil, keeps the cluster ID a node of none took
	// from the members it merged with.
	adoptCluster func(uint64)
	// tune, if not nil, changes memberlist's configuration last (tests:
	// a dead member's record kept as long as on a LAN, where
	// GossipLoopback forgets it in 1 s; probes that outlast a handshake
	// on a loaded machine).
	tune func(*memberlist.Config)
	// sendLeave, if not nil, sends a leave notice in memberlist's
	// SendReliable's place (tests).
	sendLeave func(ml *memberlist.Memberlist, to *memberlist.Node, msg []byte) error
}

// membership runs memberlist over the node's QUIC endpoint: gossip packets
// as QUIC datagrams, gossip streams as QUIC streams, on the node's one UDP
// port.
type membership struct {
	cfg            memberConfig
	life           uint64 // this process's Life in its metadata
	cluster        atomic.Uint64
	announce       chan struct{} // the cluster ID was taken: announce it (announceCluster)
	moves          chan struct{} // a member's old record is dead: join it at its new address (joinMoved)
	ml             *memberlist.Memberlist
	gossipInterval time.Duration
	probeInterval  time.Duration
	suspicion      time.Duration // how long a suspicion lasts, at least
	stallMin       time.Duration // a pause of the process this long voids a suspicion's expiry
	ticked         atomic.Int64  // unix nanoseconds of watchStalls' last tick
	gt             *gossip.Transport
	reconnectEvery time.Duration
	stopc          chan struct{} // closed to stop reconnecting
	stopOnce       sync.Once
	wg             sync.WaitGroup
	stats          memberStats // for metrics
	updateMu       sync.Mutex  // serializes updateNode: memberlist's UpdateNode is not safe run twice at once

	mu       sync.Mutex                 // protects following fields
	leavingN bool                       // this node is handing over before it leaves
	leaving  map[string]bool            // members that announced a graceful leave
	probed   time.Time                  // when a probe under way at shutdown has ended
	stalled  time.Time                  // when this process was last found to have stood still
	doubted  map[string]memberlist.Node // members declared dead by this node right after it stood still
	held     map[string]heldFailure     // members declared dead whose leave notice may still be on its way
	view     map[string]viewEntry
	failed   map[string]failedMember // members that failed, by name
	gone     map[string]goneMember   // members reported left, by name
	moved    map[string]movedMember  // new addresses of members whose old record is live (moved.go)
	lives    map[string]memberLives  // the processes memberlist took for each member, by name (moved.go)
}

// goneMember is a member reported left: the process that left (its Life),
// and when. An alive message of that process that comes later is one it
// sent before it left, overtaken by its leave.
type goneMember struct {
	life  uint64
	since time.Time
}

// failedMember is a member declared dead: perhaps only cut off.
type failedMember struct {
	addr  string // "name/host:port", as memberlist's Join takes it
	since time.Time
	node  memberlist.Node // as last seen, for a leave it announces later
}

// reconnectFor is how long a node keeps trying to reach a member that
// failed. A node that is gone for good costs a dial per attempt.
const reconnectFor = 24 * time.Hour

func startMembership(cfg memberConfig) (*membership, error) {
	host, portStr, err := net.SplitHostPort(cfg.advertise)
	if err != nil {
		return nil, fmt.Errorf("oss: advertise address %q: %w", cfg.advertise, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("oss: advertise address %q: %w", cfg.advertise, err)
	}
	m := &membership{cfg: cfg, life: newLife(), stopc: make(chan struct{}), announce: make(chan struct{}, 1), moves: make(chan struct{}, 1), reconnectEvery: 5 * time.Second}
	mc := memberlistConfig(cfg.fast)
	if cfg.fast {
		m.reconnectEvery = 500 * time.Millisecond
	}
	// Only servers' gossip tells of other members: a client's certificate
	// (any player's) could otherwise declare a server dead, or dead at an
	// incarnation no refutation passes (docs/design.md, Membership).
	serverGossip := func(_, role string) bool { return role == string(pki.RoleServer) }
	// A client announces its own leave only: another node's would change
	// a later failure of that node into a leave, never reconnected to.
	ownLeave := func(from string, msg []byte) bool {
		name, ok := strings.CutPrefix(string(msg), leavingPrefix)
		return !ok || name == from
	}
	m.gt = gossip.New(cfg.quic, net.ParseIP(host), port, mc.ProbeTimeout, cfg.logger, serverGossip, ownLeave)
	// A dead member's record is replaced at once by an alive message of
	// its name from another address (moved.go); zero means never.
	mc.DeadNodeReclaimTime = time.Nanosecond
	m.gossipInterval = mc.GossipInterval
	m.probeInterval = mc.ProbeInterval
	m.suspicion = time.Duration(mc.SuspicionMult) * mc.ProbeInterval
	m.stallMin = mc.ProbeTimeout
	mc.Name = cfg.name
	mc.Transport = m.gt
	mc.AdvertiseAddr = host
	mc.AdvertisePort = port
	mc.UDPBufferSize = transport.MaxDatagram
	// No compression: memberlist compresses each message with a new LZW
	// writer, 72 KB allocated for a ping of a few dozen bytes, which
	// was 3% of all the peer benchmark's allocation during its commits.
	// Messages are packed to UDPBufferSize before compression, so they
	// fit as they are; compressed ones from other nodes are still read.
	mc.EnableCompression = false
	m.cluster.Store(cfg.cluster)
	mc.Delegate = m
	mc.Merge = m
	mc.Alive = m
	mc.Events = m
	mc.Ping = m
	mc.Conflict = m
	mc.Logger = log.New(newSlogWriter(cfg.logger, &m.stats), "", 0)
	if cfg.tune != nil {
		cfg.tune(mc)
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		m.gt.Shutdown()
		return nil, fmt.Errorf("oss: membership: %w", err)
	}
	m.ml = ml
	m.ticked.Store(time.Now().UnixNano())
	m.wg.Go(m.reconnect)
	m.wg.Go(m.rejoinKnown) // rejoinpeers.go
	m.wg.Go(m.watchStalls)
	m.wg.Go(m.announceCluster) // cluster.go
	m.wg.Go(m.joinMoved)       // moved.go
	return m, nil
}

// memberlistConfig returns memberlist's timings for a profile: LAN, or
// fast (GossipLoopback). Both keep Lifeguard on: awareness stretches a
// node's probe interval (and with it the deadline of its fallback stream
// ping) up to AwarenessMaxMultiplier times while its own probes fail
// unconfirmed by nacks, and a suspicion lasts SuspicionMaxTimeoutMult
// times its minimum until independent suspecters confirm it. A node
// whose CPU is starved answers late, and so do the nodes that probe it;
// what keeps it from being declared dead is that a lone suspicion lasts
// long enough for its refutation to come back. docs/design.md
// (Membership) gives the figures.
func memberlistConfig(fast bool) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	if !fast {
		return mc
	}
	mc = memberlist.DefaultLocalConfig()
	// Probes: loopback QUIC answers a probe in well under a millisecond
	// idle; on a starved CPU the round trip is the scheduler's delay.
	// TestGossipStarvedNoFalseDeaths (one P shared with busy goroutines,
	// under -race) measured acks at 46 ms mean, 93 ms max with the old
	// 100 ms timeout (later acks went uncounted: 66 fallback pings
	// failed), and 114 ms mean, 187 ms max with a 200 ms one. The timeout
	// is 150 ms, above most starved acks; the interval stays 200 ms (the
	// fallback stream ping's deadline is its end, and Close waits for a
	// probe under way, up to one interval). No probe timeout catches every
	// starved ack; the suspicion below absorbs the rest.
	mc.ProbeInterval = 200 * time.Millisecond
	mc.ProbeTimeout = 150 * time.Millisecond
	mc.IndirectChecks = 3 // LAN's: every other member in small clusters
	// Suspicion: a suspicion lasts SuspicionMult x 200 ms = 1.6 s, time
	// for the suspect to refute even after the process of the suspecter
	// stood still (a loaded machine stops a whole process for up to a
	// second: its timers then fire before it reads the refutation waiting
	// in its queue). With 3, Lifeguard's confirmations (k = mult - 2 = 1)
	// cut a suspicion to 600 ms once a second member suspected too, and on
	// one machine every member suspects every other at once: live members
	// were declared dead. With 8, k = 6 exceeds what clusters below 8
	// members can confirm, so memberlist uses the fixed 1.6 s; larger
	// clusters start at SuspicionMaxTimeoutMult x 1.6 s and fall to 1.6 s
	// with confirmations.
	mc.SuspicionMult = 8
	mc.SuspicionMaxTimeoutMult = 4
	mc.AwarenessMaxMultiplier = 8 // LAN's: probes back off to 1.6 s while this node is unhealthy
	mc.GossipInterval = 50 * time.Millisecond
	mc.PushPullInterval = 2 * time.Second
	mc.GossipNodes = 8 // small test clusters: everyone, every round
	mc.RetransmitMult = 4
	mc.GossipToTheDeadTime = time.Second
	mc.TCPTimeout = 2 * time.Second // joins and push/pull; the fallback ping has the probe's deadline
	return mc
}

// reconnect tries, every reconnectEvery, to join each member that failed,
// until it is alive again, left, or reconnectFor passed. memberlist gives
// up on a dead member once it has gossiped to it for GossipToTheDeadTime,
// and so does the member on this side: after a longer partition the two
// sides would stay apart for good, each believing the other dead (and
// leaders would remove a node that is back from every group again). A
// join exchanges the two sides' states; each side refutes what the other
// believes of it, and the views merge.
func (m *membership) reconnect() {
	t := time.NewTicker(m.reconnectEvery)
	defer t.Stop()
	for {
		select {
		case <-m.stopc:
			return
		case <-t.C:
		}
		m.mu.Lock()
		for name, g := range m.gone {
			if time.Since(g.since) > reconnectFor {
				delete(m.gone, name)
			}
		}
		var names, addrs []string
		for name, f := range m.failed {
			if time.Since(f.since) > reconnectFor {
				delete(m.failed, name)
				continue
			}
			names, addrs = append(names, name), append(addrs, f.addr)
		}
		m.mu.Unlock()
		for i, a := range addrs {
			select {
			case <-m.stopc:
				return
			default:
			}
			began := time.Now()
			if _, err := m.ml.Join([]string{a}); err != nil {
				m.notReached(names[i], a, began, err)
			}
		}
	}
}

// watchStalls notes when the process stood still: when a tick comes
// stallMin or more late. A loaded machine stops a whole process for up to
// seconds; when it runs again, memberlist's suspicion timers fire before
// it reads the refutations that arrived in the meantime, and it declares
// live members dead. doubt holds such a verdict back.
func (m *membership) watchStalls() {
	t := time.NewTicker(m.gossipInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stopc:
			return
		case <-t.C:
		}
		now := time.Now()
		if now.Sub(time.Unix(0, m.ticked.Swap(now.UnixNano()))) >= m.gossipInterval+m.stallMin {
			m.mu.Lock()
			m.stalled = now
			m.mu.Unlock()
		}
		m.releaseHeld(now)
	}
}

// doubt reports whether memberlist's verdict that n failed came while, or
// within a suspicion's length after, this process stood still. Then the
// refutation may be waiting unread: n stays a member until a join to it
// fails (confirmFailed) or it answers (NotifyJoin).
func (m *membership) doubt(n *memberlist.Node) bool {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	late := now.Sub(time.Unix(0, m.ticked.Load())) >= m.gossipInterval+m.stallMin
	if !late && now.Sub(m.stalled) > m.suspicion {
		return false
	}
	if m.doubted == nil {
		m.doubted = make(map[string]memberlist.Node)
	}
	m.doubted[n.Name] = *n
	if m.failed == nil {
		m.failed = make(map[string]failedMember)
	}
	m.failed[n.Name] = failedMember{addr: n.Name + "/" + n.Address(), since: now, node: *n}
	m.cfg.logger.Info("member declared failed while this node stood still: trying to reach it first", "member", n.Name)
	return true
}

// notReached takes a join to a failed member, begun at began, that
// failed: a doubted member is reported failed (confirmFailed), unless
// this process stood still since began. Then the join's deadline passing
// proves nothing, for the answer may be waiting unread: the member stays
// doubted, and the next round tries again.
func (m *membership) notReached(name, addr string, began time.Time, err error) {
	if m.stoodStillSince(began) {
		m.cfg.logger.Debug("failed member not reached while this node stood still: trying again", "member", addr, "err", err)
		return
	}
	m.cfg.logger.Debug("failed member not reached", "member", addr, "err", err)
	m.confirmFailed(name)
}

// stoodStillSince reports whether this process stood still at some time
// since t, or stands still now (its last tick is late).
func (m *membership) stoodStillSince(t time.Time) bool {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.stalled.Before(t) || now.Sub(time.Unix(0, m.ticked.Load())) >= m.gossipInterval+m.stallMin
}

// confirmFailed reports a doubted member failed once a join to it failed
// while this process ran throughout.
func (m *membership) confirmFailed(name string) {
	m.mu.Lock()
	n, ok := m.doubted[name]
	var e memberEvent
	if ok {
		e = m.record(memberFailed, &n) // under the lock, as releaseHeld
	}
	m.mu.Unlock()
	if ok {
		m.notify(e)
	}
}

// halt stops reconnecting; wait waits until the goroutine has ended (an
// attempt under way ends when the endpoint closes), and until memberlist's
// probe under way at shutdown has ended.
func (m *membership) halt() { m.stopOnce.Do(func() { close(m.stopc) }) }

func (m *membership) wait() {
	m.wg.Wait()
	m.mu.Lock()
	end := m.probed
	m.mu.Unlock()
	if d := time.Until(end); d > 0 {
		time.Sleep(d)
	}
}

// shutdown stops memberlist. memberlist probes members on a goroutine of
// its own that Shutdown does not wait for: a probe under way then waits
// for an ack that can no longer arrive until its interval ends, and its
// fallback stream ping has the same deadline. The interval is stretched by
// awareness, which only grows while a probe is under way (a probe lowers
// it when it ends), so the probe ends at the latest one stretched
// interval from now; wait waits until then. Without other members, live
// or failed (one may have failed while it was probed), there is no probe.
func (m *membership) shutdown() {
	end := time.Now().Add(time.Duration(m.ml.GetHealthScore()+1) * m.probeInterval)
	m.ml.Shutdown()
	m.mu.Lock()
	if len(m.view) > 1 || len(m.failed) > 0 {
		m.probed = end
	}
	m.mu.Unlock()
}

// join contacts the given addresses; it succeeds if any answers.
func (m *membership) join(addrs []string) error {
	if len(addrs) == 0 {
		return nil
	}
	n, err := m.ml.Join(addrs)
	if n == 0 && err != nil {
		if refused := nameTakenJoin(err); refused != nil {
			return refused
		}
	}
	if n == 0 {
		return fmt.Errorf("oss: join: no member answered at %v: %w", addrs, err)
	}
	return nil
}

// nameTakenJoin returns err, a failed join through membership, as
// ErrJoinRefused naming the member that refused it if one said that a
// node of this name is connected to it from another address
// (transport.ErrNameTaken); nil if none did. memberlist keeps only the
// text of its transport's errors, a line "failed to join ADDR: ..." an
// address.
func nameTakenJoin(err error) error {
	for line := range strings.Lines(err.Error()) {
		i := strings.Index(line, transport.ErrNameTaken.Error())
		if i < 0 {
			continue
		}
		reason := strings.TrimSpace(line[i:])
		if _, rest, ok := strings.Cut(line[:i], "failed to join "); ok {
			if addr, _, ok := strings.Cut(rest, ": "); ok {
				return fmt.Errorf("%w: %s: %s", ErrJoinRefused, addr, reason)
			}
		}
		return fmt.Errorf("%w: %s", ErrJoinRefused, reason)
	}
	return nil
}

// leave announces a graceful departure, then stops.
func (m *membership) leave(timeout time.Duration) {
	m.halt()
	untold := m.announceLeave(timeout)
	// memberlist's Leave times out when no member takes its gossip, as
	// when the whole cluster stops at once: the node has left all the
	// same, and those told above know it. Not an error of the close.
	if err := m.ml.Leave(timeout); err != nil && len(untold) > 0 {
		m.cfg.logger.Warn("leave: not gossiped either; the members not told count this node as failed until it returns", "members", untold, "err", err)
	}
	// Leave returns once the message is queued on the connections; give
	// them a few gossip rounds to put it on the wire before they close.
	time.Sleep(3 * m.gossipInterval)
	m.shutdown()
}

// leaveAttempts bounds the sends of a leave notice to one member.
const leaveAttempts = 3

// announceLeave tells every member this node knows that it is leaving:
// memberlist does not tell a leave from a failure in NotifyLeave, so the
// intent goes first to all members at once (one that does not answer
// costs its timeout, not every other's too), by a call each answers once
// it has noted the leave (tellLeaving). A notice that fails is tried
// again, up to leaveAttempts times within timeout: on a loaded machine a
// stream's open timed out, and the member told of nothing counted the
// leave as a failure. It returns the members it could not tell.
func (m *membership) announceLeave(timeout time.Duration) (untold []string) {
	deadline := time.Now().Add(timeout)
	send := m.cfg.sendLeave
	if send == nil {
		send = func(ml *memberlist.Memberlist, to *memberlist.Node, msg []byte) error {
			return m.tellLeaving(ml, to, msg, deadline)
		}
	}
	msg := []byte(leavingPrefix + m.cfg.name)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range m.others() {
		wg.Go(func() {
			var err error
			for attempt := 1; ; attempt++ {
				if err = send(m.ml, n, msg); err == nil {
					return
				}
				if errors.Is(err, ErrOtherCluster) {
					m.cfg.logger.Info("leave: not announced to a node of another cluster", "member", n.Name, "err", err)
					return
				}
				if attempt == leaveAttempts || time.Now().After(deadline) {
					break
				}
				time.Sleep(m.gossipInterval)
			}
			// No call got through: the user message is the last try,
			// written at least, if not surely read.
			if m.cfg.sendLeave == nil && m.ml.SendReliable(n, msg) == nil {
				m.cfg.logger.Warn("leave: announced by a user message only; no call got through", "member", n.Name, "err", err)
				return
			}
			m.cfg.logger.Warn("leave: not announced", "member", n.Name, "err", err)
			mu.Lock()
			untold = append(untold, n.Name)
			mu.Unlock()
		})
	}
	wg.Wait()
	return untold
}

// tellLeaving tells one member that this node leaves. A call (opLeaving)
// comes back once the member has noted it; a user message on a gossip
// stream only says it was written, and the connection this node closes
// a moment later takes with it what a starved member had not read yet:
// the member then counted the leave as a failure. A member that answers
// the call without taking it (an older version, a node without the
// handler) gets the user message. A call that did not get through (its
// stream or connection failed) is an error, which announceLeave tries
// again, then sends the user message as its last try: taken for a
// refusal, it went as a user message that the close could lose, and was
// never tried again.
func (m *membership) tellLeaving(ml *memberlist.Memberlist, to *memberlist.Node, msg []byte, deadline time.Time) error {
	if q := m.cfg.quic; q != nil {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		req, err := codec.Marshal(callRequest{Op: opLeaving, Cluster: m.cluster.Load()})
		if err != nil {
			return err
		}
		b, err := q.Call(ctx, to.Name, req)
		if errors.Is(err, transport.ErrUnknownPeer) {
			q.SetPeer(to.Name, to.Address())
			b, err = q.Call(ctx, to.Name, req)
		}
		var resp callResponse
		if err == nil && codec.Unmarshal(b, &resp) == nil {
			if resp.OK {
				return nil
			}
			if own := m.cluster.Load(); !sameCluster(own, resp.Cluster) {
				// A node of another cluster at a member's address: it
				// is told nothing, by no path.
				return fmt.Errorf("%w: leave notice to %s: it is of cluster %016x, this node of %016x", ErrOtherCluster, to.Name, resp.Cluster, own)
			}
		}
		var answered *transport.RemoteError
		if err != nil && !errors.As(err, &answered) {
			return fmt.Errorf("leave notice to %s: %w", to.Name, err)
		}
	}
	return ml.SendReliable(to, msg)
}

// others returns the members this node knows, itself left out, as nodes
// to send to, built from its own view: memberlist's Members returns its
// own records, which its goroutines write to (an address that changes)
// while the caller reads them.
func (m *membership) others() []*memberlist.Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*memberlist.Node
	for _, v := range m.view {
		if v.Name == m.cfg.name {
			continue
		}
		host, portStr, err := net.SplitHostPort(v.Addr)
		port, perr := strconv.ParseUint(portStr, 10, 16)
		if ip := net.ParseIP(host); err == nil && perr == nil && ip != nil {
			out = append(out, &memberlist.Node{Name: v.Name, Addr: ip, Port: uint16(port)})
		}
	}
	return out
}

// live implements directory.
func (m *membership) live() []peerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []peerInfo{{Name: m.cfg.name, ID: m.cfg.id, Role: m.cfg.role, Leaving: m.leavingN}}
	for _, v := range m.view {
		if v.Name != m.cfg.name && v.id != 0 {
			out = append(out, peerInfo{Name: v.Name, ID: v.id, Role: v.Role, Leaving: v.leaving, At: v.at})
		}
	}
	return out
}

// setLeaving tells the cluster that this node is handing its replicas
// over before it leaves.
func (m *membership) setLeaving() {
	m.mu.Lock()
	m.leavingN = true
	m.mu.Unlock()
	if err := m.updateNode(); err != nil {
		m.cfg.logger.Warn("leave intent not gossiped", "err", err)
	}
}

// stop stops without announcing anything, as a crash would.
func (m *membership) stop() {
	m.halt()
	m.shutdown()
}

func (m *membership) members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.view))
	for _, v := range m.view {
		out = append(out, v.Member)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// viewEntry is a live member as the last event about it described it.
// memberlist's own node records change under its lock, so the membership
// keeps copies, made in the event callbacks.
type viewEntry struct {
	Member
	at      string // memberlist's address of the node (peerInfo.At)
	id      uint64
	leaving bool
	life    uint64
	cluster uint64 // the cluster it announces (cluster.go)
}

func toView(n *memberlist.Node) viewEntry {
	var meta memberMeta
	_ = codec.Unmarshal(n.Meta, &meta)
	at := ""
	if n.Addr != nil {
		at = n.Address()
	}
	return viewEntry{Member: Member{Name: n.Name, Addr: meta.Addr, Role: pki.Role(meta.Role), Version: meta.Version},
		at: at, id: meta.ID, leaving: meta.Leaving, life: meta.Life, cluster: meta.Cluster}
}

// newLife draws a membership's Life: random, never zero.
func newLife() uint64 {
	for {
		if l := rand.Uint64(); l != 0 {
			return l
		}
	}
}

// NodeMeta implements memberlist.Delegate.
func (m *membership) NodeMeta(limit int) []byte {
	m.mu.Lock()
	meta := memberMeta{Addr: m.cfg.advertise, Role: string(m.cfg.role), ID: m.cfg.id, Leaving: m.leavingN, Version: Version(), Life: m.life, Cluster: m.cluster.Load()}
	m.mu.Unlock()
	b, _ := codec.Marshal(meta) // an address, the build and numbers: it fits, as it did before with no leads
	return b
}

// leavingPrefix starts the user message a node sends before it leaves.
const leavingPrefix = "oss-leaving:"

// NotifyMsg implements memberlist.Delegate. A member that says it is
// leaving is reported as left when memberlist lets it go; one this node
// has already declared failed (a false death on a starved machine, which
// the member outlived) is reported as left at once, and no longer
// reconnected to.
func (m *membership) NotifyMsg(b []byte) {
	if name, ok := strings.CutPrefix(string(b), leavingPrefix); ok {
		m.noteLeaving(name)
	}
}

// noteLeaving notes that the named member announced a graceful leave, by a
// call (opLeaving) or a user message.
func (m *membership) noteLeaving(name string) {
	m.mu.Lock()
	f, failed := m.failed[name]
	h, held := m.held[name]
	if _, live := m.view[name]; !live && !failed && !held {
		// Not a member here (a node of another cluster, say): noted, the
		// leave would make a later failure of a member of that name
		// look like a leave.
		m.mu.Unlock()
		return
	}
	if held {
		f, failed = failedMember{node: h.node}, true
		delete(m.held, name)
	}
	if !failed {
		if m.leaving == nil {
			m.leaving = make(map[string]bool)
		}
		m.leaving[name] = true
	}
	m.mu.Unlock()
	if failed {
		m.emit(memberLeft, &f.node)
	}
}

func (m *membership) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (m *membership) LocalState(join bool) []byte                { return nil }
func (m *membership) MergeRemoteState(buf []byte, join bool)     {}

func (m *membership) emit(kind memberEventKind, n *memberlist.Node) {
	m.mu.Lock()
	e := m.record(kind, n)
	m.mu.Unlock()
	m.notify(e)
}

// notify tells the node of an event record made.
func (m *membership) notify(e memberEvent) {
	if m.cfg.onEvent != nil {
		m.cfg.onEvent(e)
	}
}

// record takes an event into the view, and returns it for notify. The
// caller holds mu.
func (m *membership) record(kind memberEventKind, n *memberlist.Node) memberEvent {
	m.stats.events[kind].Add(1)
	v := toView(n)
	if m.view == nil {
		m.view = make(map[string]viewEntry)
	}
	delete(m.doubted, v.Name)
	delete(m.held, v.Name)
	if v.life != 0 && v.Name != m.cfg.name {
		m.noteLife(v.Name, v.life) // moved.go
	}
	if kind == memberJoined || kind == memberUpdated {
		m.view[v.Name] = v
		delete(m.failed, v.Name)
		delete(m.gone, v.Name) // a new process of the name
		if kind == memberJoined {
			delete(m.moved, v.Name)
		}
	} else {
		delete(m.view, v.Name)
		delete(m.failed, v.Name)
	}
	if kind == memberLeft && v.life != 0 {
		if m.gone == nil {
			m.gone = make(map[string]goneMember)
		}
		m.gone[v.Name] = goneMember{life: v.life, since: time.Now()}
	}
	if kind == memberFailed && v.Name != m.cfg.name {
		if m.failed == nil {
			m.failed = make(map[string]failedMember)
		}
		m.failed[v.Name] = failedMember{addr: n.Name + "/" + n.Address(), since: time.Now(), node: *n}
	}
	return memberEvent{Kind: kind, Member: v.Member, id: v.id}
}

// alreadyLeft reports whether n is a process already reported left: memberlist
// tells of it again when an alive message it sent before it left comes
// after its leave (a refutation of a suspicion, overtaken by the leave
// notice sent over a stream, or relayed late by another member), and
// once more when it fails to answer after that. Neither is news: the
// member left, and a leader must not count it as live again, nor as
// failed. A later process of the same name has another Life and joins.
func (m *membership) alreadyLeft(n *memberlist.Node) bool {
	v := toView(n)
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.gone[v.Name]
	if !ok || g.life != v.life {
		return false
	}
	delete(m.leaving, v.Name)
	m.cfg.logger.Debug("member that left heard of again: ignored", "member", v.Name)
	return true
}

// NotifyJoin implements memberlist.EventDelegate.
func (m *membership) NotifyJoin(n *memberlist.Node) {
	if !m.alreadyLeft(n) {
		m.emit(memberJoined, n)
	}
}

// NotifyLeave implements memberlist.EventDelegate.
func (m *membership) NotifyLeave(n *memberlist.Node) {
	m.stats.mu.Lock()
	delete(m.stats.suspected, n.Name) // dead or gone: not a suspicion that cleared
	m.stats.mu.Unlock()
	if n.Name != m.cfg.name {
		m.moveDue(n.Name) // moved.go
	}
	if m.alreadyLeft(n) {
		return
	}
	m.mu.Lock()
	left := m.leaving[n.Name]
	delete(m.leaving, n.Name)
	m.mu.Unlock()
	// memberlist tells of this node too when it leaves or shuts down: it
	// has left, not failed (it said "member failed" of itself at every
	// stop).
	if left || n.Name == m.cfg.name {
		m.emit(memberLeft, n)
		return
	}
	if m.doubt(n) {
		return
	}
	m.hold(n)
}

// heldFailure is a death verdict not yet reported: until when it waits
// for the member's leave notice.
type heldFailure struct {
	node  memberlist.Node
	until time.Time
}

// hold keeps memberlist's verdict that n failed for two probe intervals
// before reporting it (releaseHeld). A member that leaves sends its notice
// over a stream, then its leave as gossip; the two are read by different
// goroutines, and the gossip could come first: the member was reported
// failed, then left (TestStopDoesNotReportSelfFailed failed 5 in 80 under
// -race). memberlist does not say which it was: its Node.State is not
// the state it decided. A notice that comes while the verdict is held
// makes it a leave; a failure is reported two probe intervals later,
// which the seconds of ReplaceAfter do not notice.
func (m *membership) hold(n *memberlist.Node) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held == nil {
		m.held = make(map[string]heldFailure)
	}
	m.held[n.Name] = heldFailure{node: *n, until: time.Now().Add(2 * m.probeInterval)}
}

// releaseHeld reports the failures held past their time. Each is taken
// off the hold and into the view under one lock: a join memberlist tells
// of meanwhile (from another goroutine) comes before it or after it,
// never between, where the failure reported after the join undid it.
func (m *membership) releaseHeld(now time.Time) {
	var due []memberEvent
	m.mu.Lock()
	for _, h := range m.held {
		if now.After(h.until) {
			due = append(due, m.record(memberFailed, &h.node)) // off the hold too
		}
	}
	m.mu.Unlock()
	for _, e := range due {
		m.notify(e)
	}
}

// NotifyUpdate implements memberlist.EventDelegate.
func (m *membership) NotifyUpdate(n *memberlist.Node) {
	if !m.alreadyLeft(n) {
		m.emit(memberUpdated, n)
	}
}

// memberStats count what membership saw, for metrics: member events, and
// the failures memberlist tells of only in its log (it reports them to
// the process-wide go-metrics sink otherwise, which a node cannot call
// its own).
type memberStats struct {
	events          [memberUpdated + 1]atomic.Uint64 // by memberEventKind
	probeFailures   atomic.Uint64                    // "Suspect X has failed, no acks received"
	fallbackFailed  atomic.Uint64                    // "Failed fallback TCP ping"
	refuted         atomic.Uint64                    // "Refuting a suspect message"
	markedDead      atomic.Uint64                    // "Marking X as failed, suspect timeout reached"
	falseSuspicions atomic.Uint64                    // members this node suspected that answered a probe before it declared them dead
	otherCluster    atomic.Uint64                    // merges and alive messages refused: a member of another cluster

	// Probe round trips (direct acks), as memberlist's ping delegate
	// reports them: count, sum and maximum in nanoseconds.
	rttCount, rttSum, rttMax atomic.Int64

	mu        sync.Mutex      // protects following fields
	suspected map[string]bool // members this node suspected, until they answer or it declares them dead
}

// count notes a memberlist log line that tells of a failure.
func (s *memberStats) count(line []byte) {
	switch {
	case bytes.Contains(line, []byte("has failed, no acks received")):
		s.probeFailures.Add(1)
		if name, ok := between(line, "Suspect ", " has failed, no acks received"); ok {
			s.mu.Lock()
			if s.suspected == nil {
				s.suspected = make(map[string]bool)
			}
			s.suspected[name] = true
			s.mu.Unlock()
		}
	case bytes.Contains(line, []byte("Failed fallback TCP ping")):
		s.fallbackFailed.Add(1)
	case bytes.Contains(line, []byte("Refuting a suspect message")):
		s.refuted.Add(1)
	case bytes.Contains(line, []byte("as failed, suspect timeout reached")):
		s.markedDead.Add(1)
		if name, ok := between(line, "Marking ", " as failed, suspect timeout reached"); ok {
			s.mu.Lock()
			delete(s.suspected, name) // a true failure, or a false death: not a suspicion that cleared
			s.mu.Unlock()
		}
	}
}

// between returns the text of line between the first start and the
// following end.
func between(line []byte, start, end string) (string, bool) {
	_, rest, ok := bytes.Cut(line, []byte(start))
	if !ok {
		return "", false
	}
	name, _, ok := bytes.Cut(rest, []byte(end))
	return string(name), ok
}

// answered notes that a member acked a direct probe after rtt: if this
// node suspected it, the suspicion was false.
func (s *memberStats) answered(name string, rtt time.Duration) {
	s.rttCount.Add(1)
	s.rttSum.Add(int64(rtt))
	for {
		m := s.rttMax.Load()
		if int64(rtt) <= m || s.rttMax.CompareAndSwap(m, int64(rtt)) {
			break
		}
	}
	s.mu.Lock()
	if s.suspected[name] {
		delete(s.suspected, name)
		s.falseSuspicions.Add(1)
	}
	s.mu.Unlock()
}

// NotifyPingComplete implements memberlist.PingDelegate: a direct probe
// of other was acked.
func (m *membership) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	m.stats.answered(other.Name, rtt)
}

// AckPayload implements memberlist.PingDelegate.
func (m *membership) AckPayload() []byte { return nil }

// Version returns this binary's build: its main module's version if it
// was built from a module version, else its VCS revision (12 digits,
// "+dirty" if the work tree was modified), else "devel". Every node
// announces it to the others in membership (Member.Version).
func Version() string { return version() }

var version = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value[:min(len(s.Value), 12)]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+dirty"
		}
	}
	if rev == "" {
		return "devel"
	}
	return rev + dirty
})

// updateNode gossips the node's metadata again (memberlist's
// UpdateNode), one call at a time: UpdateNode reads and writes the
// node's state without a lock of its own, and the announce of a cluster
// ID taken (announceCluster) ran beside setLeaving of a start that
// failed, a data race.
func (m *membership) updateNode() error {
	m.updateMu.Lock()
	defer m.updateMu.Unlock()
	return m.ml.UpdateNode(time.Second)
}
