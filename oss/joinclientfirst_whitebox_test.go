package oss

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
)

// A server whose Join names a client and a server, the client answering
// first, joins membership through the server too and starts. The first
// address to answer ended the other dials, and the node joined through
// the client alone, whose gossip about other members is left out: it
// knew no server, and its catalog join waited out joinTimeout (30 s) and
// failed Start ("cannot reach the cluster's catalog"). Config.Join says
// any member that answers will do.
func TestJoinWhoseClientAnswersFirstJoinsAServerToo(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a")
	k := c.startRole("k", pki.RoleClient)
	aAddr := c.nodes["a"].Addr()
	cfg := c.serverConfig("d", "127.0.0.1:0", k.Addr(), aAddr)
	cfg.JoinRetry = false
	cfg.reach = clientFirst(aAddr, nil)
	startKnowingA(t, c, cfg, "d, its Join naming client k (answering first) and server a")
}

// clientFirst is a Config.reach whose first dial of aAddr answers only
// once another address did (the client, which ends it); other, if not
// nil, dials the addresses it reports handled.
func clientFirst(aAddr string, other func(ctx context.Context, to string) (err error, handled bool)) func(context.Context, string, func(context.Context, string) error) error {
	var mu sync.Mutex
	dialled := 0
	return func(ctx context.Context, to string, real func(context.Context, string) error) error {
		if other != nil {
			if err, ok := other(ctx, to); ok {
				return err
			}
		}
		if to == aAddr {
			mu.Lock()
			dialled++
			first := dialled == 1
			mu.Unlock()
			if first {
				<-ctx.Done()
				return ctx.Err()
			}
		}
		return real(ctx, to)
	}
}

// startKnowingA starts d on cfg and wants server a among its members
// when Start returns.
func startKnowingA(t *testing.T, c *quicCluster, cfg *Config, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	d, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	c.nodes["d"] = d
	var names []string
	for _, m := range d.Members() {
		names = append(names, m.Name)
	}
	if !slices.Contains(names, "a") {
		t.Errorf("d knows members %v when Start returns; want server a among them", names)
	}
}
