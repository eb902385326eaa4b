package oss

import (
	"sync/atomic"
	"testing"

	"go.etcd.io/raft/v3"
	"go.uber.org/goleak"
)

// live leaves out a member announcing one of the raft IDs raft reserves
// for a node's own storage: a placement or a join that took it would
// have its messages pass for raft's storage's.
func TestLiveIgnoresAReservedRaftID(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a")
	a := c.nodes["a"]
	claims := new(atomic.Pointer[[]peerInfo])
	claims.Store(&[]peerInfo{{Name: "mallory", ID: raft.LocalApplyThread}, {Name: "ghost", ID: raft.LocalAppendThread}, {Name: "e", ID: newNodeID()}})
	a.setDirectory(claimingDirectory{directory: a.directory(), claims: claims})
	live := a.live()
	for _, p := range live {
		if reservedID(p.ID) {
			t.Errorf("a lists %s live under raft ID %x, which raft reserves", p.Name, p.ID)
		}
	}
	if !lists(a, "e", (*claims.Load())[2].ID) {
		t.Errorf("a does not list e live: %v", live)
	}
}
