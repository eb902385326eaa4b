package oss

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// catalogLeader waits for a node that leads the catalog and returns it.
func (c *quicCluster) catalogLeader(t *testing.T) *Node {
	t.Helper()
	var leader *Node
	waitFor(t, "a catalog leader", func() bool {
		for _, n := range c.nodes {
			if h := n.catalog.Load(); h != nil && h.leaderIs(h.self) {
				leader = n
				return true
			}
		}
		return false
	})
	return leader
}

// forgedEnvelope is a raft message of the catalog's group as a peer would
// send it.
func forgedEnvelope(t *testing.T, to *Node, m raftpb.Message) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	env := raftEnvelope{Heap: catalogName, Group: to.catalog.Load().group, Msg: b}
	return env.appendTo(nil)
}

// forgedJoin sends, from x, a join of heap under the raft ID id to the
// heap's leader and returns the leader's name and answer. A node that has
// lost the lead by the time the call arrives (an election on a loaded
// machine) answers with the leader it knows instead: the join goes again
// to the leader of the moment.
func forgedJoin(t *testing.T, ctx context.Context, c *quicCluster, x *Node, heap string, id uint64) (string, callResponse) {
	t.Helper()
	req, _ := codec.Marshal(callRequest{Op: opJoin, Heap: heap, ID: id, Addr: x.Addr()})
	for {
		var to string
		waitFor(t, heap+"'s leader", func() bool {
			for name, n := range c.nodes {
				if h := n.replicaOf(heap); h != nil && h.leaderIs(h.self) {
					to = name
					return true
				}
			}
			return false
		})
		resp, err := x.tr.Call(ctx, to, req)
		if err != nil {
			t.Fatal(err)
		}
		var cr callResponse
		if err := codec.Unmarshal(resp, &cr); err != nil {
			t.Fatal(err)
		}
		if cr.OK || cr.Refused != "" {
			return to, cr
		}
		t.Logf("%s no longer leads %s (%+v); again", to, heap, cr)
		time.Sleep(20 * time.Millisecond)
	}
}

