package oss

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
	"go.uber.org/goleak"
)

// A node takes a new raft ID at every start without its data, so the
// catalog's leader registers a name again under another ID, and adds that
// ID to the catalog's group as a learner. It did so for every join call:
// a client certificate that called join with a new random ID 400 times in
// 6 s left 399 learners in the catalog's group (the old IDs stay until
// they have been down for ReplaceAfter, and joins come before removals).
// The leader registers a new ID for a name at most once every
// reRegisterEvery; the calls between are refused, to be tried again.
func TestJoinsWithNewRaftIDsAreRegisteredOnceASecond(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 29)
	logs := map[string]*syncBuffer{}
	for i, name := range []string{"a", "b", "c"} {
		logs[name] = &syncBuffer{}
		c.add(name, i > 0, func(cfg *Config) { cfg.Logger = slog.New(slog.NewTextHandler(logs[name], nil)) })
	}
	c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	c.kill("app") // registered, and not live: its next join may be a restart
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var leader *Node
	waitCond(t, "a leader of the catalog", func() bool {
		for _, name := range []string{"a", "b", "c"} {
			if h := c.nodes[name].replicaOf(catalogName); h != nil && h.leaderIs(h.self) {
				leader = c.nodes[name]
			}
		}
		return leader != nil
	})
	before := strings.Count(logs[leader.cfg.Name].String(), `msg="node registered" node=`+leader.cfg.Name+` peer=app `)
	const calls = 50
	start := time.Now()
	for range calls {
		req, err := codec.Marshal(callRequest{Op: opJoin, Heap: catalogName, ID: rand.Uint64() | 1})
		if err != nil {
			t.Fatal(err)
		}
		leader.handleCall(ctx, "app", req) // refused or not: the log says which were registered
	}
	elapsed := time.Since(start)
	registered := strings.Count(logs[leader.cfg.Name].String(), `msg="node registered" node=`+leader.cfg.Name+` peer=app `) - before
	if most := 1 + int(elapsed/reRegisterEvery); registered > most {
		t.Fatalf("%d join calls of app with new raft IDs in %v registered %d of them, want at most %d (one every %v)",
			calls, elapsed.Round(time.Millisecond), registered, most, reRegisterEvery)
	}
}
