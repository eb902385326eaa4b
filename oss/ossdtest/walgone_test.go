package ossdtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// An ossd node whose write-ahead log is removed while clients commit (the
// whole wal/ directory, or the segment it writes, or wal/ moved aside)
// acknowledges no put
// begun after the removal: the put whose sync finds the log gone fails,
// and so does every later one, with an error that says the log is gone;
// `ossd status` says so and names the segment. Restarted, the node
// refuses to start and names wal/ (it holds none of what it acknowledged,
// and would start as the member it was, empty). Before, the node went on
// writing into the unlinked files and acknowledging puts that no restart
// found.
func TestOssdWALRemovedWhileCommitting(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		remove func(wal string) error
	}{
		{"directory", removeAllAgain},
		{"segment", func(wal string) error {
			segs, err := filepath.Glob(filepath.Join(wal, "*.wal"))
			if err != nil || len(segs) == 0 {
				return fmt.Errorf("no segment in %s: %v", wal, err)
			}
			return os.Remove(segs[len(segs)-1])
		}},
		{"moved", func(wal string) error { return os.Rename(wal, wal+".moved") }},
	} {
		t.Run(c.name, func(t *testing.T) { walRemovedWhileCommitting(t, c.remove) })
	}
}

// removeAllAgain removes dir as rm -r does, again while it fails: the
// node that finds its log gone writes wal/LOST into the directory, and
// if it does while the removal runs the directory's own removal fails,
// "directory not empty" (CI, at load 5).
func removeAllAgain(dir string) error {
	var err error
	for range 20 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// putOutcome is one put of the workload: whether it began after the
// log's removal had returned, and how it ended.
type putOutcome struct {
	key   string
	after bool
	err   error
}

func walRemovedWhileCommitting(t *testing.T, remove func(wal string) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, err := ossdtest.New(ctx, t.TempDir(), ossdBin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.Start(ctx, "solo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PutRoot(ctx, "bank", "first", 0); err != nil {
		t.Fatal(err)
	}
	// Four clients put new roots until each has seen a put that began
	// after the removal fail (or, between them, 100 such puts
	// acknowledged).
	var removed atomic.Bool
	var acked, ackedAfter atomic.Int64
	var mu sync.Mutex
	var outcomes []putOutcome
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				o := putOutcome{key: fmt.Sprint("w", w, "-", i), after: removed.Load()}
				pctx, pcancel := context.WithTimeout(ctx, time.Minute)
				_, o.err = p.PutRoot(pctx, "bank", o.key, i)
				pcancel()
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if o.err == nil {
					acked.Add(1)
				}
				if o.after && (o.err != nil || ackedAfter.Add(1) >= 100) {
					return
				}
			}
		})
	}
	for acked.Load() < 40 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	wal := filepath.Join(c.DataDir("solo"), "wal")
	if err := remove(wal); err != nil {
		t.Fatal(err)
	}
	removed.Store(true)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the clients did not see a put fail after %s was removed: %v", wal, ctx.Err())
	}
	var lied []string
	said := false
	for _, o := range outcomes {
		if o.after && o.err == nil {
			lied = append(lied, o.key)
		}
		if o.after && o.err != nil && strings.Contains(o.err.Error(), "write-ahead log is gone") {
			said = true
		}
	}
	if len(lied) > 0 {
		t.Fatalf("%d puts that began after %s was removed were acknowledged, into a log no restart reads: %v", len(lied), wal, lied)
	}
	t.Logf("the last error a client saw: %v", lastErr(outcomes))
	if !said {
		t.Fatalf("no put after the removal of %s said the log is gone: %v", wal, lastErr(outcomes))
	}
	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.LogFailed, wal) {
		t.Fatalf("status of a node whose log is gone: LogFailed %q", st.LogFailed)
	}
	if !strings.Contains(p.Tail(200), wal) {
		t.Fatalf("the node's log does not name %s:\n%s", wal, p.Tail(40))
	}
	p.Kill()
	_, err = c.Restart(ctx, p)
	if err == nil || !strings.Contains(err.Error(), wal) || !strings.Contains(err.Error(), "rebuild-replica") {
		t.Fatalf("a restart of the node whose log was removed: %v", err)
	}
}

// lastErr is the error of the last put that failed.
func lastErr(outcomes []putOutcome) error {
	for i := len(outcomes) - 1; i >= 0; i-- {
		if outcomes[i].err != nil {
			return outcomes[i].err
		}
	}
	return nil
}
