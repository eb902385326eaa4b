package oss

import (
	"context"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/objectsharing/oss/transport/transporttest"
)

// A join that a server refused for want of read, and whose next call did
// not come back in time, reports the refusal: the timeout came last and
// was reported alone ("last error: a: context deadline exceeded"), and a
// client refused on a loaded machine never heard which grant it lacks
// (TestACLNoGrantJoinRefusedByLeader at load 21).
func TestJoinRefusedForPermissionThenATimeoutSaysPermission(t *testing.T) {
	t.Parallel()
	refusal := (&PermissionError{Who: "app", Role: pki.RoleClient, Heap: "secret", Perm: PermRead}).Error()
	nw := &callsNetwork{Network: transporttest.NewNetwork(1), node: "a",
		calls: func(ctx context.Context, to string) ([]byte, error, bool) {
			switch to {
			case "x": // a server that refuses the join
				return nil, &transport.RemoteError{Peer: "x", Message: refusal}, true
			case "y": // a server whose answer does not come in time
				<-ctx.Done()
				return nil, ctx.Err(), true
			}
			return nil, nil, false
		}}
	ctx := context.Background()
	a, err := Start(ctx, &Config{Name: "a", Transport: nw, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	never := func() bool { return false }
	// In one round: x refuses, then y does not answer.
	err = a.askJoin(ctx, a.catalog.Load(), []string{"x", "y"}, never, nil)
	if err == nil || !strings.Contains(err.Error(), "--heap secret --perm read") {
		t.Fatalf("a round refused by x for want of read, then y's timeout: %v; want the refusal", err)
	}
	// In two rounds, as a client with one server asks: the refusal, then
	// the timeout.
	var heard joinHeard
	heard.failed(ctx, a.askJoin(ctx, a.catalog.Load(), []string{"x"}, never, nil))
	heard.failed(ctx, a.askJoin(ctx, a.catalog.Load(), []string{"y"}, never, nil))
	if got := heard.String(); !strings.Contains(got, "permission denied") || !strings.Contains(got, "--heap secret --perm read") {
		t.Fatalf("the join's account after a later round timed out: %q; want the refusal", got)
	}
}
