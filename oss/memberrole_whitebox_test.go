package oss

import (
	"slices"
	"testing"

	"github.com/objectsharing/oss/oss/pki"
)

// Member.Role is documented as the node's role from its certificate, and
// ossd status, the dashboard and "ossd heaps create" count servers by it,
// but Members took it from what the member announced in membership: a
// client that announced "server" was listed as one. A connected member's
// role is its certificate's, whatever it announces.
func TestMembersGivesTheCertificatesRole(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a")
	a := c.nodes["a"]
	app := c.startRole("app", pki.RoleClient)
	// app announces a server's role; a's membership, under Members, is
	// seen to hear it.
	app.members.mu.Lock()
	app.members.cfg.role = pki.RoleServer
	app.members.mu.Unlock()
	if err := app.members.updateNode(); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "a to hear app's announcement", func() bool {
		return slices.ContainsFunc(a.members.members(), func(m Member) bool { return m.Name == "app" && m.Role == pki.RoleServer })
	})
	var got Member
	for _, m := range a.Members() {
		if m.Name == "app" {
			got = m
		}
	}
	if got.Role != pki.RoleClient {
		t.Fatalf("a lists app, a client certificate that announced %q, as %q", pki.RoleServer, got.Role)
	}
}
