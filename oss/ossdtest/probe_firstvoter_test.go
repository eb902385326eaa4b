package ossdtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// TestOssdProbePausedFirstVoter pauses the node that placement ranks
// first for a new heap and, before membership can notice, creates the
// heap: the paused node is among its first voters and the one placement
// wants to lead it. The heap must work on the other two (written while
// the node is paused), replace the paused voter after replace-after, and
// once the node runs again, settle with it back in the group (a voter,
// as placement wants it) and its replica the same as the others'.
func TestOssdProbePausedFirstVoter(t *testing.T) {
	if os.Getenv("OSS_LONG") == "" {
		t.Log("a probe of minutes: run with OSS_LONG=1")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	names := []string{"n1", "n2", "n3", "n4", "n5"}
	c, px, procs := startProxied(ctx, t, "15s", names...)
	t.Cleanup(px.close)
	t.Cleanup(c.Close)
	ch := newChurn(ctx, t, c, map[string]int{"lists": 3})
	for _, p := range procs {
		ch.set(p)
	}
	ch.startWorkload(51)
	ch.settle("five nodes")
	var ms []engine.Member
	for _, n := range names {
		ms = append(ms, engine.Member{Name: n, Server: true})
	}
	heap := ""
	for i := 0; heap == ""; i++ {
		if h := fmt.Sprint("fv-", i); engine.Rank(h, ms)[0].Name == "n5" {
			heap = h
		}
	}
	x, p := ch.proc("n5"), ch.proc("n1")
	if err := x.Pause(); err != nil {
		t.Fatal(err)
	}
	ch.cut[x.Name] = true
	start := time.Now()
	ch.mustDo(heap+" created", func(p *ossdtest.Proc, ctx context.Context) error {
		err := p.CreateHeap(ctx, heap, 3)
		if errors.Is(err, oss.ErrHeapExists) {
			return nil
		}
		return err
	}, p)
	t.Logf("%s created %v after n5 paused", heap, time.Since(start).Round(100*time.Millisecond))
	var first []string
	ch.statusSays(heap, func(h oss.HeapStatus, _ string) string {
		if first == nil {
			first = slices.Clone(h.Voters)
		}
		return ""
	})
	t.Logf("%s's voters as first seen: %v", heap, first)
	ch.mustDo(heap+" written while n5 paused", func(p *ossdtest.Proc, ctx context.Context) error {
		_, err := p.PutRoot(ctx, heap, "r", 1)
		return err
	}, p)
	ch.statusSays(heap, func(h oss.HeapStatus, _ string) string {
		if slices.Contains(h.Voters, "n5") {
			return fmt.Sprintf("voters %v still hold n5, paused", h.Voters)
		}
		return ""
	})
	t.Logf("n5 replaced in %s %v after it paused", heap, time.Since(start).Round(100*time.Millisecond))
	if err := x.Resume(); err != nil {
		t.Fatal(err)
	}
	delete(ch.cut, x.Name)
	ch.heaps[heap] = 3
	ch.settle("n5 resumed")
	ch.noDoubles("n5 resumed")
	ch.mustDo(heap+" written through n5", func(_ *ossdtest.Proc, ctx context.Context) error {
		_, err := x.PutRoot(ctx, heap, "r", 2)
		return err
	}, x)
	for _, p := range ch.live() { // a replica on every node, for converged
		ch.mustDo(heap+" read through "+p.Name, func(p *ossdtest.Proc, ctx context.Context) error {
			_, err := p.Root(ctx, heap, "r", true)
			return err
		}, p)
	}
	ch.stop()
	ch.converged() // every replica of every heap the same, n5's of heap too
	delete(ch.heaps, heap)
	ch.finish(51)
}
