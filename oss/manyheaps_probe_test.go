package oss_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// TestProbeManyHeaps measures what idle heaps cost (docs/design.md, "Many
// heaps, 2026-12-07"): OSS_MANYHEAPS_PROBE=N creates N heaps of three
// voters on three durable nodes at the default TickInterval and logs the
// process's goroutines, memory, idle CPU, messages, descriptors, and one
// heap's commit latency among them. It asserts nothing; without the
// variable it does nothing.
func TestProbeManyHeaps(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("OSS_MANYHEAPS_PROBE"))
	if n == 0 {
		return
	}
	c := osstest.Start(t, 3, &osstest.Options{Durable: true, Configure: func(_ string, cfg *oss.Config) {
		cfg.TickInterval = 0 // the default
		cfg.ReplaceAfter = 0
	}})
	base := probeSample(c)
	t.Logf("base (3 nodes, catalog only): %s", base)
	ctx := context.Background()
	start := time.Now()
	par, _ := strconv.Atoi(os.Getenv("OSS_MANYHEAPS_PAR"))
	par = max(par, 1)
	errs := make(chan error, par)
	for w := range par {
		go func() {
			for i := w; i < n; i += par {
				if _, err := c.Node("n1").CreateHeap(ctx, fmt.Sprintf("h%04d", i), nil); err != nil {
					errs <- fmt.Errorf("create %d: %w", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range par {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("created %d heaps in %v, %d at a time", n, time.Since(start).Round(time.Millisecond), par)
	c.Wait("every heap with three voters and a leader on every node", func() bool { return everyHeapPlaced(c, n) })
	t.Logf("placed everywhere after %v", time.Since(start).Round(time.Millisecond))
	if f := os.Getenv("OSS_MANYHEAPS_PROF"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		pprof.StartCPUProfile(out)
		defer out.Close()
	}
	idle := probeSample(c)
	pprof.StopCPUProfile()
	if f := os.Getenv("OSS_MANYHEAPS_MEMPROF"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		pprof.Lookup("heap").WriteTo(out, 0)
		out.Close()
	}
	t.Logf("%d heaps idle: %s", n, idle)
	cs, _, _ := c.Node("n1").ReplicaStats("oss:catalog")
	t.Logf("catalog: %d entries, %d objects, applied %d; data directories of the 3 nodes %d bytes",
		len(c.Node("n1").Heaps()), cs.Objects, cs.Applied, dirSize(filepath.Join(t.TempDir(), "..")))
	h := c.Heap("n1", "h0000")
	c.WaitLeader("h0000")
	t.Logf("one heap's commits among %d idle: %s", n, commitLatency(t, h, 300))
	if os.Getenv("OSS_MANYHEAPS_RESTART") != "" {
		probeRestart(t, c, n)
	}
}

// probeRestart kills n3 and restarts it on its data directory, and logs
// how long until every heap is led again, without n3 and with it.
func probeRestart(t *testing.T, c *osstest.Cluster, n int) {
	led := 0
	for i := range n {
		if s, _, _ := c.Node("n3").ReplicaStats(fmt.Sprintf("h%04d", i)); s.Leader == "n3" {
			led++
		}
	}
	c.Kill("n3")
	t0 := time.Now()
	c.Wait("a leader for every heap without n3", func() bool { return everyHeapPlaced(c, n) })
	t.Logf("n3 led %d heaps; every heap led again %v after its kill", led, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	c.Restart("n3")
	t.Logf("n3 restarted in %v", time.Since(t0).Round(time.Millisecond))
	c.Wait("every heap placed again", func() bool { return everyHeapPlaced(c, n) })
	t.Logf("every heap placed and led again %v after the restart", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	for i := range n {
		h := c.Heap("n3", fmt.Sprintf("h%04d", i))
		if err := h.Update(context.Background(), func(tx *oss.Tx) error { return oss.Put(tx, uuid.New(), i) }); err != nil {
			t.Fatalf("n3: commit to heap %d: %v", i, err)
		}
	}
	t.Logf("a commit through n3 to each heap, one after another, in %v", time.Since(t0).Round(time.Millisecond))
	t.Logf("after restart: %s", probeSample(c))
}

// everyHeapPlaced reports whether each of the n heaps has, on each
// running node, a replica that names a running leader and three voters.
func everyHeapPlaced(c *osstest.Cluster, n int) bool {
	live := c.Live()
	for _, node := range live {
		for i := range n {
			s, _, ok := c.Node(node).ReplicaStats(fmt.Sprintf("h%04d", i))
			if !ok || !slices.Contains(live, s.Leader) || len(s.Voters) != 3 {
				return false
			}
		}
	}
	return true
}

type sample struct {
	goroutines int
	heapInuse  uint64
	stackInuse uint64
	rss        string
	cpu        time.Duration // user+system over the window
	window     time.Duration
	msgs       uint64
	fds        int
}

func (s sample) String() string {
	return fmt.Sprintf("goroutines %d, Go heap in use %d MiB, stacks %d MiB, RSS %s, idle CPU %.1f%% of a core, %.0f msgs/s, fds %d",
		s.goroutines, s.heapInuse>>20, s.stackInuse>>20, s.rss, 100*s.cpu.Seconds()/s.window.Seconds(), float64(s.msgs)/s.window.Seconds(), s.fds)
}

func rusageCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// probeSample measures the process over 10 s of idleness.
func probeSample(c *osstest.Cluster) sample {
	var s sample
	s.window = 10 * time.Second
	m0, cpu0, t0 := c.Net.Stats().Sent, rusageCPU(), time.Now()
	time.Sleep(s.window)
	s.window = time.Since(t0)
	s.cpu = rusageCPU() - cpu0
	s.msgs = c.Net.Stats().Sent - m0
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.heapInuse = ms.HeapInuse
	s.stackInuse = ms.StackInuse
	s.goroutines = runtime.NumGoroutine()
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				s.rss = strings.Join(strings.Fields(l)[1:], " ")
			}
		}
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	s.fds = len(fds)
	return s
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// commitLatency commits k single-object transactions one after another
// and returns their median and 99th percentile.
func commitLatency(t *testing.T, h *oss.Heap, k int) string {
	ds := make([]time.Duration, 0, k)
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for i := range k {
		t0 := time.Now()
		err := h.Update(context.Background(), func(tx *oss.Tx) error {
			return oss.Put(tx, ids[i%len(ids)], i)
		})
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return fmt.Sprintf("p50 %v, p99 %v", ds[len(ds)/2].Round(time.Microsecond), ds[len(ds)*99/100].Round(time.Microsecond))
}
