// Command osswork is the OSS side of the peer benchmark (see ../main.go):
// three OSS nodes in this process, on loopback QUIC with mutual TLS,
// durable (DurabilitySync), run the workloads with embedded clients and
// print the figures as JSON on stdout.
//
// It is a module of its own so that it links the raft version OSS uses
// (go.etcd.io/raft/v3 v3.6), not the one etcd 3.7.3 needs.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	var p params
	flag.IntVar(&p.Keys, "keys", 100_000, "keys preloaded")
	flag.IntVar(&p.Value, "value", 100, "bytes of each value")
	flag.IntVar(&p.Clients, "clients", 64, "concurrent clients of workloads a and c")
	flag.IntVar(&p.Hot, "hot", 10, "keys workload c contends on")
	flag.DurationVar(&p.Duration, "duration", 5*time.Second, "duration of each workload")
	flag.StringVar(&p.MemProfile, "memprofile", "", "write a heap profile here after the preload")
	flag.StringVar(&p.CPUProfile, "cpuprofile", "", "write CPU profiles of workloads a and b to this path + -a.pprof, -b.pprof")
	flag.StringVar(&p.Trace, "trace", "", "write execution traces of workloads a and b to this path + -a.trace, -b.trace")
	certs := flag.String("certs", "", "the certificates (ca.pem, NAME-oss.pem, NAME-oss.key)")
	data := flag.String("data", "", "the data directory")
	scaleNodes := flag.Int("scale-nodes", 0, "instead of the workloads, measure commits/s over this many nodes with each number of heaps in -scale-heaps")
	scaleHeaps := flag.String("scale-heaps", "1,2,4,8", "numbers of heaps for -scale-nodes")
	flag.Parse()
	log.SetFlags(0)
	var res *result
	var err error
	if *scaleNodes > 0 {
		res, err = runScale(p, *data, *certs, *scaleNodes, *scaleHeaps)
	} else {
		res, err = run(p, *data, *certs)
	}
	if err != nil {
		log.Fatalf("oss worker: %v", err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		log.Fatal(err)
	}
}

var members = []string{"m0", "m1", "m2"}

// key is the ID of preloaded object i.
func key(i int) uuid.UUID {
	var id uuid.UUID
	binary.BigEndian.PutUint64(id[8:], uint64(i)+1)
	id[6] = 0x40 // version 4 layout, variant bits as uuid.New's
	id[8] |= 0x80
	return id
}

