package oss

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/objectsharing/oss/oss/pki"
)

// The second join, through the addresses the client's answer cut short,
// takes the first of them to answer, as the first join does: it waited
// for every one, so a Join naming a client (answering first), a server
// and a dead address held Start for the dead address's whole dial after
// the server had answered. Here the dead address never answers: its
// second dial must be ended by the server's answer, not by Start's
// context.
func TestJoinServersTooDoesNotWaitForADeadAddress(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a")
	k := c.startRole("k", pki.RoleClient)
	aAddr := c.nodes["a"].Addr()
	const dead = "127.0.0.1:9"
	cfg := c.serverConfig("d", "127.0.0.1:0", k.Addr(), aAddr, dead)
	cfg.JoinRetry = false
	var (
		mu       sync.Mutex
		deadErrs []error
	)
	cfg.reach = clientFirst(aAddr, func(ctx context.Context, to string) (error, bool) {
		if to != dead {
			return nil, false
		}
		<-ctx.Done()
		mu.Lock()
		deadErrs = append(deadErrs, ctx.Err())
		mu.Unlock()
		return ctx.Err(), true
	})
	startKnowingA(t, c, cfg, "d, its Join naming client k (answering first), server a and a dead address")
	mu.Lock()
	defer mu.Unlock()
	if len(deadErrs) != 2 {
		t.Fatalf("the dead address was dialled %d times when Start returned (%v); want twice, each ended by another's answer", len(deadErrs), deadErrs)
	}
	for _, e := range deadErrs {
		if !errors.Is(e, context.Canceled) {
			t.Fatalf("the dead address's dials ended with %v; want each cut short by another address's answer (context.Canceled)", deadErrs)
		}
	}
}
