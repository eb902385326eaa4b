// Command bench loads a Wissenheim world with bots and measures what a
// player feels: it starts an in-process cluster of three OSS nodes on
// loopback QUIC (mutual TLS, certificates from a fresh CA), creates a
// world sized for the bots, spreads N bots over the nodes, drives them at
// 20 steps a second, and reports
//
//   - move commit latency (p50, p99): a bot's Move, from call to return;
//   - move → visible on another node (p50, p99): from the call to the
//     moment the new position is in the local replica of the next node
//     (its watch delivers the change, which comes after the state holding
//     it is published, so a View there would already see it);
//   - conflicts per move: commits of the nodes that conflicted and ran
//     again, over committed moves (moves are nearly all the commits);
//   - the steps per second the bots took against their target (a step
//     that falls behind its 50 ms is late, and the next one is skipped),
//     the moves among them (a bot standing by, chatting or grabbing does
//     not move), the share of moves refused as blocked, and the CPU the
//     process used (cores, and per move: everything the three nodes, the
//     bots and the watches spent, divided by the moves).
//
// The fourth figure the world is measured by, the frame time of a window
// drawing the N avatars, needs a display; the command prints how to
// measure it (.ci/wissenheim-frames-apart, or the client's --frames).
//
// Usage:
//
//	go run ./wissenheim/bench -bots 1000
//	go run ./wissenheim/bench -bots 500,1000,1500 -runs 3 -duration 20s
//
// With several counts or runs it prints one line per run and the median
// of each count's runs. Every run ends by checking the world's invariants
// on every node.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/bots"
	"github.com/objectsharing/oss/wissenheim/internal/cluster"
	"github.com/objectsharing/oss/wissenheim/scene"
)

type options struct {
	counts   []int
	runs     int
	nodes    int
	rate     float64
	warmup   time.Duration
	duration time.Duration
	seed     uint64
	durable  bool
	verbose  bool
	profile  *os.File
}

func main() {
	var o options
	var counts string
	flag.StringVar(&counts, "bots", "1000", "number of bots, or a comma-separated list of numbers to run one after another")
	flag.IntVar(&o.runs, "runs", 1, "runs of each count, each on a fresh cluster")
	flag.IntVar(&o.nodes, "nodes", 3, "nodes in the cluster")
	flag.Float64Var(&o.rate, "rate", 20, "steps a second per bot")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "how long the bots run before measuring")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "how long to measure")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the bots")
	flag.BoolVar(&o.durable, "durable", false, "keep each node's log on disk (DurabilityBatch, in a temporary directory) instead of memory only")
	flag.BoolVar(&o.verbose, "v", false, "log the nodes' warnings")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the measured part of the runs to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		o.profile = f
		defer f.Close()
	}
	for _, f := range strings.Split(counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("bench: -bots %q: want positive numbers", counts)
		}
		o.counts = append(o.counts, n)
	}
	fmt.Printf("%d nodes on loopback QUIC in one process, the bots spread over them, %g steps/s per bot, %v measured after %v warm-up\n\n",
		o.nodes, o.rate, o.duration, o.warmup)
	fmt.Println(header)
	var all []result
	for _, n := range o.counts {
		var rs []result
		for run := range o.runs {
			r, err := bench(o, n, o.seed+uint64(run))
			if err != nil {
				log.Fatalf("bench: %d bots: %v", n, err)
			}
			o.profile = nil // the first run's only
			fmt.Println(r.line(fmt.Sprint(n)))
			rs = append(rs, r)
		}
		all = append(all, median(rs))
	}
	if o.runs > 1 || len(o.counts) > 1 {
		fmt.Println("\nmedians:")
		fmt.Println(header)
		for i, r := range all {
			fmt.Println(r.line(fmt.Sprint(o.counts[i])))
		}
	}
	fmt.Println("\n" + framesHint(o.counts[len(o.counts)-1]))
}

// framesHint says how to measure the figure this command cannot: the
// frame time of a window drawing the avatars, which needs a display.
func framesHint(n int) string {
	return fmt.Sprintf("frame time p50/p99 of a window drawing %d avatars (needs X; Xvfb will do): "+
		"HEADLESS_NICE=19 .ci/wissenheim-frames-apart %d 1200, or "+
		"xvfb-run -a go run ./wissenheim --nodes 1 --bots %d --fit --frames 1200", n, n, n)
}

const header = "bots   steps/s (target)  moves/s   commit p50    p99   visible p50    p99   conflicts/move  blocked  cpu    cpu/move  goal (p99 visible ≤ 50ms)"

type result struct {
	steps, target, moves        float64 // per second
	commit50, commit99          time.Duration
	visible50, visible99        time.Duration
	conflictsPerMove, blockedPc float64
	cpu                         float64 // cores
	errors                      uint64
}

