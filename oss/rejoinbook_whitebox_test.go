package oss

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// A member restarted without Join (the node a cluster was started from,
// restarted as it was first started) has rejoined the servers it last saw
// when Start returns: its view held itself alone until its first
// background round (5 s on a LAN), while its admin interface served, and
// "ossd status" there, the answer the README's start loop waits for,
// named every other server "down: ..., is no live member".
func TestMemberRestartedWithoutJoinKnowsItsPeersWhenStarted(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	c := newQUICClusterWith(t, 100*time.Millisecond, func(cfg *Config) { cfg.DataDir = filepath.Join(base, cfg.Name) }, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	book := filepath.Join(base, "a", peersFile)
	waitFor(t, "a's book to list b and c", func() bool {
		b, err := os.ReadFile(book)
		return err == nil && strings.Contains(string(b), "b "+c.nodes["b"].Addr()) && strings.Contains(string(b), "c "+c.nodes["c"].Addr())
	})
	addr := c.nodes["a"].Addr()
	if err := c.nodes["a"].stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	delete(c.nodes, "a")
	waitFor(t, "b to see a gone", func() bool {
		return !slices.ContainsFunc(c.nodes["b"].Members(), func(m Member) bool { return m.Name == "a" })
	})

	cfg := c.serverConfig("a", addr)
	cfg.DataDir = filepath.Join(base, "a")
	// LAN timings, as an operator's: the background round comes 5 s
	// after membership starts, so only Start's own join can explain b
	// and c in the view below.
	cfg.Gossip = GossipLAN
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("a restarted without Join: %v", err)
	}
	c.nodes["a"] = n
	var names []string
	for _, m := range n.Members() {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Fatalf("a restarted without Join knows members %v when Start returns, want a, b and c (its book: the servers it last saw)", names)
	}
}
