package scene

import (
	"context"
	"fmt"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// Avatars of crashed clients are removed once their leases run out even
// while other clients join and leave: a reap is not lost to a commit that
// touches the roster shard of another expired avatar. (One transaction
// that read the shards of every expired avatar lost to every such join
// while it waited for its commit, and on a loaded cluster the avatars of
// crashed bots stayed in the world for minutes.)
func TestReapIsNotLostToAJoinElsewhere(t *testing.T) {
	ctx := context.Background()
	w := verifyWorld(t)
	// Two crashed clients, their avatars on two roster shards.
	var ghosts []*Avatar
	for i := 0; len(ghosts) < 2; i++ {
		if i == 8 {
			t.Fatal("no two avatars on different roster shards in 8 joins")
		}
		a, err := w.Join(ctx, fmt.Sprintf("ghost-%d", i), &JoinOptions{At: &Vec{X: 0.5 + float64(i), Y: 8}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ghosts) == 1 && shardOf(a.ID(), RosterShards) == shardOf(ghosts[0].ID(), RosterShards) {
			if err := a.Leave(ctx); err != nil {
				t.Fatal(err)
			}
			continue
		}
		w.Forget(a)
		ghosts = append(ghosts, a)
	}
	// Their leases run out.
	err := w.h.Update(ctx, func(tx *oss.Tx) error {
		c, err := oss.Get[clockObj](tx, w.clock)
		if err != nil {
			return err
		}
		c.Tick += w.lease + 1
		return oss.Put(tx, w.clock, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	// While the reap waits for its commit, a client joins or leaves on
	// the second ghost's shard.
	shard := w.rooms[0].obj.Rosters[shardOf(ghosts[1].ID(), RosterShards)]
	w.beforeReapCommit = func() {
		err := w.h.Update(ctx, func(tx *oss.Tx) error {
			s, err := shard.Get(tx)
			if err != nil {
				return err
			}
			return shard.Put(tx, s)
		})
		if err != nil {
			t.Error(err)
		}
	}
	n, err := w.Reap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("the reap removed %d avatars, want the first ghost's", n)
	}
	if err := ghosts[0].Heartbeat(ctx); err == nil {
		t.Fatal("the first ghost is still in the world")
	}
	// The next round, undisturbed, removes the second.
	w.beforeReapCommit = nil
	if n, err := w.Reap(ctx); err != nil || n != 1 {
		t.Fatalf("the second reap removed %d avatars (%v), want the second ghost's", n, err)
	}
	if err := w.h.View(ctx, w.Verify, nil); err != nil {
		t.Fatal(err)
	}
}
