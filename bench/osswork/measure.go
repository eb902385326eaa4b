package main

// A copy of ../measure.go (this worker is a module of its own, see
// ../main.go): keep the two the same.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"log"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// params is the workload, the same for both systems.
type params struct {
	Keys     int           // preloaded keys
	Value    int           // bytes of each value
	Clients  int           // concurrent clients of workloads a and c
	Hot      int           // keys workload c contends on
	Duration time.Duration // of each workload
	// MemProfile, if set, is where the worker writes a heap profile
	// right after the preload's memory is measured.
	MemProfile string `json:"-"`
	// CPUProfile, if set, is where the worker writes a CPU profile of
	// workloads a and b: CPUProfile-a.pprof, CPUProfile-b.pprof.
	CPUProfile string `json:"-"`
	// Trace, if set, is where the worker writes an execution trace of
	// workloads a and b (for go tool trace): Trace-a.trace, Trace-b.trace.
	Trace string `json:"-"`
}

// result is what a worker prints on stdout, as JSON.
type result struct {
	System  string             `json:"system"`
	Metrics map[string]float64 `json:"metrics"`
}

// seen is a watch's delivery of counter n, timed by the watching goroutine.
type seen struct {
	n  uint64
	at time.Time
}

// value is the preloaded value of key i: Value bytes, a counter in the
// first 8 that read-modify-write increments.
func value(p params, i int) []byte {
	v := make([]byte, p.Value)
	for j := 8; j < len(v); j++ {
		v[j] = byte('a' + (i+j)%26)
	}
	return v
}

// bump returns a copy of v with its counter incremented.
func bump(v []byte) []byte {
	n := slices.Clone(v)
	if len(n) < 8 {
		n = append(n, make([]byte, 8-len(n))...)
	}
	binary.LittleEndian.PutUint64(n, binary.LittleEndian.Uint64(n)+1)
	return n
}

// counter reads the counter bump increments.
func counter(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(v)
}

// throughput runs fn in clients goroutines for d and returns the calls
// that succeeded per second. The first error stops the run.
func throughput(clients int, d time.Duration, fn func(c int, rng *rand.Rand) error) (float64, error) {
	var done atomic.Int64
	var stop atomic.Bool
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), uint64(t0.UnixNano())))
			for !stop.Load() {
				if err := fn(c, rng); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					stop.Store(true)
					return
				}
				done.Add(1)
			}
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return float64(done.Load()) / time.Since(t0).Seconds(), first
}

// sequential calls fn one call at a time for d and records each call's
// latency.
func sequential(d time.Duration, fn func(rng *rand.Rand) error) (*latencies, error) {
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	ds := newLatencies()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		t0 := time.Now()
		if err := fn(rng); err != nil {
			return ds, err
		}
		ds.add(time.Since(t0))
	}
	return ds, nil
}

// latencies is a log-linear histogram of durations: exact below 512 ns,
// then 256 buckets to each doubling, so a quantile is within 0.4% of the
// exact one. Its memory is fixed (57 KB) however many calls
// it records: a list of every call's latency grew with the system's
// speed, 30 MB and its sorted copy for 3.7 million local reads in 3 s,
// and was counted in that system's peak RSS.
type latencies struct {
	n      int
	sum    time.Duration
	counts []uint32
}

const latSub = 8 // log2 of the buckets to a doubling

func newLatencies() *latencies {
	return &latencies{counts: make([]uint32, (64-latSub)<<latSub)}
}

// latBucket is the bucket of d: d itself below 2<<latSub, else the top
// latSub+1 bits of d and the bits shifted out.
func latBucket(d time.Duration) int {
	v := uint64(max(d, 0))
	s := max(bits.Len64(v)-latSub-1, 0)
	return s<<latSub + int(v>>s)
}

// latValue is the middle of bucket i, the inverse of latBucket.
func latValue(i int) time.Duration {
	if i < 2<<latSub {
		return time.Duration(i)
	}
	s := i>>latSub - 1
	return time.Duration(uint64(i-s<<latSub)<<s + 1<<s/2)
}