// A member that asks to join under another node's raft ID is refused, the
// ID stays bound to its node on every member, and raft messages the member
// sends under that ID are dropped while the real node's are taken.
func TestForgedRaftIDIsRefused(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b", "c", "x")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b, x := c.nodes["a"], c.nodes["b"], c.nodes["x"]
	leader := c.catalogLeader(t)
	for _, heap := range []string{catalogName, "bank"} {
		if heap == "bank" {
			if _, err := a.CreateHeapIfNotExists(ctx, "bank", nil); err != nil {
				t.Fatal(err)
			}
		}
		to, cr := forgedJoin(t, ctx, c, x, heap, a.id)
		if cr.OK || !strings.Contains(cr.Refused, `is node "a"'s, not "x"'s`) {
			t.Fatalf("%s, leading %s, answered a join under a's raft ID from x with %+v", to, heap, cr)
		}
	}
	// A server that is not the catalog's leader proposes a's record under
	// its own ID: the leader refuses the record (a refusal goes on in its
	// place), or drops the proposal if it no longer leads. The proposal is
	// handed to the leader's routing as the transport hands it (either
	// stream): had the server proposed through Update, the lead could have
	// moved to it meanwhile (a hand-over), and a leader's own proposals
	// are its log.
	for name, n := range c.nodes {
		if name == "a" || n == leader {
			continue
		}
		val, err := codec.Marshal(nodeRecord{Name: "a", ID: n.id})
		if err != nil {
			t.Fatal(err)
		}
		rec := consistency.Record{TxID: uuid.Must(uuid.NewV7()), Snapshot: leader.catalog.Load().state.Load().Index(),
			Writes: []consistency.Write{{ID: nodeRecordID("a"), Value: val}}}
		data, err := rec.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		prop := forgedEnvelope(t, leader, raftpb.Message{Type: raftpb.MsgProp, From: n.id, To: leader.id,
			Entries: []raftpb.Entry{{Type: raftpb.EntryNormal, Data: data}}})
		if _, m, ok := leader.route(name, prop); ok && !consistency.IsRefusal(m.Entries[0].Data) {
			t.Fatalf("the catalog's leader takes %s's proposal of a's node record", name)
		}
		break
	}
	for name, n := range c.nodes {
		if got, ok := n.lookup(a.id); !ok || got != "a" {
			t.Fatalf("%s: a's raft ID names %q (%v) after x forged a join", name, got, ok)
		}
		if rec := n.committed().recs["a"]; rec.ID != 0 && rec.ID != a.id {
			t.Fatalf("%s: a's record was rewritten: %+v", name, rec)
		}
	}
	// x speaks as a: a vote at a high term, and a heartbeat.
	vote := forgedEnvelope(t, b, raftpb.Message{Type: raftpb.MsgVote, From: a.id, To: b.id, Term: 1000, LogTerm: 1000, Index: 1 << 40})
	if _, _, ok := b.route("x", vote); ok {
		t.Fatal("b routes a vote x sent under a's raft ID")
	}
	genuine := forgedEnvelope(t, b, raftpb.Message{Type: raftpb.MsgHeartbeat, From: a.id, To: b.id, Term: 1})
	if _, _, ok := b.route("a", genuine); !ok {
		t.Fatal("b drops a's own heartbeat")
	}
	term := b.catalog.Load().Stats().Term
	for range 20 {
		if err := x.tr.Send(ctx, "b", vote); err != nil {
			t.Fatal(err)
		}
	}
	untilCommitted(t, "a commit after the forged votes", leader.catalog.Load(), func(tx *Tx) error {
		return Put(tx, entryID("marker"), struct{}{})
	})
	waitFor(t, "b to apply a commit made after the forged votes", func() bool {
		_, ok := b.catalog.Load().state.Load().Get(entryID("marker"))
		return ok
	})
	// The forged votes were all at term 1000: had b taken one, its
	// term would be 1000 or more. Terms below that are the catalog's own
	// elections, of which a loaded machine may hold several meanwhile.
	if got := b.catalog.Load().Stats().Term; got >= 1000 {
		t.Fatalf("b's catalog went from term %d to %d after votes forged as a", term, got)
	}
}

// A member that announces another node's raft ID in membership is left out
// of the live set: committed state says whose ID it is.
func TestMembershipClaimOfAnotherIDIsIgnored(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b", "x")
	a, b, x := c.nodes["a"], c.nodes["b"], c.nodes["x"]
	waitFor(t, "a to register", func() bool {
		_, ok := b.committed().recs["a"]
		return ok
	})
	x.members.mu.Lock()
	x.members.cfg.id = a.id
	x.members.mu.Unlock()
	// UpdateNode waits until the announcement has gone out; a second ran
	// out at load 17 ("timeout waiting for update broadcast").
	if err := x.members.ml.UpdateNode(await.Deadline); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to hear x's new announcement", func() bool {
		for _, p := range b.directory().live() {
			if p.Name == "x" && p.ID == a.id {
				return true
			}
		}
		return false
	})
	for _, p := range b.live() {
		if p.Name == "x" {
			t.Fatalf("b's live set keeps x under a's raft ID: %+v", p)
		}
	}
	if got, _ := b.lookup(a.id); got != "a" {
		t.Fatalf("a's raft ID names %q on b", got)
	}
	// Every member announces its build.
	for _, m := range b.Members() {
		if m.Version != Version() {
			t.Errorf("member %s announces version %q, want %q", m.Name, m.Version, Version())
		}
	}
}

