package oss

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
	"go.uber.org/goleak"
)

type gossipNode struct {
	name   string
	q      *transport.QUIC
	m      *membership
	leaves *atomic.Int32 // leave notices it took by call

	mu     sync.Mutex
	events []memberEvent
}

// last reports whether the last event g saw about the named member is of
// the given kind. On a starved machine a live member can be declared
// failed and then join again (the reconnect loop); what holds in the end
// is the last event.
func (g *gossipNode) last(kind memberEventKind, name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range slices.Backward(g.events) {
		if e.Member.Name == name {
			return e.Kind == kind
		}
	}
	return false
}

func socketCount(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

func startGossipNode(t *testing.T, ca *pki.CA, name string, join []string) *gossipNode {
	t.Helper()
	return startGossipNodeWith(t, ca, name, join, nil)
}

// startGossipNodeWith starts a node as startGossipNode does, its
// membership's configuration changed by tweak.
func startGossipNodeWith(t *testing.T, ca *pki.CA, name string, join []string, tweak func(*memberConfig)) *gossipNode {
	t.Helper()
	cert, key, err := ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(debugOut, &slog.HandlerOptions{Level: slog.LevelDebug})).With("self", name)
	handler := &gossipHandler{}
	q, err := transport.NewQUIC(&transport.QUICConfig{Name: name, CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: handler, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	g := &gossipNode{name: name, q: q}
	cfg := memberConfig{
		name: name, role: pki.RoleServer, quic: q, advertise: q.Addr().String(), fast: true, logger: logger,
		onEvent: func(e memberEvent) {
			g.mu.Lock()
			g.events = append(g.events, e)
			g.mu.Unlock()
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	g.m, err = startMembership(cfg)
	if err != nil {
		q.Close()
		t.Fatal(err)
	}
	g.leaves = &handler.leaves
	handler.m.Store(g.m)
	// The node joins as Node.Start does with JoinRetry: a join whose
	// exchange outlasts memberlist's TCPTimeout (2 s) on a loaded machine
	// is tried again, until await.Deadline (against a hang): at load 20
	// to 75 a minute of tries met no member answering in time ("peer
	// unreachable ... context deadline exceeded"). A node that fails to
	// join is stopped, so that its goroutines do not fail the checks of
	// the tests after this one.
	deadline := time.Now().Add(await.Deadline)
	for err := g.m.join(join); err != nil; err = g.m.join(join) {
		if time.Now().After(deadline) {
			g.m.stop()
			q.Close()
			g.m.wait()
			t.Fatal(err)
		}
		t.Logf("join %s: %v; again", name, err)
		time.Sleep(100 * time.Millisecond)
	}
	return g
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(await.Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMembershipOverQUIC(t *testing.T) {
	// Cleanups run last registered first: every node is stopped, and its
	// probe under way waited for, before goroutines are looked for, also
	// when the test fails half way (its goroutines would otherwise fail
	// the next tests' checks).
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	before := socketCount(t)
	var nodes []*gossipNode
	t.Cleanup(func() {
		for _, n := range nodes {
			n.m.stop()
			n.q.Close()
		}
		// memberlist does not wait for a probe under way when it shuts
		// down; Node.Close waits for it with wait, and so does the test.
		for _, n := range nodes {
			n.m.wait()
		}
	})
	for i := range 5 {
		var join []string
		if i > 0 {
			join = []string{nodes[i-1].q.Addr().String()} // any listed member will do
		}
		nodes = append(nodes, startGossipNode(t, ca, fmt.Sprintf("n%d", i), join))
	}
	if got := socketCount(t) - before; got != 5 {
		t.Fatalf("5 nodes hold %d new sockets; want one UDP socket each", got)
	}
	waitFor(t, "5 nodes to converge", func() bool {
		for _, n := range nodes {
			if len(n.m.members()) != 5 {
				return false
			}
		}
		return true
	})
	for _, m := range nodes[0].m.members() {
		if m.Role != pki.RoleServer || m.Addr == "" {
			t.Fatalf("member metadata %+v", m)
		}
	}

	// A crash: n4 stops without a word.
	nodes[4].m.stop()
	nodes[4].q.Close()
	// A survivor that stood still doubts memberlist's verdict and reports
	// the crash only once a join to n4 fails while it ran throughout
	// (docs/design.md, Membership under load): on a loaded machine that
	// took more than the 20 s waitFor gave then (detectWithin gives the figures).
	waitCondWithin(t, detectWithin, "the crash of n4 to be detected by all", func() bool {
		for _, n := range nodes[:4] {
			if !n.last(memberFailed, "n4") {
				return false
			}
		}
		return true
	})

	// A graceful leave: n3 says goodbye.
	nodes[3].m.leave(5 * time.Second)
	nodes[3].q.Close()
	defer func() {
		if t.Failed() {
			for _, n := range nodes[:3] {
				n.mu.Lock()
				t.Logf("%s saw %v", n.name, n.events)
				n.mu.Unlock()
			}
		}
	}()
	// Left, not failed: the last each saw of n3 (a false death on a
	// starved machine, healed since, may come before).
	waitCond(t, "the leave of n3 to be seen by all", func() bool {
		for _, n := range nodes[:3] {
			if !n.last(memberLeft, "n3") {
				return false
			}
		}
		return true
	})
	for _, n := range nodes[:3] {
		n.m.leave(time.Second)
		n.q.Close()
	}
}

func TestJoinToNobodyFails(t *testing.T) {
	t.Parallel()
	ca, _ := pki.NewCA("test", time.Now(), time.Hour)
	n := startGossipNode(t, ca, "lonely", nil)
	defer func() { n.m.stop(); n.q.Close() }()
	if err := n.m.join([]string{"127.0.0.1:1"}); err == nil {
		t.Fatal("join to an address where nobody answers succeeded")
	}
}

type callHandler struct{}

// gossipHandler answers a gossip test node's calls as Node.handleCall
// does the leave notice (opLeaving), and echoes any other request.
type gossipHandler struct {
	callHandler
	m      atomic.Pointer[membership]
	leaves atomic.Int32 // leave notices taken by call
}

func (h *gossipHandler) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	var r callRequest
	if codec.Unmarshal(req, &r) == nil && r.Op == opLeaving {
		if m := h.m.Load(); m != nil {
			m.noteLeaving(from)
			h.leaves.Add(1)
			return codec.Marshal(callResponse{OK: true})
		}
	}
	return req, nil
}

func (callHandler) HandleMessage(string, []byte) {}
func (callHandler) HandleCall(_ context.Context, _ string, req []byte) ([]byte, error) {
	return req, nil
}

var debugOut io.Writer = io.Discard

func (callHandler) HandleStream(context.Context, string, []byte, io.Reader) error { return nil }

// FuzzMemberMeta: a peer's metadata is untrusted input; no bytes may crash
// the node, and what it encodes must come back.
func FuzzMemberMeta(f *testing.F) {
	m := &membership{cfg: memberConfig{advertise: "127.0.0.1:7400", role: pki.RoleServer, id: 42}}
	f.Add(m.NodeMeta(512))
	m.leavingN = true
	f.Add(m.NodeMeta(512))
	f.Add([]byte{0xa1, 0x01, 0x9f})
	f.Fuzz(func(t *testing.T, data []byte) {
		v := toView(&memberlist.Node{Name: "peer", Meta: data})
		if v.Name != "peer" {
			t.Fatalf("member named %q", v.Name)
		}
		var meta memberMeta
		if codec.Unmarshal(data, &meta) != nil {
			return // the fields that decoded are used
		}
		// What this node would gossip of the member comes back the same.
		back := &membership{cfg: memberConfig{advertise: v.Addr, role: v.Role, id: v.id}, leavingN: v.leaving}
		again := toView(&memberlist.Node{Name: "peer", Meta: back.NodeMeta(1 << 20)})
		if again.Addr != v.Addr || again.Role != v.Role || again.id != v.id || again.leaving != v.leaving {
			t.Fatalf("%+v comes back as %+v", v, again)
		}
	})
}

func TestMemberMetaRoundTripAndLimit(t *testing.T) {
	m := &membership{cfg: memberConfig{advertise: "127.0.0.1:7400", role: pki.RoleServer, id: 7}, leavingN: true}
	b := m.NodeMeta(512)
	if len(b) > 512 {
		t.Fatalf("metadata of %d bytes exceeds memberlist's limit", len(b))
	}
	got := toView(&memberlist.Node{Name: "n", Meta: b})
	if got.Addr != "127.0.0.1:7400" || got.Role != pki.RoleServer || got.id != 7 || !got.leaving {
		t.Fatalf("metadata round trip: %+v", got)
	}
}

// A member this node declared failed that then says it is leaving (it
// outlived a false death on a starved machine) is reported as left, and
// no longer reconnected to; one still alive is reported as left when it
// goes; a leave of a member never seen reports nothing.
func TestLeaveOfAMemberDeclaredFailed(t *testing.T) {
	var got []memberEvent
	m := &membership{cfg: memberConfig{name: "n0", onEvent: func(e memberEvent) { got = append(got, e) }},
		gossipInterval: time.Hour}
	m.ticked.Store(time.Now().UnixNano()) // this node is not standing still
	meta := func(addr string) []byte {
		b, err := codec.Marshal(memberMeta{Addr: addr, Role: string(pki.RoleServer), ID: 7})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	n1 := &memberlist.Node{Name: "n1", Meta: meta("127.0.0.1:7001")}
	n2 := &memberlist.Node{Name: "n2", Meta: meta("127.0.0.1:7002")}
	m.NotifyJoin(n1)
	m.NotifyJoin(n2)
	m.NotifyLeave(n1) // no word from n1: failed, once the hold is past
	m.releaseHeld(time.Now().Add(time.Hour))
	if len(got) != 3 || got[2].Kind != memberFailed {
		t.Fatalf("events %v, want n1 failed", got)
	}
	if _, ok := m.failed["n1"]; !ok {
		t.Fatal("a failed member is not on the list to reconnect to")
	}
	m.NotifyMsg([]byte(leavingPrefix + "n1"))
	if len(got) != 4 || got[3].Kind != memberLeft || got[3].Member.Name != "n1" || got[3].Member.Addr != "127.0.0.1:7001" {
		t.Fatalf("events %v, want n1 left (with its address)", got)
	}
	if _, ok := m.failed["n1"]; ok {
		t.Fatal("a member that left is still reconnected to")
	}
	m.NotifyMsg([]byte(leavingPrefix + "n2"))
	if len(got) != 4 {
		t.Fatalf("events %v: n2 reported before memberlist let it go", got)
	}
	m.NotifyLeave(n2)
	if len(got) != 5 || got[4].Kind != memberLeft || got[4].Member.Name != "n2" {
		t.Fatalf("events %v, want n2 left", got)
	}
	m.NotifyMsg([]byte(leavingPrefix + "n9"))
	if len(got) != 5 {
		t.Fatalf("events %v: a leave of a member never seen reported", got)
	}
}
