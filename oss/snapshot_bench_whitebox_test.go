package oss

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/objectsharing/oss/oss/pki"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport/transporttest"
)

// BenchmarkSnapshotInstall measures how long a new learner takes to catch
// up from a snapshot of 200,000 objects of 100 bytes (about 27 MB
// encoded): from the call that opens the heap on it to its return, which
// waits until it has applied the leader's commit index. The leader's log
// is compacted, so the learner catches up from a snapshot: raft asks for
// one, the leader streams it, the learner decodes and installs it (and,
// on disk, keeps it). Two nodes on transporttest, the learner a client
// node; starting and stopping them is not timed.
func BenchmarkSnapshotInstall(b *testing.B) {
	const objects, batch = 200_000, 2_000
	value := make([]byte, 100)
	for _, durable := range []bool{false, true} {
		b.Run(map[bool]string{false: "memory", true: "disk"}[durable], func(b *testing.B) {
			b.SetBytes(int64(objects * len(value)))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c := &testCluster{t: b, net: transporttest.NewNetwork(21), nodes: map[string]*Node{}, heaps: map[string]*Heap{},
					eps: map[string]*transporttest.Endpoint{}, fss: map[string]persist.FS{}, tweak: checkpointOften(64, 16)}
				c.net.Start()
				dir := b.TempDir()
				tweak := func(name string, role pki.Role) func(*Config) {
					return func(cfg *Config) {
						cfg.Role = role
						if durable {
							cfg.DataDir = filepath.Join(dir, name)
						}
					}
				}
				c.add("a", false, tweak("a", pki.RoleServer))
				h := c.open("a", "big")
				for k := 0; k < objects; k += batch {
					err := update(context.Background(), h, func(tx *Tx) error {
						for j := k; j < k+batch; j++ {
							if err := Put(tx, uuid.UUID{0: 1, 12: byte(j >> 24), 13: byte(j >> 16), 14: byte(j >> 8), 15: byte(j)}, value); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				if err := c.nodes["a"].Grant(context.Background(), Grant{Who: "l", Heap: "big", Perm: PermRead}); err != nil {
					b.Fatal(err)
				}
				c.add("l", true, tweak("l", pki.RoleClient))
				b.StartTimer()
				l := c.open("l", "big")
				b.StopTimer()
				if got := l.Stats().Objects; got != objects || l.snapshots.Load() == 0 {
					b.Fatalf("the learner holds %d objects of %d after %d snapshots", got, objects, l.snapshots.Load())
				}
				for _, name := range []string{"l", "a"} {
					c.kill(name)
				}
				c.net.Stop()
			}
		})
	}
}
