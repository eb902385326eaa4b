package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/wissenheim/scene"
)

// A player whose window was killed (SIGKILL, a crash) and who starts it
// again finds the avatar it left: the join waits until that avatar's
// lease runs out and it is removed. The lease runs on the world's clock,
// and the clock advances only where a World runs: the window started its
// world's Run once its player had joined. With no other window in the
// world (one player of an ossd cluster, or a --data-dir window started
// again, which joins its player before its bots), nothing advanced the
// clock, and the window said for ever that the world had a player of
// that name. Now the world runs while the player waits.
func TestPlayerJoinsAfterItsCrashedAvatarExpiresWithNoOtherWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := startLocal(ctx, localOptions{nodes: 1, dataDir: t.TempDir(), guests: []string{"ada"}, logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	cfg := config{join: l.addrs(), certs: l.certs, name: "ada", listen: "127.0.0.1:0", heap: "wissenheim",
		world: "wissenheim", nodes: 1, logger: quiet, out: io.Discard}

	// The crashed run's avatar: joined, then nothing heartbeats it.
	h, err := l.nodes[0].CreateHeapIfNotExists(ctx, cfg.heap, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := scene.DemoSpec(24)
	spec.Name = cfg.world
	w, err := scene.Create(ctx, h, spec)
	if err != nil {
		t.Fatal(err)
	}
	left, err := w.Join(ctx, "ada", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Forget(left)

	a := newApp(cfg)
	defer a.Close()
	go a.connect()
	var status string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		p, _, s := a.Status()
		if p != nil {
			if p.ID() == left.ID() {
				t.Fatal("the player took over the crashed run's avatar")
			}
			return
		}
		if s != status && strings.Contains(s, "attempt") {
			t.Logf("the window says: %s", s)
		}
		status = s
	}
	t.Fatalf("the player did not join within 3 minutes (the crashed avatar's lease is %v); the window says %q", scene.DefaultLease, status)
}
