package oss

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
)

// A client that may read a heap asked to join it under a raft ID that a
// new server announces too, as its own name's: the heap's leader took
// the join, since membership listed the client's name under that ID, and
// added the client as a learner under the server's raft ID. It is now
// told to try again, and nothing is added.
func TestClientCannotJoinAHeapUnderARaftIDAServerAnnounces(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.nodes["a"].CreateHeap(ctx, "game-x", nil); err != nil {
		t.Fatal(err)
	}
	mustGrant(t, c.nodes["a"], Grant{Who: "mallory", Heap: "game-x", Perm: PermRead})
	m := c.startRole("mallory", pki.RoleClient)
	id := newNodeID()
	claims := new(atomic.Pointer[[]peerInfo])
	claims.Store(&[]peerInfo{{Name: "e", ID: id, Role: pki.RoleServer}, {Name: "mallory", ID: id}})
	for _, name := range []string{"a", "b", "c"} {
		n := c.nodes[name]
		n.setDirectory(claimingDirectory{directory: n.directory(), claims: claims})
	}
	req, err := codec.Marshal(callRequest{Op: opJoin, Heap: "game-x", ID: id, Addr: m.Addr(), Cluster: m.ClusterID()})
	if err != nil {
		t.Fatal(err)
	}
	var answers []string
	waitFor(t, "game-x's leader to answer mallory's join under e's raft ID", func() bool {
		for _, name := range []string{"a", "b", "c"} {
			resp, err := m.tr.Call(ctx, name, req)
			var cr callResponse
			if err == nil {
				err = codec.Unmarshal(resp, &cr)
			}
			answers = append(answers, name+": "+fmtAnswer(cr, err))
			if err == nil && cr.OK {
				t.Fatalf("game-x's leader %s took mallory's join under raft ID %016x, which server e announces (answers: %v)", name, id, answers)
			}
			if err != nil && strings.Contains(err.Error(), "try again") && strings.Contains(err.Error(), `"e"`) {
				return true
			}
		}
		return false
	})
	for _, name := range []string{"a", "b", "c"} {
		h := c.nodes[name].replicaOf("game-x")
		if cs := h.conf.Load(); cs != nil && (slices.Contains(cs.Learners, id) || slices.Contains(cs.LearnersNext, id)) {
			t.Errorf("%s: game-x lists raft ID %016x as a learner", name, id)
		}
	}
}
