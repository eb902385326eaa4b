package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/objectsharing/oss/oss"
)

// scaleKeys is the number of objects of each heap the scale-out clients
// read and write; scaleClients the clients on each heap.
const (
	scaleKeys    = 1000
	scaleClients = 16
)

// runScale measures how commits scale with heaps: nodes nodes, then for
// each count in heaps that many heaps of three voters each, placed by the
// cluster (a heap whose creating node was not placed is dropped and
// created again under another name, so no heap has a learner), and
// scaleClients clients a heap doing read-modify-write on scaleKeys
// objects, spread over the heap's voters, for p.Duration. It reports,
// per heap count H, commits/s in all (sH_cps) and the process's CPU
// seconds a commit (sH_cpu_us, in µs).
func runScale(p params, dir, certs string, nodes int, heaps string) (*result, error) {
	ctx := context.Background()
	res := &result{System: "oss", Metrics: map[string]float64{"nodes": float64(nodes)}}
	var names []string
	for i := range nodes {
		names = append(names, fmt.Sprintf("m%d", i))
	}
	sctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	ns, err := start(sctx, dir, certs, names)
	defer func() {
		for _, n := range ns {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			n.Close(cctx)
			cancel()
		}
	}()
	if err != nil {
		return nil, err
	}
	var counts []int
	for _, f := range strings.Split(heaps, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return nil, fmt.Errorf("-scale-heaps: %q is not a number of heaps", f)
		}
		counts = append(counts, c)
	}
	// Every run uses the first H of the same heaps.
	var groups [][]*oss.Heap // each heap's handles on its voters
	for try := 0; len(groups) < slices.Max(counts); try++ {
		hs, err := placedHeap(sctx, ns, names, fmt.Sprintf("scale-%d", try), try%nodes)
		if err != nil {
			return nil, err
		}
		if hs != nil {
			groups = append(groups, hs)
		}
	}
	for _, hs := range groups {
		if err := hs[0].Update(ctx, func(tx *oss.Tx) error {
			for i := range scaleKeys {
				if err := oss.Put(tx, key(i), value(p, i)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("preload: %w", err)
		}
	}
	for _, h := range counts {
		cpu0 := cpuSeconds()
		cps, err := throughput(h*scaleClients, p.Duration, func(c int, rng *rand.Rand) error {
			hs := groups[c%h]
			hp := hs[(c/h)%len(hs)]
			id := key(rng.IntN(scaleKeys))
			return hp.Update(ctx, func(tx *oss.Tx) error {
				v, err := oss.Get[[]byte](tx, id)
				if err != nil {
					return err
				}
				return oss.Put(tx, id, bump(v))
			})
		})
		if err != nil {
			return nil, fmt.Errorf("%d heaps: %w", h, err)
		}
		cpu := cpuSeconds() - cpu0
		res.Metrics[fmt.Sprintf("s%d_cps", h)] = cps
		res.Metrics[fmt.Sprintf("s%d_cpu_us", h)] = cpu / (cps * p.Duration.Seconds()) * 1e6
	}
	return res, nil
}

// placedHeap creates the heap from node creator and returns its handles on
// its three voters once they are in place, or nil, the heap dropped, if
// the creator is not one of them.
func placedHeap(ctx context.Context, ns []*oss.Node, names []string, name string, creator int) ([]*oss.Heap, error) {
	h, err := ns[creator].CreateHeap(ctx, name, &oss.HeapOptions{Replicas: 3})
	if err != nil {
		return nil, fmt.Errorf("heap %s: %w", name, err)
	}
	var st oss.Stats
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("heap %s: no leader with 3 voters in 60s: %+v", name, st)
		}
		st = h.Stats()
		if st.Leader != "" && len(st.Voters) == 3 && !st.Joint && len(st.Learners) == 0 {
			break
		}
		if st.Leader != "" && len(st.Voters) == 3 && !slices.Contains(st.Voters, names[creator]) {
			break
		}
	}
	if !slices.Contains(st.Voters, names[creator]) {
		if err := ns[creator].DropHeap(ctx, name); err != nil {
			return nil, fmt.Errorf("heap %s: drop: %w", name, err)
		}
		return nil, nil
	}
	hs := []*oss.Heap{h}
	for _, v := range st.Voters {
		i := slices.Index(names, v)
		if i == creator {
			continue
		}
		hv, err := ns[i].Heap(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("heap %s on %s: %w", name, v, err)
		}
		hs = append(hs, hv)
	}
	return hs, nil
}

// cpuSeconds is the user and system CPU time the process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
