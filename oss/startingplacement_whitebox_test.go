package oss

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
)

// A new heap's first voters are servers that finished their Start, and
// the creating node, starting or not.
func TestFirstVotersLeaveStartingNodesOut(t *testing.T) {
	t.Parallel()
	peers := []peerInfo{
		{Name: "self", ID: 1, Role: pki.RoleServer, Starting: true},
		{Name: "up", ID: 2, Role: pki.RoleServer},
		{Name: "new", ID: 3, Role: pki.RoleServer, Starting: true},
	}
	for i := range 50 {
		name := fmt.Sprintf("h%d", i)
		got := firstVoters(name, 3, peers, 1)
		ids := make([]uint64, len(got))
		for j, v := range got {
			ids[j] = v.ID
		}
		slices.Sort(ids)
		// Two servers count: one voter, of self or up, never new.
		if len(ids) != 1 || ids[0] == 3 {
			t.Fatalf("heap %s: first voters %v of self (starting, creating), up and new (starting); want one of self and up", name, ids)
		}
	}
}

// namesRankedTo returns k heap names whose best-ranked server among
// peers is the node called to.
func namesRankedTo(to string, peers []peerInfo, k int) []string {
	ms := make([]engine.Member, len(peers))
	for i, p := range peers {
		ms[i] = member(p)
	}
	var out []string
	for i := 0; len(out) < k; i++ {
		name := fmt.Sprintf("h%d", i)
		if engine.Rank(name, ms)[0].Name == to {
			out = append(out, name)
		}
	}
	return out
}

// A heap created while a node joins (inside its Start, listed by gossip,
// not yet in the catalog) is not placed on it. Placed on it as the only
// voter (a heap of one replica, ranked to it), the leader wrote the
// joiner's raft ID into the heap's entry without a message to it; the
// joiner's start then failed (its context ended), took that ID back, as
// nothing had reached it, and rejoined under a new one: the heap had no
// quorum for good. After the failed start and the rejoin every heap
// made in that window takes writes, on either node.
func TestHeapCreatedWhileANodeJoinsIsNotPlacedOnIt(t *testing.T) {
	t.Parallel()
	c := newQUICClusterWith(t, 0, nil, "a")
	a := c.nodes["a"]
	dir := filepath.Join(t.TempDir(), "b")
	cfg := c.quicConfig("b", dir, a.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wctx, wcancel := context.WithTimeout(context.Background(), await.Deadline)
	defer wcancel()
	var names []string
	var joiner uint64
	cfg.catalogStep = func(step string, h *Heap) {
		if step != "join" {
			return
		}
		joiner = h.self
		await.Until(t, "a to list b, starting", func() bool {
			return slices.ContainsFunc(a.live(), func(p peerInfo) bool { return p.ID == joiner })
		})
		names = namesRankedTo("b", a.live(), 3)
		for _, name := range names {
			e, _, err := a.ensureEntry(wctx, name, 1, true)
			if err != nil {
				t.Errorf("create %s on a: %v", name, err)
				continue
			}
			if slices.ContainsFunc(e.Voters, func(v groupMember) bool { return v.ID == joiner }) {
				t.Errorf("heap %s, created while b joins, has b (raft ID %x, inside its Start) among its first voters %v", name, joiner, e.Voters)
			}
		}
		cancel() // ossd interrupted while it waits
	}
	if b, err := Start(ctx, cfg); err == nil {
		b.Close(context.Background())
		t.Fatal("joined the catalog with Start's context ended")
	}
	if t.Failed() {
		t.FailNow()
	}
	identityGone(t, dir) // it was admitted nowhere
	b := joinsA(t, c, dir)
	defer b.Close(context.Background())
	if b.id == joiner {
		t.Fatalf("b rejoined under the raft ID %x its failed start took back", joiner)
	}
	for _, name := range names {
		for _, n := range []*Node{a, b} {
			h, err := n.Heap(wctx, name)
			if err != nil {
				t.Fatalf("open %s on %s after b's failed start and rejoin: %v", name, n.cfg.Name, err)
			}
			if err := h.Update(wctx, func(tx *Tx) error { return Put(tx, uuid.New(), n.cfg.Name) }); err != nil {
				t.Fatalf("write %s on %s: %v", name, n.cfg.Name, err)
			}
		}
	}
}
