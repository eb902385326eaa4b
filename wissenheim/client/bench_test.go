package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/client"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// world returns a world of one in-memory node sized for n avatars, with n
// avatars joined.
func world(tb testing.TB, n int) *scene.World {
	tb.Helper()
	ctx := context.Background()
	node, err := oss.Start(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { node.Close(ctx) })
	h, err := node.CreateHeap(ctx, "world", nil)
	if err != nil {
		tb.Fatal(err)
	}
	w, err := scene.Create(ctx, h, scene.DemoSpec(n))
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		if _, err := w.Join(ctx, fmt.Sprintf("a%d", i), nil); err != nil {
			tb.Fatal(err)
		}
	}
	return w
}

// BenchmarkFrame is what a window does each frame besides drawing, with a
// thousand avatars in the room: a snapshot from the local replica, the
// interpolation and the layout of the whole room.
func BenchmarkFrame(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			w := world(b, n)
			ctx := context.Background()
			var ip client.Interpolator
			var sprites []client.Sprite
			room := w.Rooms()[0]
			cam := client.Fit(room.Size, 1280, 720)
			b.Run("snapshot", func(b *testing.B) {
				for b.Loop() {
					if _, err := w.Snapshot(ctx, "hall"); err != nil {
						b.Fatal(err)
					}
				}
			})
			s, _ := w.Snapshot(ctx, "hall")
			now := time.Now()
			ip.Observe(s, now)
			b.Run("interpolate+layout", func(b *testing.B) {
				for b.Loop() {
					now = now.Add(time.Second / 60)
					f := ip.Frame(now)
					sprites = client.AppendLayout(sprites[:0], &client.Frame{Room: f}, cam)
				}
			})
		})
	}
}
