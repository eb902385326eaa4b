package admin_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A client granted read on "**" (the heaps whose names start with "*")
// is shown those heaps alone in the status and the heap list, and is
// refused /metrics and the dashboard's stream, which ask read on every
// heap ("*"). A grant's heap is matched as a prefix, so "**" covered the
// question "*" too: the client got the whole status, /metrics and the
// dashboard, as if granted read on every heap.
func TestStarStarGrantIsNoGrantOnEveryHeap(t *testing.T) {
	ctx := context.Background()
	n := startNode(t)
	for _, heap := range []string{"*bank", "vault"} {
		if _, err := n.CreateHeapIfNotExists(ctx, heap, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Grant(ctx, oss.Grant{Who: "alice", Heap: "**", Perm: oss.PermRead}); err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	srv := serve(t, n, p.serverOptions(t))
	c := p.client(t, srv, "alice")
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var status, leads, heaps []string
	for _, h := range st.Heaps {
		status = append(status, h.Name)
	}
	for _, m := range st.Members {
		leads = append(leads, m.Leads...)
	}
	hs, err := c.Heaps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		heaps = append(heaps, h.Name)
	}
	slices.Sort(status)
	if want := []string{"*bank", "oss:catalog"}; !slices.Equal(status, want) || !slices.Equal(heaps, want[:1]) || slices.Contains(leads, "vault") {
		t.Errorf("alice, granted read on \"**\", was shown %q in the status, %q in the heap list and %q led; want %q, *bank alone in the list, and vault nowhere",
			status, heaps, leads, want)
	}
	hc := rawClient(t, p, "alice")
	for _, path := range []string{"/metrics", "/ui/events"} {
		if got := code(t, hc, "GET", srv.URL()+path, ""); got != http.StatusForbidden {
			t.Errorf("GET %s as alice, granted read on \"**\": %d, want %d", path, got, http.StatusForbidden)
		}
	}
	// A grant on "*" is one on every heap: its holder is served both.
	if err := n.Grant(ctx, oss.Grant{Who: "alice", Heap: "*", Perm: oss.PermRead}); err != nil {
		t.Fatal(err)
	}
	if got := code(t, hc, "GET", srv.URL()+"/metrics", ""); got != http.StatusOK {
		t.Errorf("GET /metrics as alice, granted read on \"*\": %d, want %d", got, http.StatusOK)
	}
}