func (l *latencies) add(d time.Duration) {
	l.n++
	l.sum += d
	l.counts[latBucket(d)]++
}

// len is the number of latencies recorded.
func (l *latencies) len() int { return l.n }

// pct is the p-quantile in microseconds.
func (l *latencies) pct(p float64) float64 {
	if l.n == 0 {
		return 0
	}
	rank := uint64(min(l.n-1, int(float64(l.n)*p)))
	var seen uint64
	for i, c := range l.counts {
		if seen += uint64(c); seen > rank {
			return float64(latValue(i)) / float64(time.Microsecond)
		}
	}
	panic("latencies: counts and n disagree")
}

// perSecond is the rate of calls with these latencies, one at a time.
func (l *latencies) perSecond() float64 {
	if l.sum == 0 {
		return 0
	}
	return float64(l.n) / l.sum.Seconds()
}

// heapInUse is the Go heap the process's objects occupy after a
// collection, in MB (runtime/metrics /memory/classes/heap/objects:bytes).
func heapInUse() float64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64()) / 1e6
}

// writeHeapProfile writes the heap profile to p.MemProfile, if set.
func writeHeapProfile(p params) error {
	if p.MemProfile == "" {
		return nil
	}
	f, err := os.Create(p.MemProfile)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startCPUProfile starts the CPU profile and the execution trace of
// workload name, if p.CPUProfile or p.Trace is set; stop ends them.
func startCPUProfile(p params, name string) (stop func(), err error) {
	stopTrace, err := startTrace(p, name)
	if err != nil {
		return nil, err
	}
	if p.CPUProfile == "" {
		return stopTrace, nil
	}
	f, err := os.Create(p.CPUProfile + "-" + name + ".pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	// The allocations of the workload alone are the difference of two
	// allocation profiles: go tool pprof -sample_index=alloc_space
	// -base NAME-allocs-start.pprof NAME-allocs.pprof
	writeAllocs(p.CPUProfile + "-" + name + "-allocs-start.pprof")
	return func() {
		writeAllocs(p.CPUProfile + "-" + name + "-allocs.pprof")
		pprof.StopCPUProfile()
		f.Close()
		stopTrace()
	}, nil
}

// startTrace starts the execution trace of workload name, if p.Trace is
// set; stop ends it.
func startTrace(p params, name string) (stop func(), err error) {
	if p.Trace == "" {
		return func() {}, nil
	}
	f, err := os.Create(p.Trace + "-" + name + ".trace")
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		trace.Stop()
		f.Close()
	}, nil
}

// histCount is the number of observations of the histogram name in the
// gatherers, summed over its label sets (every member's, for a per-node
// metric).
func histCount(name string, gs ...prometheus.Gatherer) float64 {
	return sumOf(name, func(m *dto.Metric) float64 { return float64(m.GetHistogram().GetSampleCount()) }, gs...)
}

// counterSum is the sum of the counter name over the gatherers.
func counterSum(name string, gs ...prometheus.Gatherer) float64 {
	return sumOf(name, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() }, gs...)
}

// sumOf sums value over every label set of the metric name in the
// gatherers; 0 if one fails to gather.
func sumOf(name string, value func(*dto.Metric) float64, gs ...prometheus.Gatherer) float64 {
	var n float64
	for _, g := range gs {
		mfs, err := g.Gather()
		if err != nil {
			return 0
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					n += value(m)
				}
			}
		}
	}
	return n
}

// peakRSS is the process's peak resident set (VmHWM) in MB.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1e3
		}
	}
	return 0
}

// writeAllocs writes the allocation profile so far to path; a failure
// loses only the profile.
func writeAllocs(path string) {
	f, err := os.Create(path)
	if err != nil {
		log.Printf("allocation profile: %v", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		log.Printf("allocation profile: %v", err)
	}
}
