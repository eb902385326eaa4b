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
	var mu sync.Mutex
	dialled := 0
	cfg.reach = func(ctx context.Context, to string, real func(context.Context, string) error) error {
		if to == aAddr {
			mu.Lock()
			dialled++
			first := dialled == 1
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
		t.Fatalf("d, its Join naming client k (answering first) and server a: %v", err)
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
