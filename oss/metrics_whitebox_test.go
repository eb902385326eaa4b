package oss

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// documentedMetrics reads the table of docs/design.md's Metrics section:
// name → "type|labels|help".
func documentedMetrics(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Metrics\n")
	if !ok {
		t.Fatal("docs/design.md has no Metrics section")
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	row := regexp.MustCompile("^\\| `(oss_[a-z_]+)` \\| (counter|gauge|histogram) \\| ([a-z, ]+) \\| (.+) \\|$")
	out := map[string]string{}
	for line := range strings.SplitSeq(sec, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			out[m[1]] = m[2] + "|" + m[3] + "|" + m[4]
		}
	}
	return out
}

func defRow(d *metricDef) string {
	return fmt.Sprintf("| `%s` | %s | %s | %s |", d.name, d.typ, strings.Join(d.labels, ", "), d.help)
}

// TestMetricsDocumented checks that docs/design.md lists every metric the
// collector defines, with its type, labels and help text, and no other.
func TestMetricsDocumented(t *testing.T) {
	doc := documentedMetrics(t)
	var want []string
	ok := len(doc) == len(metricDefs)
	for _, d := range metricDefs {
		want = append(want, defRow(d))
		if doc[d.name] != d.typ+"|"+strings.Join(d.labels, ", ")+"|"+d.help {
			ok = false
			t.Errorf("%s: documented as %q", d.name, doc[d.name])
		}
	}
	if !ok {
		t.Errorf("the Metrics section of docs/design.md should list, in a table:\n%s", strings.Join(want, "\n"))
	}
}

// gather collects a node's metrics through a pedantic registry, which
// checks them against their descriptions.
func gather(t *testing.T, n *Node) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(n.Metrics()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// metricValue returns the value of the series of mf whose labels include
// those given, and whether there is one.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}) {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsCollect runs a durable node on QUIC with membership, commits,
// conflicts and watches, and checks that the collector emits every
// documented metric and no other, and that the values moved as they must.
func TestMetricsCollect(t *testing.T) {
	dir := t.TempDir()
	c := newQUICClusterWith(t, 20*time.Millisecond, func(cfg *Config) {
		cfg.DataDir = filepath.Join(dir, cfg.Name)
	}, "m1")
	n := c.nodes["m1"]
	ctx := context.Background()
	h, err := n.CreateHeap(ctx, "metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := h.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	id := uuid.New()
	const commits = 20
	for i := range commits {
		if err := h.Update(ctx, func(tx *Tx) error { return Put(tx, id, i) }); err != nil {
			t.Fatal(err)
		}
	}
	// One conflict: tx reads id, another commit writes it first.
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Get[int](tx, id); err != nil {
		t.Fatal(err)
	}
	if err := h.Update(ctx, func(tx *Tx) error { return Put(tx, id, -1) }); err != nil {
		t.Fatal(err)
	}
	if err := Put(tx, id, -2); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit of a stale read: %v", err)
	}

	mfs := gather(t, n)
	var got []string
	for name := range mfs {
		if strings.HasPrefix(name, "oss_") {
			got = append(got, name)
		}
	}
	var want []string
	for _, d := range metricDefs {
		want = append(want, d.name)
		if mf := mfs[d.name]; mf != nil && mf.GetHelp() != d.help {
			t.Errorf("%s: help %q, defined as %q", d.name, mf.GetHelp(), d.help)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("emitted metrics differ from the defined ones:\nemitted: %v\ndefined: %v", got, want)
	}
	hl := []string{"heap", "metrics", "node", "m1"}
	expect := func(name string, ok func(float64) bool, labels ...string) {
		t.Helper()
		v, found := metricValue(mfs, name, labels...)
		if !found || !ok(v) {
			t.Errorf("%s%v = %v (found %v)", name, labels, v, found)
		}
	}
	atLeast := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	equal := func(x float64) func(float64) bool { return func(v float64) bool { return v == x } }
	expect("oss_commits_total", equal(commits+1), hl...)
	expect("oss_conflicts_total", equal(1), hl...)
	expect("oss_commit_duration_seconds", equal(commits+2), hl...)
	expect("oss_hot_conflicts", atLeast(0.9), hl...)
	expect("oss_applied_index", atLeast(commits+1), hl...)
	expect("oss_is_leader", equal(1), hl...)
	expect("oss_voters", equal(1), hl...)
	expect("oss_watch_consumers", equal(1), hl...)
	expect("oss_watch_queued_events", atLeast(1), hl...)
	expect("oss_watch_lag_entries", atLeast(commits), hl...)
	expect("oss_leader_changes_total", atLeast(1), hl...)
	expect("oss_objects", equal(1), hl...)
	expect("oss_wal_fsync_duration_seconds", atLeast(commits), "node", "m1")
	expect("oss_wal_written_bytes_total", atLeast(1000), "node", "m1")
	expect("oss_wal_records_total", atLeast(commits), "node", "m1")
	expect("oss_members", equal(1), "node", "m1")
	expect("oss_store_bytes", atLeast(0), "node", "m1", "stripe", "0")
	expect("oss_quic_connections", atLeast(0), "node", "m1")
	expect("oss_leader_contact_age_seconds", equal(0), hl...)

	// The watch consumer catches up: its lag goes.
	for {
		nctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := w.Next(nctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mfs = gather(t, n)
	expect("oss_watch_lag_entries", equal(0), hl...)
	expect("oss_watch_queued_events", equal(0), hl...)
}

// TestMetricsQUIC checks the transport's and membership's metrics move on
// a two-node cluster, and snapshot metrics are there per heap.
func TestMetricsQUICCluster(t *testing.T) {
	c := newQUICCluster(t, "q1", "q2")
	n := c.nodes["q1"]
	deadline := time.Now().Add(10 * time.Second)
	for {
		mfs := gather(t, n)
		conns, _ := metricValue(mfs, "oss_quic_connections", "node", "q1")
		sent, _ := metricValue(mfs, "oss_quic_sent_bytes_total", "node", "q1")
		dg, _ := metricValue(mfs, "oss_quic_datagrams_received_total", "node", "q1")
		joined, _ := metricValue(mfs, "oss_member_events_total", "node", "q1", "kind", "joined")
		members, _ := metricValue(mfs, "oss_members", "node", "q1")
		if conns >= 1 && sent > 0 && dg > 0 && joined >= 1 && members == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("conns %v, bytes sent %v, datagrams received %v, joined events %v, members %v", conns, sent, dg, joined, members)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
