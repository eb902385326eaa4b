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
	// app announces a server's role, and a heap it leads so that the
	// announcement is seen to arrive.
	app.members.mu.Lock()
	app.members.cfg.role = pki.RoleServer
	app.members.mu.Unlock()
	app.members.setLeads([]string{"announced"})
	var got Member
	waitCond(t, "a to hear app's announcement", func() bool {
		for _, m := range a.Members() {
			if m.Name == "app" {
				got = m
			}
		}
		return slices.Contains(got.Leads, "announced")
	})
	if got.Role != pki.RoleClient {
		t.Fatalf("a lists app, a client certificate that announced %q, as %q", pki.RoleServer, got.Role)
	}
}
