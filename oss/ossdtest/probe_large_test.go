package ossdtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// blob is a large value: its writer's sequence number and padding.
type blob struct {
	Seq int    `json:"seq"`
	Pad string `json:"pad"`
}

// TestOssdProbeLargeCommitsThroughKills writes values of 1 to 6 MiB to
// roots of a heap of three voters, each root once, through the four
// nodes in turn, beside the list-append workload, while the heap's
// leader is killed with SIGKILL mid-write and restarted, a follower is
// paused for 8 s, and the leader is paused for 8 s. Every blob whose put
// was acknowledged must be there whole, none whose put failed; the heap
// must go on committing, and its replicas converge.
func TestOssdProbeLargeCommitsThroughKills(t *testing.T) {
	if os.Getenv("OSS_LONG") == "" {
		t.Log("a probe of minutes: run with OSS_LONG=1")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	ch := startChurn(ctx, t, map[string]int{"big": 3}, "n1", "n2", "n3", "n4")
	ch.startWorkload(41)
	outs := map[int]outcome{}
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for seq := 1; ; seq++ {
			select {
			case <-done:
				return
			default:
			}
			l := ch.live()
			p := l[seq%len(l)]
			v := blob{Seq: seq, Pad: strings.Repeat(fmt.Sprint(seq%10), (1+seq%6)<<20)}
			pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
			_, err := p.PutRoot(pctx, "big", fmt.Sprint("blob-", seq), v)
			pcancel()
			mu.Lock()
			outs[seq] = outcomeOf(err)
			mu.Unlock()
		}
	})
	stopBlobs := func() { close(done); wg.Wait() }
	ch.settle("four nodes")
	time.Sleep(5 * time.Second)
	l := ch.voterOf("big", true)
	l.Kill()
	time.Sleep(2 * time.Second)
	ch.restart(l)
	ch.settle(l.Name + ", big's leader, killed mid-write and restarted")
	ch.pause(ch.voterOf("big", false), 8*time.Second, nil)
	ch.settle("big's follower resumed")
	ch.pause(ch.voterOf("big", true), 8*time.Second, nil)
	ch.settle("big's leader resumed")
	time.Sleep(5 * time.Second)
	stopBlobs()
	ch.finish(41)
	checkBlobs(ch, outs)
}

// checkBlobs reads every blob put at a Fresh view.
func checkBlobs(ch *churn, outs map[int]outcome) {
	t := ch.t
	p := ch.live()[0]
	n := map[outcome]int{}
	for seq, out := range outs {
		n[out]++
		var o struct {
			Value blob
		}
		// A read may run out of its 30 s, or meet big between leaders (a
		// transfer to its placement, an election at load): it goes again.
		var got any
		var err error
		waitCond(t, fmt.Sprint("a Fresh read of blob ", seq), func() bool {
			cctx, cancel := context.WithTimeout(ch.ctx, 30*time.Second)
			got, err = p.Root(cctx, "big", fmt.Sprint("blob-", seq), true)
			cancel()
			if err != nil && !notFound(err) {
				t.Logf("blob %d: %v", seq, err)
				return false
			}
			return true
		})
		present := err == nil
		if present {
			json.Unmarshal(mustJSON(got), &o)
		}
		switch {
		case out == acked && !present:
			t.Errorf("blob %d acknowledged, missing", seq)
		case out == failed && present:
			t.Errorf("blob %d failed, present", seq)
		case present && (o.Value.Seq != seq || len(o.Value.Pad) != (1+seq%6)<<20):
			t.Errorf("blob %d holds seq %d and %d bytes", seq, o.Value.Seq, len(o.Value.Pad))
		}
	}
	t.Logf("blobs: %d put: %d acknowledged, %d failed, %d unknown", len(outs), n[acked], n[failed], n[unknown])
	if n[acked] < 5 {
		t.Errorf("only %d blobs acknowledged", n[acked])
	}
}

// notFound says whether err is a read's answer that the object is not
// there.
func notFound(err error) bool {
	return strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "404")
}
