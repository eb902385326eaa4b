package oss

import (
	"context"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// A client crashed and started again at the same port while every
// server's membership still lists the old process there is admitted with
// no refusal on the way: the catalog's leader pings the listed address,
// the new process answers it and echoes the challenge (whoAnswers,
// answeredByCallerProven). The join of TestJoinWhileMembershipListsA
// CrashedNodeIsNotFinal's restart waited for a refusal before it let the
// listing go: a restart admitted without one (here, or there once
// membership found the old p dead before the restart's join) left it
// waiting out its context (5 min), which hung a loaded run of the
// package until its timeout.
func TestRestartAtTheListedPortIsAdmittedWithNoRefusal(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	p := startClientP(t, ctx, c)
	addr := p.n.Addr()
	await.Until(t, "p in a's view", func() bool { return memberAt(c.nodes["a"], "p", addr) })
	catalogLeaderWith(t, c, p.n)
	stale := listStale(t, c, p)
	p.crash()

	if refused := restartWhileListed(t, ctx, c, p, stale, addr); refused {
		t.Logf("a join of p was refused on the way (the new process did not answer at %s yet)", addr)
	}
	if p.n.Addr() != addr {
		t.Fatalf("p started again at %s, not at %s", p.n.Addr(), addr)
	}
}
