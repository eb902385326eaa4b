package oss

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
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
		aDials   int
		deadErrs []error
	)
	cfg.reach = func(ctx context.Context, to string, real func(context.Context, string) error) error {
		switch to {
		case dead:
			<-ctx.Done()
			mu.Lock()
			deadErrs = append(deadErrs, ctx.Err())
			mu.Unlock()
			return ctx.Err()
		case aAddr:
			mu.Lock()
			aDials++
			first := aDials == 1
			mu.Unlock()
			if first { // answers only after the client did (ended then)
				<-ctx.Done()
				return ctx.Err()
			}
		}
		return real(ctx, to)
	}
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	d, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("d, its Join naming client k (answering first), server a and a dead address: %v", err)
	}
	c.nodes["d"] = d
	var names []string
	for _, m := range d.Members() {
		names = append(names, m.Name)
	}
	if !slices.Contains(names, "a") {
		t.Errorf("d knows members %v when Start returns; want server a among them", names)
	}
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