// A client certificate decides: a node that runs it as a server is
// refused at start, and one that announces itself a server in membership
// is still a client to its peers, never placed as a voter.
func TestClientCertificateNeverVotes(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a", "b", "c")
	_, err := c.launch("cl", pki.RoleClient, func(cfg *Config) { cfg.Role = pki.RoleServer })
	if err == nil || !strings.Contains(err.Error(), `carries the role "client"`) {
		t.Fatalf("a client certificate ran as a server: %v", err)
	}
	cl, err := c.launch("cl", pki.RoleClient, func(cfg *Config) { cfg.Role = pki.RoleClient })
	if err != nil {
		t.Fatal(err)
	}
	// A modified client announces itself a server.
	cl.members.mu.Lock()
	cl.members.cfg.role = pki.RoleServer
	cl.members.mu.Unlock()
	// UpdateNode waits until the announcement has gone out: see
	// TestMembershipClaimOfAnotherIDIsIgnored.
	if err := cl.members.ml.UpdateNode(await.Deadline); err != nil {
		t.Fatal(err)
	}
	a := c.nodes["a"]
	waitFor(t, "a to hear cl's announcement", func() bool {
		for _, p := range a.directory().live() {
			if p.Name == "cl" && p.Role == pki.RoleServer {
				return true
			}
		}
		return false
	})
	for _, p := range a.live() {
		if p.Name == "cl" && p.Role != pki.RoleClient {
			t.Fatalf("a takes cl for a %s", p.Role)
		}
	}
	// The bound of the opens below, against a hang: the launches before
	// have their own (a minute each), and under load they took most of
	// a minute shared with these (the client's open then ran out).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := a.CreateHeap(ctx, "wide", &HeapOptions{Replicas: 5})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := a.catalogEntry("wide")
	for _, m := range e.Voters {
		if m.Name == "cl" {
			t.Fatalf("the client is a first voter of a heap: %+v", e.Voters)
		}
	}
	mustGrant(t, a, Grant{Who: "cl", Heap: "wide", Perm: PermWrite})
	if _, err := cl.Heap(ctx, "wide"); err != nil {
		t.Fatal(err)
	}
	untilCommitted(t, "a commit", h, func(tx *Tx) error { return Put(tx, entryID("k"), 1) })
	// Give reconcile its chance to place voters, then look at every
	// configuration the client's replica has seen.
	waitFor(t, "the client's replica to apply the commit", func() bool {
		r := cl.replicaOf("wide")
		if r == nil {
			return false
		}
		_, ok := r.state.Load().Get(entryID("k"))
		return ok
	})
	for _, name := range []string{catalogName, "wide"} {
		if cs := a.replicaOf(name).conf.Load(); cs != nil {
			for _, v := range append(append([]uint64{}, cs.Voters...), cs.VotersOutgoing...) {
				if v == cl.id {
					t.Fatalf("the client votes in %s: %+v", name, cs)
				}
			}
		}
	}
}

// A second node started under a name that is live elsewhere is refused at
// join, says why, and the cluster goes on.
func TestSecondNodeWithALiveNameIsRefused(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	realB := c.nodes["b"]
	waitFor(t, "b to register", func() bool {
		_, ok := c.nodes["a"].committed().recs["b"]
		return ok
	})
	dup, err := c.launch("b", pki.RoleServer, nil)
	if err == nil {
		dup.Close(context.Background())
		c.nodes["b"] = realB
		t.Fatal("a second node named b started beside the live one")
	}
	// Refused by the catalog's leader at join, or before, at the first
	// connection to a node connected to the live b (transport.ErrNameTaken).
	if !errors.Is(err, ErrJoinRefused) || !strings.Contains(err.Error(), `a node named "b" is already live`) && !strings.Contains(err.Error(), `node "b" is connected from`) && !strings.Contains(err.Error(), `node "b" is this node`) ||
		strings.Contains(err.Error(), "cannot reach") || strings.Count(err.Error(), "refused") != 1 {
		t.Fatalf("refused with %v", err)
	}
	h, err := realB.CreateHeapIfNotExists(ctx, "after", nil)
	if err != nil {
		t.Fatal(err)
	}
	untilCommitted(t, "the real b's commit after the duplicate was refused", h, func(tx *Tx) error {
		return Put(tx, entryID("k"), 1)
	})
	if got, _ := c.nodes["a"].lookup(realB.id); got != "b" {
		t.Fatalf("b's raft ID names %q", got)
	}
}
