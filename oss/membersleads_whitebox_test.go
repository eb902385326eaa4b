package oss

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
)

// Membership tells no member who leads which heap. Every node announced
// the heaps it led in its gossip metadata, and Node.Members gave them to
// any node, a client granted nothing included, past the status's cut to
// the heaps it may read. Nothing routed by them; the status names each
// member's leads from its heaps' leaders (leadsFromHeaps).
func TestMembershipTellsNoOneWhoLeads(t *testing.T) {
	t.Parallel()
	// An earlier build's metadata still decodes, its leads unread.
	old, err := codec.Marshal(map[uint64]any{1: "127.0.0.1:7400", 2: string(pki.RoleServer), 3: []string{"vault"}, 4: uint64(9)})
	if err != nil {
		t.Fatal(err)
	}
	v := toView(&memberlist.Node{Name: "old", Meta: old})
	if v.Addr != "127.0.0.1:7400" || v.Role != pki.RoleServer || v.id != 9 || len(v.Leads) != 0 {
		t.Fatalf("an earlier build's metadata read as %+v; want its address, role and ID, and no leads", v)
	}
	c := newQUICCluster(t, "a")
	a := c.nodes["a"]
	untilLeader(t, "create vault", func(ctx context.Context) error {
		_, err := a.CreateHeapIfNotExists(ctx, "vault", nil)
		return err
	})
	app := c.startRole("app", pki.RoleClient)
	ctx := context.Background()
	waitCond(t, "a's status to name it the leader of vault and the catalog", func() bool {
		for _, m := range a.Status(ctx).Members {
			if m.Name == "a" {
				return slices.Contains(m.Leads, "vault") && slices.Contains(m.Leads, catalogName)
			}
		}
		return false
	})
	var meta map[uint64]any
	if err := codec.Unmarshal(a.members.NodeMeta(512), &meta); err != nil {
		t.Fatal(err)
	}
	if _, ok := meta[3]; ok {
		t.Errorf("a's gossip metadata holds the heaps it leads: %v", meta)
	}
	// The leads were announced once a second: a few seconds' worth of
	// announcements, as each node sees them.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, n := range []*Node{a, app} {
			for _, m := range n.Members() {
				if len(m.Leads) > 0 {
					t.Fatalf("%s's Members says %s leads %q", n.Name(), m.Name, m.Leads)
				}
			}
		}
	}
}
