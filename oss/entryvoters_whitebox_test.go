package oss

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// A heap entry's first voters bind the raft IDs that no node record
// names, and a client granted admin on a heap writes that heap's entry.
// A client that named a new server's raft ID (which membership gossips
// before the server registers) under another name among the first voters
// of a heap it administers had the server's join of the catalog refused
// for good ("raft ID … is node "ghost"'s"): the server did not start. The
// catalog's leader now refuses such an entry.
func TestClientCannotBindANewServersRaftID(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b", "c")
	mustGrant(t, c.nodes["a"], Grant{Who: "mallory", Heap: "game-*", Perm: PermAdmin})
	m := c.startRole("mallory", pki.RoleClient)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var once sync.Once
	var werr error
	_, err := c.launch("d", pki.RoleServer, func(cfg *Config) {
		cfg.catalogStep = func(step string, h *Heap) {
			if step != "join" {
				return
			}
			once.Do(func() {
				e := heapEntry{Name: "game-x", Replicas: 1, Group: newNodeID(), Voters: []groupMember{{Name: "ghost", ID: h.node.id}}}
				werr = m.catalog.Load().Update(ctx, func(tx *Tx) error { return Put(tx, entryID(e.Name), e) })
			})
		}
	})
	if err != nil {
		t.Fatalf("d did not start after mallory wrote an entry naming d's raft ID as ghost's (%v): %v", werr, err)
	}
	if !errors.Is(werr, ErrPermission) {
		t.Errorf("mallory's entry naming d's raft ID as ghost's: %v, want an error matching ErrPermission", werr)
	}
	// An entry of the client's own heap, its voters as membership lists
	// them, is still taken.
	if _, err := m.CreateHeap(ctx, "game-y", nil); err != nil {
		t.Errorf("mallory's create of game-y: %v", err)
	}
}
