package oss

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkMetricsOverhead measures, apart from the noise of a whole
// commit, what metrics and contention tracking add to the commit path:
// per commit, the commit-latency observation (two clock reads and a
// histogram observation) and the transaction ID's node tag; per conflict,
// noting its key in the contention table and reading its count back.
func BenchmarkMetricsOverhead(b *testing.B) {
	m := newNodeMetrics("bench")
	obs := m.observers("heap")
	b.Run("commit-latency", func(b *testing.B) {
		for b.Loop() {
			start := time.Now()
			obs.commit.Observe(time.Since(start).Seconds())
		}
	})
	b.Run("txid-plain", func(b *testing.B) {
		for b.Loop() {
			if _, err := uuid.NewV7(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("txid-tagged", func(b *testing.B) {
		for b.Loop() {
			if _, err := newTxID(0x1234); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("conflict-hot-key", func(b *testing.B) {
		var t hotTable
		k := hotKey{id: uuid.New()}
		for b.Loop() {
			now := time.Now()
			t.note(k, now, uuid.Nil, "")
			t.lately(k, now)
		}
	})
	b.Run("conflict-new-key", func(b *testing.B) {
		var t hotTable
		keys := make([]hotKey, 1024)
		for i := range keys {
			keys[i] = hotKey{id: uuid.New()}
		}
		i := 0
		for b.Loop() {
			now := time.Now()
			t.note(keys[i%len(keys)], now, uuid.Nil, "")
			t.lately(keys[i%len(keys)], now)
			i++
		}
	})
	b.Run("wal-file-write", func(b *testing.B) {
		f := walFile{File: nopFile{}, m: m}
		p := make([]byte, 512)
		for b.Loop() {
			f.Write(p)
		}
	})
}

// nopFile is a persist.File that does nothing, for BenchmarkMetricsOverhead.
type nopFile struct{}

func (nopFile) Read(p []byte) (int, error)               { return 0, nil }
func (nopFile) ReadAt(p []byte, off int64) (int, error)  { return 0, nil }
func (nopFile) Write(p []byte) (int, error)              { return len(p), nil }
func (nopFile) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }
func (nopFile) Sync() error                              { return nil }
func (nopFile) Truncate(int64) error                     { return nil }
func (nopFile) Size() (int64, error)                     { return 0, nil }
func (nopFile) Close() error                             { return nil }

// BenchmarkMetricsGather measures one scrape of a node with 10 heaps on
// disk: what scraping every second costs the node, in CPU time per
// second.
func BenchmarkMetricsGather(b *testing.B) {
	n, err := Start(context.Background(), &Config{Name: "g", DataDir: b.TempDir(), Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close(context.Background())
	for i := range 10 {
		h, err := n.CreateHeap(context.Background(), fmt.Sprint("h", i), nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Update(context.Background(), func(tx *Tx) error { return Put(tx, uuid.New(), i) }); err != nil {
			b.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(n.Metrics())
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