func (r result) line(n string) string {
	goal := "met"
	if r.visible99 > 50*time.Millisecond {
		goal = "missed"
	}
	if r.steps < 0.95*r.target {
		goal += " (bots fell behind)"
	}
	return fmt.Sprintf("%-5s  %7.0f (%6.0f)  %7.0f  %9s %7s  %10s %7s   %13.3f  %6.1f%%  %4.2f  %5.0fµs   %s",
		n, r.steps, r.target, r.moves, ms(r.commit50), ms(r.commit99), ms(r.visible50), ms(r.visible99),
		r.conflictsPerMove, r.blockedPc, r.cpu, r.cpu/max(r.moves, 1)*1e6, goal)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func median(rs []result) result {
	pick := func(f func(r result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	d := func(f func(r result) time.Duration) time.Duration {
		return time.Duration(pick(func(r result) float64 { return float64(f(r)) }))
	}
	return result{
		steps:            pick(func(r result) float64 { return r.steps }),
		moves:            pick(func(r result) float64 { return r.moves }),
		target:           rs[0].target,
		commit50:         d(func(r result) time.Duration { return r.commit50 }),
		commit99:         d(func(r result) time.Duration { return r.commit99 }),
		visible50:        d(func(r result) time.Duration { return r.visible50 }),
		visible99:        d(func(r result) time.Duration { return r.visible99 }),
		conflictsPerMove: pick(func(r result) float64 { return r.conflictsPerMove }),
		blockedPc:        pick(func(r result) float64 { return r.blockedPc }),
		cpu:              pick(func(r result) float64 { return r.cpu }),
	}
}

// tracker pairs each committed move with its arrival on another node.
type tracker struct {
	mu        sync.Mutex // protects following fields
	measuring bool
	pending   map[moveKey]pend
	commit    []time.Duration
	visible   []time.Duration
}

type moveKey struct {
	id    uuid.UUID
	moves uint64
}

type pend struct{ start, seen time.Time }

func (t *tracker) committed(id uuid.UUID, moves uint64, start time.Time, took time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.measuring {
		return
	}
	t.commit = append(t.commit, took)
	k := moveKey{id, moves}
	if p, ok := t.pending[k]; ok && !p.seen.IsZero() {
		t.visible = append(t.visible, p.seen.Sub(start))
		delete(t.pending, k)
		return
	}
	t.pending[k] = pend{start: start}
}

func (t *tracker) seen(id uuid.UUID, moves uint64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.measuring {
		return
	}
	k := moveKey{id, moves}
	p, ok := t.pending[k]
	switch {
	case ok && !p.start.IsZero():
		t.visible = append(t.visible, at.Sub(p.start))
		delete(t.pending, k)
	case !ok:
		t.pending[k] = pend{seen: at}
	}
}

func (t *tracker) measure(on bool) {
	t.mu.Lock()
	t.measuring = on
	clear(t.pending)
	t.mu.Unlock()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bench runs n bots seeded by seed on a fresh cluster: after o's warmup
// it measures them for o's duration, then checks the world's invariants
// on every node.
func bench(o options, n int, seed uint64) (result, error) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	copts := &cluster.Options{Nodes: o.nodes, Logger: logger}
	if o.durable {
		dir, err := os.MkdirTemp("", "wissenheim-bench")
		if err != nil {
			return result{}, err
		}
		defer os.RemoveAll(dir)
		copts.Dir, copts.Durability = dir, oss.DurabilityBatch
	}
	c, err := cluster.Start(ctx, copts)
	if err != nil {
		return result{}, err
	}
	defer within(ctx, c.Close)
	hs, err := c.Heap(ctx, "wissenheim")
	if err != nil {
		return result{}, err
	}
	spec := scene.DemoSpec(n)
	t := &tracker{pending: map[moveKey]pend{}}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	worlds := make([]*scene.World, len(hs))
	swarms := make([]*bots.Swarm, len(hs))
	defer leave(ctx, swarms)
	for i, h := range hs {
		if worlds[i], err = scene.Create(ctx, h, spec); err != nil {
			return result{}, err
		}
		w := worlds[i]
		wg.Go(func() { w.Run(runCtx) })
	}
	for i, w := range worlds {
		k := n / len(worlds)
		if i < n%len(worlds) {
			k++
		}
		swarms[i], err = bots.Start(ctx, w, &bots.Config{N: k, Prefix: cluster.Name(i), Seed: seed*1000 + uint64(i), Rate: o.rate, OnMove: t.committed})
		if err != nil {
			return result{}, err
		}
	}
	if err := watchMoves(runCtx, &wg, hs, swarms, t); err != nil {
		return result{}, err
	}
	time.Sleep(o.warmup)
	r := measure(o, n, hs, swarms, t, stop)
	for i, s := range swarms {
		if st := s.Stats(); st.Errors > 0 {
			fmt.Fprintf(os.Stderr, "bench: %s's bots: %d errors, the last: %s\n", cluster.Name(i), st.Errors, st.LastError)
		}
	}
	wg.Wait()
	// The invariants, on every node, once the bots have stopped.
	for i, w := range worlds {
		if err := w.Heap().View(ctx, w.Verify, nil); err != nil {
			return r, fmt.Errorf("%s: invariants: %w", cluster.Name(i), err)
		}
	}
	return r, nil
}

// watchMoves has each node, in a goroutine of wg's until ctx ends, watch
// the avatars of the previous node's bots and tell t when it sees their
// moves.
func watchMoves(ctx context.Context, wg *sync.WaitGroup, hs []*oss.Heap, swarms []*bots.Swarm, t *tracker) error {
	for i, h := range hs {
		src := swarms[(i+len(hs)-1)%len(hs)]
		wt, err := h.Watch(&oss.WatchOptions{IDs: src.Avatars(), From: h.Stats().Applied})
		if err != nil {
			return err
		}
		wg.Go(func() {
			defer wt.Close()
			for {
				ev, err := wt.Next(ctx)
				if err != nil {
					return
				}
				now := time.Now()
				if ev.Kind != oss.EventChange {
					continue
				}
				for _, ch := range ev.Objects {
					if a, err := scene.DecodeAvatar(ch); err == nil {
						t.seen(a.ID, a.Moves, now)
					}
				}
			}
		})
	}
	return nil
}

// totals are the heaps' conflicts, the process's CPU time and the bots'
// counts, summed, at one time.
type totals struct {
	conflicts                   uint64
	cpu                         time.Duration
	steps, moves, blocked, errs uint64
}

// totalsNow returns the totals of hs and swarms now.
func totalsNow(hs []*oss.Heap, swarms []*bots.Swarm) totals {
	var s totals
	for _, h := range hs {
		s.conflicts += h.Stats().Conflicts
	}
	s.cpu = cpuTime()
	for _, sw := range swarms {
		st := sw.Stats()
		s.steps += st.Steps
		s.moves += st.Moves
		s.blocked += st.Blocked
		s.errs += st.Errors
	}
	return s
}

// measure measures n bots for o's duration (profiling the process if o
// asks), stops them, and returns the run's figures.
func measure(o options, n int, hs []*oss.Heap, swarms []*bots.Swarm, t *tracker, stop func()) result {
	t0 := totalsNow(hs, swarms)
	t.measure(true)
	start := time.Now()
	if o.profile != nil {
		pprof.StartCPUProfile(o.profile)
	}
	time.Sleep(o.duration)
	if o.profile != nil {
		pprof.StopCPUProfile()
	}
	t.measure(false)
	el := time.Since(start)
	t1 := totalsNow(hs, swarms)
	stop()

	t.mu.Lock()
	r := result{
		steps:     float64(t1.steps-t0.steps) / el.Seconds(),
		moves:     float64(t1.moves-t0.moves) / el.Seconds(),
		target:    float64(n) * o.rate,
		commit50:  pct(t.commit, 0.50),
		commit99:  pct(t.commit, 0.99),
		visible50: pct(t.visible, 0.50),
		visible99: pct(t.visible, 0.99),
		cpu:       float64(t1.cpu-t0.cpu) / float64(el),
		errors:    t1.errs - t0.errs,
	}
	t.mu.Unlock()
	if moves := t1.moves - t0.moves; moves > 0 {
		r.conflictsPerMove = float64(t1.conflicts-t0.conflicts) / float64(moves)
		r.blockedPc = 100 * float64(t1.blocked-t0.blocked) / float64(moves+t1.blocked-t0.blocked)
	}
	return r
}

// within calls f, a Close, with a context that ends a minute from now:
// tearing a run down waits no longer. A cluster starved of CPU has been
// seen to leave a commit undecided for minutes, and a run's figures are
// printed only after.
func within(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return f(ctx)
}

// leave stops the bots of every swarm started, then has their avatars
// leave (within a minute a swarm): so they leave on a cluster that
// carries nothing else.
func leave(ctx context.Context, swarms []*bots.Swarm) {
	for _, s := range swarms {
		if s != nil {
			s.Stop()
		}
	}
	for i, s := range swarms {
		if s == nil {
			continue
		}
		if err := within(ctx, s.Close); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s's bots leaving: %.300s\n", cluster.Name(i), err)
		}
	}
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}
