package oss

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"go.uber.org/goleak"
)

// wantDamage fails the test unless err is a damaged node's refusal: an
// error matching ErrCorrupt that names the catalog and the remedy, and
// nothing that would have a caller wait or retry on this node.
func wantDamage(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s on a node whose catalog replica was lost: no error", what)
	}
	msg := err.Error()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(msg, catalogName) || !strings.Contains(msg, "--rebuild-replica --join") ||
		errors.Is(err, ErrClosed) || errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrPermission) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s on a node whose catalog replica was lost: %v; want ErrCorrupt naming the catalog and the rebuild", what, err)
	}
}

// A node whose catalog replica is lost after Start says so: Damage,
// Status (and so ossd status, /v1/status and the dashboard) and the
// metric oss_replica_lost; and every call that needs the catalog fails at
// once with the damage (ErrCorrupt, saying what to do) rather than
// waiting for a catalog that will not come back or saying "closed". A
// client's grant, given before the loss, is no longer honoured: a
// revocation since would not be seen.
func TestCatalogLostAfterStartDamagesNode(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n, err := Start(context.Background(), &Config{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	// Bounds the calls if they wait: none should.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := n.CreateHeap(ctx, "h", nil); err != nil {
		t.Fatal(err)
	}
	g := Grant{Who: "c", Heap: "h", Perm: PermRead}
	if err := n.Grant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := n.Damage(); err != nil {
		t.Fatalf("Damage of a running node: %v", err)
	}
	if st := n.Status(ctx); st.Damage != "" {
		t.Fatalf("Status of a running node: damaged: %s", st.Damage)
	}
	if v, ok := metricValue(gather(t, n), "oss_replica_lost", "heap", catalogName); !ok || v != 0 {
		t.Fatalf("oss_replica_lost of a running catalog replica: %v (present: %v); want 0", v, ok)
	}

	if !loseCatalog(n.catalog.Load()) {
		t.Fatal("the catalog replica was not lost")
	}

	wantDamage(t, "Damage", n.Damage())
	st := n.Status(ctx)
	if st.Damage != n.Damage().Error() {
		t.Fatalf("Status.Damage: %q; want the node's damage", st.Damage)
	}
	if len(st.Heaps) == 0 || st.Heaps[0].Name != catalogName || !strings.Contains(st.Heaps[0].Lost["a"], "raft") {
		t.Fatalf("Status.Heaps: %+v; want the catalog first, its replica on a lost", st.Heaps)
	}
	mfs := gather(t, n)
	if v, ok := metricValue(mfs, "oss_replica_lost", "heap", catalogName); !ok || v != 1 {
		t.Fatalf("oss_replica_lost of the lost catalog replica: %v (present: %v); want 1", v, ok)
	}
	if v, ok := metricValue(mfs, "oss_replica_lost", "heap", "h"); !ok || v != 0 {
		t.Fatalf("oss_replica_lost of a running heap's replica: %v (present: %v); want 0", v, ok)
	}

	_, err = n.CreateHeap(ctx, "new", nil)
	wantDamage(t, "CreateHeap", err)
	_, err = n.CreateHeapIfNotExists(ctx, "new", nil)
	wantDamage(t, "CreateHeapIfNotExists", err)
	_, err = n.Heap(ctx, "h")
	wantDamage(t, "Heap of a heap the node keeps", err)
	_, err = n.Heap(ctx, "other")
	wantDamage(t, "Heap of a heap the node does not know", err)
	wantDamage(t, "DropHeap", n.DropHeap(ctx, "h"))
	wantDamage(t, "Grant", n.Grant(ctx, Grant{Who: "d", Heap: "h", Perm: PermRead}))
	wantDamage(t, "RevokeGrant", n.RevokeGrant(ctx, g))
	wantDamage(t, "Authorize of a client", n.Authorize("c", pki.RoleClient, "h", PermRead))
	// What peers ask of the replicas the node leads goes on by the grants
	// it has: refusing them would fail every heap it leads, and remove
	// every client from them (unreadable), until the node is rebuilt.
	if err := n.authorize("c", pki.RoleClient, "h", PermRead); err != nil {
		t.Fatalf("a peer's request on a damaged node: %v; want the grants the node has", err)
	}
	if err := n.Authorize("op", pki.RoleAdmin, "h", PermAdmin); err != nil {
		t.Fatalf("Authorize of an operator on a damaged node: %v; want nil (operators need no grant)", err)
	}
}

// A replica closed without loss (the node closing) is no damage.
func TestCatalogClosedIsNoDamage(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n, err := Start(context.Background(), &Config{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h := n.catalog.Load()
	n.Close(context.Background())
	await.Recv(t, h.done, "the catalog's loop to end")
	if err := n.Damage(); err != nil {
		t.Fatalf("Damage of a closed node: %v", err)
	}
}
