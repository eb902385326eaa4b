package admin_test

import (
	"context"
	"slices"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// GET /v1/status and GET /v1/heaps show a client certificate the heaps
// it may read alone. Both need only a certificate of the cluster's CA,
// and they gave a client granted nothing every heap's group, leader and
// applied index (how often each is written), and the heaps each member
// leads. An operator still sees everything.
func TestStatusShowsAClientOnlyWhatItMayRead(t *testing.T) {
	ctx := context.Background()
	n := startNode(t)
	for _, heap := range []string{"bank", "vault"} {
		if _, err := n.CreateHeapIfNotExists(ctx, heap, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Grant(ctx, oss.Grant{Who: "alice", Heap: "bank", Perm: oss.PermRead}); err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	srv := serve(t, n, p.serverOptions(t))
	seen := func(user string) (status, heaps, leads []string) {
		t.Helper()
		c := p.client(t, srv, user)
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatalf("%s: status: %v", user, err)
		}
		for _, h := range st.Heaps {
			status = append(status, h.Name)
		}
		for _, m := range st.Members {
			leads = append(leads, m.Leads...)
		}
		hs, err := c.Heaps(ctx)
		if err != nil {
			t.Fatalf("%s: heaps: %v", user, err)
		}
		for _, h := range hs {
			heaps = append(heaps, h.Name)
		}
		slices.Sort(status)
		slices.Sort(heaps)
		slices.Sort(leads)
		return status, heaps, leads
	}
	status, heaps, leads := seen("alice")
	// The heap list leaves the catalog out for everyone.
	if want := []string{"bank", "oss:catalog"}; !slices.Equal(status, want) || !slices.Equal(heaps, want[:1]) || slices.Contains(leads, "vault") {
		t.Errorf("alice, granted read on bank alone, was shown the heaps %q in the status, %q in the heap list and %q led; want %q, bank alone in the list, and vault nowhere",
			status, heaps, leads, want)
	}
	status, heaps, leads = seen("admin")
	if !slices.Contains(status, "vault") || !slices.Contains(heaps, "vault") || !slices.Contains(leads, "vault") {
		t.Errorf("admin was shown the heaps %q in the status, %q in the heap list and %q led; want vault in each", status, heaps, leads)
	}
	// A client certificate without a node's grants (DefaultAuthorize)
	// may read nothing, and is shown no heap.
	bare := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", CAPEM: p.read(t, "ca.crt"), CertPEM: p.read(t, "n1.crt"), KeyPEM: p.read(t, "n1.key"),
		Authorize: admin.DefaultAuthorize})
	c := p.client(t, bare, "alice")
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Heaps) != 0 {
		t.Errorf("alice, who may read nothing, was shown %d heaps in the status", len(st.Heaps))
	}
}
