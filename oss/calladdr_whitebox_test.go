package oss

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
	"go.uber.org/goleak"
)

// A join's address is refused before anything keeps or logs it unless it
// is a HOST:PORT of at most 255 bytes. A client granted nothing joined
// the catalog under a new raft ID with an address of 1 MiB: the leader
// wrote it into the client's node record (replicated, kept on disk) and
// logged it whole at INFO, and a client may do so once a second.
func TestCallsAddrIsBoundedBeforeItIsKept(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a", "b", "c")
	m := c.startRole("mallory", pki.RoleClient)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, addr := range []string{m.Addr() + strings.Repeat("0", 1<<20), strings.Repeat("x", 1<<20), "no port"} {
		to, cr := joinAt(t, ctx, c, m, newNodeID(), addr)
		if cr.OK || cr.Member || cr.Refused == "" {
			t.Fatalf("%s took mallory's join with an address of %d bytes (%q…): %v", to, len(addr), addr[:min(len(addr), 20)], fmtAnswer(cr, nil))
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		if rec := c.nodes[name].committed().recs["mallory"]; len(rec.Addr) > 255 {
			t.Errorf("%s's catalog records mallory at an address of %d bytes", name, len(rec.Addr))
		}
	}
}
