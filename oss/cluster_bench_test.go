package oss

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
)

// openEverywhere opens a heap on every node of the cluster and waits for
// its leader.
func (c *quicCluster) openEverywhere(heap string) map[string]*Heap {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hs := map[string]*Heap{}
	for name, n := range c.nodes {
		h, err := n.CreateHeapIfNotExists(ctx, heap, nil)
		if err != nil {
			c.t.Fatalf("%s: %v", name, err)
		}
		hs[name] = h
	}
	waitCond(c.t, "a leader", func() bool { _, ok := c.group(heap); return ok })
	return hs
}

func percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// echo answers every message with the same message.
type echo struct {
	tr   transport.Transport
	back chan struct{}
}

func (e *echo) HandleMessage(from string, msg []byte) {
	if e.back != nil {
		e.back <- struct{}{}
		return
	}
	e.tr.Send(context.Background(), from, msg)
}
func (e *echo) HandleCall(context.Context, string, []byte) ([]byte, error)    { return nil, nil }
func (e *echo) HandleStream(context.Context, string, []byte, io.Reader) error { return nil }

// quicRoundTrip measures the median round trip of a 100-byte message on
// an established QUIC connection between two endpoints: the path raft
// messages take.
func quicRoundTrip(b *testing.B, rounds int) time.Duration {
	ca, err := pki.NewCA("bench", time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	start := func(name string, h *echo) *transport.QUIC {
		cert, key, _ := ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
		q, err := transport.NewQUIC(&transport.QUICConfig{Name: name, Listen: "127.0.0.1:0", CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: h, Logger: testLogger()})
		if err != nil {
			b.Fatal(err)
		}
		h.tr = q
		return q
	}
	pinger := &echo{back: make(chan struct{}, 1)}
	a, z := start("ping", pinger), start("pong", &echo{})
	defer a.Close()
	defer z.Close()
	a.SetPeer("pong", z.Addr().String())
	z.SetPeer("ping", a.Addr().String())
	msg := make([]byte, 100)
	var ds []time.Duration
	for i := range rounds + 100 {
		t0 := time.Now()
		if err := a.Send(context.Background(), "pong", msg); err != nil {
			b.Fatal(err)
		}
		<-pinger.back
		if i >= 100 { // after warm-up
			ds = append(ds, time.Since(t0))
		}
	}
	return percentile(ds, 0.5)
}

// BenchmarkClusterCommit measures the latency of one small commit at a
// time on a 3-node loopback QUIC cluster (memory only), from the leader's
// node and from a follower's, against the floor of two QUIC round trips
// measured in the same run.
func BenchmarkClusterCommit(b *testing.B) {
	floor := 2 * quicRoundTrip(b, 2000)
	c := newQUICClusterTick(b, 100*time.Millisecond, "a", "b", "c")
	hs := c.openEverywhere("bench")
	g := c.waitGroup(b, "bench")
	for _, from := range []string{"leader", "follower"} {
		name := g.Leader
		if from == "follower" {
			for n := range hs {
				if n != g.Leader {
					name = n
					break
				}
			}
		}
		b.Run(from, func(b *testing.B) {
			h := hs[name]
			id := uuid.New()
			var ds []time.Duration
			for i := 0; b.Loop(); i++ {
				t0 := time.Now()
				if err := h.Update(context.Background(), func(tx *Tx) error { return Put(tx, id, i) }); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
			}
			p50, p99 := percentile(ds, 0.5), percentile(ds, 0.99)
			b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
			b.ReportMetric(float64(floor.Microseconds()), "floor-µs")
			b.ReportMetric(float64(p50)/float64(floor), "p50/floor")
		})
	}
}

// BenchmarkClusterThroughput runs small uncontended commits from 64
// concurrent clients on a 3-node loopback QUIC cluster and reports commits
// per second: with the clients spread over the three nodes, and all on the
// leader's node.
func BenchmarkClusterThroughput(b *testing.B) {
	c := newQUICClusterTick(b, 100*time.Millisecond, "a", "b", "c")
	hs := c.openEverywhere("bench")
	g := c.waitGroup(b, "bench")
	for _, where := range []string{"spread", "on-leader"} {
		var heaps []*Heap
		for name, h := range hs {
			if where == "spread" || name == g.Leader {
				heaps = append(heaps, h)
			}
		}
		b.Run(where, func(b *testing.B) {
			const clients = 64
			var next atomic.Int64
			start := time.Now()
			var wg sync.WaitGroup
			for i := range clients {
				h := heaps[i%len(heaps)]
				wg.Go(func() {
					id := uuid.New()
					for next.Add(1) <= int64(b.N) {
						if err := h.Update(context.Background(), func(tx *Tx) error { return Put(tx, id, avatar{X: 1}) }); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
		})
	}
}

type avatar struct {
	Name    string
	X, Y, Z float64
}

// BenchmarkPropagation measures the time from the start of a commit on the
// leader's node to its change set at the watches of 10 learners, and, from
// the same start, the commit's acknowledgement on the leader's node. Both
// are timed from one clock point that precedes them: a learner can apply
// a commit before the leader's Update returns, so timing the delivery from
// the acknowledgement would give negative times (they used to be clamped
// to 0, which pulled p50 down). early/delivery is the share of deliveries
// that came before the acknowledgement.
func BenchmarkPropagation(b *testing.B) {
	names := []string{"v1", "v2", "v3"}
	for i := range 10 {
		names = append(names, fmt.Sprintf("l%02d", i))
	}
	c := newQUICClusterTick(b, 100*time.Millisecond, names...)
	hs := c.openEverywhere("bench")
	g := c.waitGroup(b, "bench")
	type timing struct{ start, ack time.Time }
	var commits sync.Map // index -> timing
	var mu sync.Mutex
	var ds, acked []time.Duration
	early := 0
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for name, h := range hs {
		if name[0] != 'l' {
			continue
		}
		w, err := h.Watch(&WatchOptions{From: h.Stats().Applied})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer w.Close()
			for {
				ev, err := w.Next(ctx)
				if err != nil {
					return
				}
				at := time.Now()
				if ev.Kind != EventChange {
					continue
				}
				for ctx.Err() == nil { // the writer records the times right after Update returns
					if t, ok := commits.Load(ev.Index); ok {
						mu.Lock()
						ds = append(ds, at.Sub(t.(timing).start))
						if at.Before(t.(timing).ack) {
							early++
						}
						mu.Unlock()
						break
					}
					time.Sleep(10 * time.Microsecond)
				}
			}
		})
	}
	leader := hs[g.Leader]
	id := uuid.New()
	for i := 0; b.Loop(); i++ {
		var index uint64
		start := time.Now()
		err := leader.Update(context.Background(), func(tx *Tx) error {
			tx.OnCommit(func() { index = tx.Index() })
			return Put(tx, id, i)
		})
		if err != nil {
			b.Fatal(err)
		}
		ack := time.Now()
		acked = append(acked, ack.Sub(start))
		commits.Store(index, timing{start, ack})
		time.Sleep(time.Millisecond) // a steady stream, not a batch
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	if len(ds) == 0 {
		b.Fatal("no change set reached a learner")
	}
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(float64(percentile(ds, 0.5).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(ds, 0.99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(percentile(acked, 0.5).Microseconds()), "ack-p50-µs")
	b.ReportMetric(float64(len(ds))/float64(b.N), "deliveries/commit")
	b.ReportMetric(float64(early)/float64(len(ds)), "early/delivery")
}

// BenchmarkFailover measures, with the default tick and loopback gossip,
// the time from a leader's crash to the next committed transaction on a
// survivor that keeps trying.
func BenchmarkFailover(b *testing.B) {
	var ds []time.Duration
	for b.Loop() {
		c := newQUICClusterTick(b, 100*time.Millisecond, "a", "b", "c")
		hs := c.openEverywhere("bench")
		g := c.waitGroup(b, "bench")
		var survivor *Heap
		for name, h := range hs {
			if name != g.Leader {
				survivor = h
			}
		}
		id := uuid.New()
		t0 := time.Now()
		c.nodes[g.Leader].stop(context.Background(), false)
		delete(c.nodes, g.Leader)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			err := survivor.Update(ctx, func(tx *Tx) error { return Put(tx, id, 1) })
			cancel()
			if err == nil {
				break
			}
		}
		ds = append(ds, time.Since(t0))
		for _, n := range c.nodes {
			n.stop(context.Background(), false)
		}
		c.nodes = nil
	}
	b.ReportMetric(float64(percentile(ds, 0.5).Milliseconds()), "median-ms")
	b.ReportMetric(float64(percentile(ds, 1).Milliseconds()), "max-ms")
}
