package oss

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
)

// lists reports whether node n's live membership lists name under raft
// ID id.
func lists(n *Node, name string, id uint64) bool {
	return slices.ContainsFunc(n.live(), func(p peerInfo) bool { return p.Name == name && p.ID == id })
}

// A client granted nothing that saw a new server's raft ID gossiped,
// before the server registered, joined the catalog under it: the leader,
// asking only whether a record held the ID, wrote the client's record
// with it, and the server's join was then refused for good ("raft ID …
// is node "mallory"'s, not "d"'s"): it did not start. The client's own
// repair of its record is held back, as an attacker runs none.
func TestClientCannotJoinTheCatalogUnderANewServersRaftID(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b", "c")
	m := c.startRole("mallory", pki.RoleClient)
	m.catalog.Load().contact.holdRepair.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var once sync.Once
	var answers []string
	var dID uint64
	// d joins membership by the servers: a client's word on other members
	// is not taken, and d, joined by mallory alone, stayed unknown to them.
	delete(c.nodes, "mallory")
	defer func() { c.nodes["mallory"] = m }()
	_, err := c.launch("d", pki.RoleServer, func(cfg *Config) {
		cfg.catalogStep = func(step string, h *Heap) {
			if step != "join" {
				return
			}
			once.Do(func() {
				dID = h.node.id
				waitFor(t, "every server to list d live under its raft ID", func() bool {
					return lists(c.nodes["a"], "d", dID) && lists(c.nodes["b"], "d", dID) && lists(c.nodes["c"], "d", dID)
				})
				req, _ := codec.Marshal(callRequest{Op: opJoin, Heap: catalogName, ID: dID, Addr: m.Addr(), Cluster: m.ClusterID()})
				for range 10 {
					to := c.catalogLeader(t).Name()
					resp, err := m.tr.Call(ctx, to, req)
					var cr callResponse
					if err == nil {
						err = codec.Unmarshal(resp, &cr)
					}
					answers = append(answers, to+": "+fmtAnswer(cr, err))
					if err == nil && (cr.OK || cr.Refused != "") {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			})
		}
	})
	if err != nil {
		t.Fatalf("d did not start after mallory's join of the catalog under d's raft ID (%v): %v", answers, err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if rec := c.nodes[name].committed().recs["mallory"]; rec.ID == dID {
			t.Errorf("%s's catalog records mallory under d's raft ID %016x (mallory's joins: %v)", name, dID, answers)
		}
	}
}

// fmtAnswer is a join's answer or error as a test logs it.
func fmtAnswer(cr callResponse, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case cr.Refused != "":
		return "refused: " + cr.Refused
	case cr.OK:
		return "taken"
	}
	return "not taken"
}

// claimingDirectory is a node's directory that also lists what a client
// announces: a raft ID of its choice under a name.
type claimingDirectory struct {
	directory
	claims *atomic.Pointer[[]peerInfo]
}

func (d claimingDirectory) live() []peerInfo {
	out := d.directory.live()
	if cs := d.claims.Load(); cs != nil {
		out = append(out, *cs...)
	}
	return out
}

// Membership's raft IDs are each member's own word. A client granted
// admin on a heap named, among its entry's first voters, a new server's
// raft ID under a name that also announced it (its own, or one not
// recorded): the leader took it, as membership listed that name under
// that ID, and the entry bound the server's ID to the other name.
func TestClientCannotBindARaftIDAnotherMemberAnnounces(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b", "c")
	mustGrant(t, c.nodes["a"], Grant{Who: "mallory", Heap: "game-*", Perm: PermAdmin})
	m := c.startRole("mallory", pki.RoleClient)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A server "e" not yet registered, and the names that announce its
	// raft ID too.
	id := newNodeID()
	claims := new(atomic.Pointer[[]peerInfo])
	claims.Store(&[]peerInfo{{Name: "e", ID: id, Role: pki.RoleServer}, {Name: "ghost", ID: id}, {Name: "mallory", ID: id}})
	for _, name := range []string{"a", "b", "c"} {
		n := c.nodes[name]
		n.setDirectory(claimingDirectory{directory: n.directory(), claims: claims})
	}
	for i, who := range []string{"ghost", "mallory"} {
		e := heapEntry{Name: "game-" + who, Replicas: 1, Group: newNodeID(), Voters: []groupMember{{Name: who, ID: id}}}
		err := m.catalog.Load().Update(ctx, func(tx *Tx) error { return Put(tx, entryID(e.Name), e) })
		if !errors.Is(err, ErrPermission) {
			t.Errorf("%d: mallory's entry naming raft ID %016x, which e announces, as %s's: %v, want an error matching ErrPermission", i, id, who, err)
		}
	}
	if _, err := m.CreateHeap(ctx, "game-y", nil); err != nil {
		t.Errorf("mallory's create of game-y: %v", err)
	}
}