func start(ctx context.Context, dir, certs string, members []string) ([]*oss.Node, error) {
	ca, err := os.ReadFile(filepath.Join(certs, "ca.pem"))
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var nodes []*oss.Node
	for i, m := range members {
		cert, err := os.ReadFile(filepath.Join(certs, m+"-oss.pem"))
		if err != nil {
			return nodes, err
		}
		key, err := os.ReadFile(filepath.Join(certs, m+"-oss.key"))
		if err != nil {
			return nodes, err
		}
		cfg := &oss.Config{
			Name:       m,
			DataDir:    filepath.Join(dir, m),
			Durability: oss.DurabilitySync,
			Listen:     "127.0.0.1:0",
			TLS:        &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: ca},
			Gossip:     oss.GossipLoopback,
			Logger:     logger,
		}
		if i > 0 {
			cfg.Join = []string{nodes[0].Addr()}
		}
		n, err := oss.Start(ctx, cfg)
		if err != nil {
			return nodes, fmt.Errorf("%s: %w", m, err)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

func run(p params, dir, certs string) (*result, error) {
	ctx := context.Background()
	res := &result{System: "oss", Metrics: map[string]float64{}}
	m := res.Metrics
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	nodes, err := start(sctx, dir, certs, members)
	defer func() {
		for _, n := range nodes {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			n.Close(cctx)
			cancel()
		}
	}()
	if err != nil {
		return nil, err
	}
	// The heap, with its three voters placed on the three nodes.
	var heaps []*oss.Heap
	for _, n := range nodes {
		h, err := n.CreateHeapIfNotExists(sctx, "bench", nil)
		if err != nil {
			return nil, err
		}
		heaps = append(heaps, h)
	}
	lead := -1
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no leader with 3 voters in 60s: %+v", heaps[0].Stats())
		}
		st := heaps[0].Stats()
		if st.Leader == "" || len(st.Voters) != 3 || st.Joint {
			continue
		}
		lead = -1
		for i, mb := range members {
			if mb == st.Leader {
				lead = i
			}
		}
		if lead >= 0 {
			break
		}
	}
	follower := (lead + 1) % len(heaps)

	// Preload, 1,000 objects a transaction, 8 at a time.
	t0 := time.Now()
	const batch = 1000
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for s := w * batch; s < p.Keys; s += 8 * batch {
				err := heaps[lead].Update(ctx, func(tx *oss.Tx) error {
					for i := s; i < min(s+batch, p.Keys); i++ {
						if err := oss.Put(tx, key(i), value(p, i)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("preload: %w", err)
	}
	m["preload_s"] = time.Since(t0).Seconds()
	// Every member has applied the preload before memory is measured.
	for _, h := range heaps {
		if err := h.View(ctx, func(*oss.Tx) error { return nil }, &oss.ViewOptions{Fresh: true}); err != nil {
			return nil, err
		}
		if n := h.Stats().Objects; n < p.Keys {
			return nil, fmt.Errorf("a replica holds %d objects after the preload, want %d", n, p.Keys)
		}
	}
	m["mem_heap_mb"] = heapInUse()
	m["mem_rss_mb"] = peakRSS()
	if err := writeHeapProfile(p); err != nil {
		return nil, err
	}

	// rmw reads an object and writes it back incremented; it returns the
	// times its function ran.
	rmw := func(h *oss.Heap, id uuid.UUID) (int, error) {
		runs := 0
		err := h.Update(ctx, func(tx *oss.Tx) error {
			runs++
			v, err := oss.Get[[]byte](tx, id)
			if err != nil {
				return err
			}
			return oss.Put(tx, id, bump(v))
		})
		return runs, err
	}

	// The members' log syncs, for syncs per commit: a registry each
	// (their collectors describe the same metrics).
	var regs []prometheus.Gatherer
	for _, n := range nodes {
		reg := prometheus.NewRegistry()
		if err := reg.Register(n.Metrics()); err != nil {
			return nil, err
		}
		regs = append(regs, reg)
	}
	const fsyncs = "oss_wal_fsync_duration_seconds"

	// (a) 64 clients over the three nodes.
	stop, err := startCPUProfile(p, "a")
	if err != nil {
		return nil, err
	}
	syncs, t0 := histCount(fsyncs, regs...), time.Now()
	// The worker's processor and allocations a commit (a_cpu_us,
	// a_allocs, a_alloc_bytes): the whole process, three members.
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuSeconds()
	// Each commit's time by the node its client is on: the leader's, or
	// a follower's (whose commits are forwarded).
	var byNode [2]struct{ n, ns atomic.Int64 }
	m["a_cps"], err = throughput(p.Clients, p.Duration, func(c int, rng *rand.Rand) error {
		t0 := time.Now()
		_, err := rmw(heaps[c%len(heaps)], key(rng.IntN(p.Keys)))
		k := 1
		if c%len(heaps) == lead {
			k = 0
		}
		byNode[k].n.Add(1)
		byNode[k].ns.Add(int64(time.Since(t0)))
		return err
	})
	for k, name := range []string{"a_lead_ms", "a_fol_ms"} {
		if n := byNode[k].n.Load(); n > 0 {
			m[name] = float64(byNode[k].ns.Load()) / float64(n) / 1e6
		}
	}
	m["a_syncs_per_commit"] = (histCount(fsyncs, regs...) - syncs) / time.Since(t0).Seconds() / m["a_cps"]
	if commits := float64(byNode[0].n.Load() + byNode[1].n.Load()); commits > 0 {
		m["a_cpu_us"] = (cpuSeconds() - cpu0) / commits * 1e6
		runtime.ReadMemStats(&ms1)
		m["a_allocs"] = float64(ms1.Mallocs-ms0.Mallocs) / commits
		m["a_alloc_bytes"] = float64(ms1.TotalAlloc-ms0.TotalAlloc) / commits
	}
	stop()
	if err != nil {
		return nil, fmt.Errorf("a: %w", err)
	}

	// (b) one client on the leader's node.
	if stop, err = startCPUProfile(p, "b"); err != nil {
		return nil, err
	}
	syncs = histCount(fsyncs, regs...)
	const packets = "oss_quic_sent_packets_total"
	pkts, cpu0 := counterSum(packets, regs...), cpuSeconds()
	ds, err := sequential(p.Duration, func(rng *rand.Rand) error {
		_, err := rmw(heaps[lead], key(rng.IntN(p.Keys)))
		return err
	})
	m["b_syncs_per_commit"] = (histCount(fsyncs, regs...) - syncs) / float64(ds.len())
	// QUIC packets the three members sent, and the worker's processor
	// time, per commit.
	m["b_packets_per_commit"] = (counterSum(packets, regs...) - pkts) / float64(ds.len())
	m["b_cpu_us"] = (cpuSeconds() - cpu0) / float64(ds.len()) * 1e6
	stop()
	if err != nil {
		return nil, fmt.Errorf("b: %w", err)
	}
	m["b_p50_us"], m["b_p99_us"] = ds.pct(0.5), ds.pct(0.99)

	// (c) 64 clients on p.Hot objects, default MaxRetries: an Update that
	// still conflicts returns ErrConflict, which is counted, not fatal.
	var mu sync.Mutex
	most, failed := 0, 0
	m["c_cps"], err = throughput(p.Clients, p.Duration, func(c int, rng *rand.Rand) error {
		for {
			runs, err := rmw(heaps[c%len(heaps)], key(rng.IntN(p.Hot)))
			mu.Lock()
			most = max(most, runs-1)
			if errors.Is(err, oss.ErrConflict) {
				failed++
			}
			mu.Unlock()
			if !errors.Is(err, oss.ErrConflict) {
				return err
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("c: %w", err)
	}
	m["c_max_retries"], m["c_failed"] = float64(most), float64(failed)

	// (d) local reads on a follower: a View.
	if ds, err = sequential(p.Duration, func(rng *rand.Rand) error {
		return heaps[follower].View(ctx, func(tx *oss.Tx) error {
			_, err := oss.Get[[]byte](tx, key(rng.IntN(p.Keys)))
			return err
		}, nil)
	}); err != nil {
		return nil, fmt.Errorf("d: %w", err)
	}
	m["d_ops"], m["d_p50_us"] = ds.perSecond(), ds.pct(0.5)

	// (e) a write on the leader's node to its event at a watch on a
	// follower's, both timed from before the write.
	id := key(p.Keys - 1)
	w, err := heaps[follower].Watch(&oss.WatchOptions{IDs: []uuid.UUID{id}, From: heaps[follower].Stats().Applied})
	if err != nil {
		return nil, err
	}
	got := make(chan seen, 16)
	wctx, wcancel := context.WithCancel(ctx)
	go func() {
		defer close(got)
		for {
			ev, err := w.Next(wctx)
			if err != nil {
				return
			}
			at := time.Now()
			for _, ch := range ev.Objects {
				var v []byte
				if ch.ID == id && ch.Decode(&v) == nil {
					got <- seen{counter(v), at}
				}
			}
		}
	}()
	commit, deliver := newLatencies(), newLatencies()
	v := value(p, p.Keys-1)
	for end := time.Now().Add(p.Duration); time.Now().Before(end); {
		v = bump(v)
		want := counter(v)
		t0 := time.Now()
		if err := heaps[lead].Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, v) }); err != nil {
			wcancel()
			return nil, fmt.Errorf("e: %w", err)
		}
		commit.add(time.Since(t0))
		for s := range got {
			if s.n == want {
				deliver.add(s.at.Sub(t0))
				break
			}
		}
	}
	wcancel()
	w.Close()
	m["e_p50_us"], m["e_p99_us"], m["e_commit_p50_us"] = deliver.pct(0.5), deliver.pct(0.99), commit.pct(0.5)

	// (f) linearizable reads on a follower: a Fresh View.
	if ds, err = sequential(p.Duration, func(rng *rand.Rand) error {
		return heaps[follower].View(ctx, func(tx *oss.Tx) error {
			_, err := oss.Get[[]byte](tx, key(rng.IntN(p.Keys)))
			return err
		}, &oss.ViewOptions{Fresh: true})
	}); err != nil {
		return nil, fmt.Errorf("f: %w", err)
	}
	m["f_ops"], m["f_p50_us"] = ds.perSecond(), ds.pct(0.5)

	m["rss_end_mb"] = peakRSS()
	return res, nil
}
