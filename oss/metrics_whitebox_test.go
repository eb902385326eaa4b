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

	"go.uber.org/goleak"

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
	t.Cleanup(func() { goleak.VerifyNone(t) })
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
	expect("oss_quic_other_group_total", equal(0), "node", "m1")
	expect("oss_quic_strangers_paced_total", equal(0), "node", "m1")
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

	// A dropped heap's series go, its histograms with them.
	if err := n.DropHeap(ctx, "metrics"); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "the dropped heap's series to go", func() bool {
		mfs := gather(t, n)
		_, commits := metricValue(mfs, "oss_commits_total", hl...)
		_, latency := metricValue(mfs, "oss_commit_duration_seconds", hl...)
		_, ckpt := metricValue(mfs, "oss_checkpoint_duration_seconds", hl...)
		return !commits && !latency && !ckpt
	})
}

// TestMetricsQUICCluster scrapes a three-node cluster on QUIC under a
// commit load: commits rise on the node that commits, the transport's and
// membership's metrics move, every replica reports the group, and a
// killed leader raises the survivors' leader changes and failure events.
func TestMetricsQUICCluster(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "q1", "q2", "q3")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // against a hang
	defer cancel()
	heaps := c.openAll(t, ctx, "load")
	value := func(node, name string, labels ...string) float64 {
		v, _ := metricValue(gather(t, c.nodes[node]), name, append([]string{"node", node}, labels...)...)
		return v
	}
	id := uuid.New()
	// Each commit waits for a leader: one the group lost to an election
	// on a loaded machine, or the one the crash below ends. A try that
	// failed is not counted (commits_total counts what committed).
	commitSome := func(node string, k int) {
		t.Helper()
		for i := range k {
			untilCommitted(t, node+": a commit", heaps[node], func(tx *Tx) error { return Put(tx, id, i) })
		}
	}
	// The leader as of now, and a node that does not lead.
	leaderNow := func() (leader, other string) {
		waitCond(t, "a leader of the heap", func() bool {
			g, ok := c.group("load")
			leader = g.Leader
			return ok
		})
		for name := range c.nodes {
			if name != leader {
				other = name
			}
		}
		return leader, other
	}
	_, survivor := leaderNow()
	before := value(survivor, "oss_commits_total", "heap", "load")
	commitSome(survivor, 20)
	if got := value(survivor, "oss_commits_total", "heap", "load"); got != before+20 {
		t.Errorf("commits_total went from %v to %v after 20 commits", before, got)
	}
	waitCond(t, "every replica to apply the commits and see the group", func() bool {
		for name := range c.nodes {
			mfs := gather(t, c.nodes[name])
			voters, _ := metricValue(mfs, "oss_voters", "heap", "load")
			applied, _ := metricValue(mfs, "oss_applied_index", "heap", "load")
			conns, _ := metricValue(mfs, "oss_quic_connections")
			sent, _ := metricValue(mfs, "oss_quic_sent_bytes_total")
			dgs, _ := metricValue(mfs, "oss_quic_datagrams_received_total")
			members, _ := metricValue(mfs, "oss_members")
			if voters != 3 || applied < 20 || conns < 1 || sent == 0 || dgs == 0 || members != 3 {
				return false
			}
		}
		return true
	})
	// The leader is looked up again, after each node's count of leader
	// changes: placement may have moved the leadership during the commits
	// (seen: to q2, after which q1, a follower, was crashed and no leader
	// change came), and a move after the counts counts too.
	changes := map[string]float64{}
	for name := range c.nodes {
		changes[name] = value(name, "oss_leader_changes_total", "heap", "load")
	}
	leader, survivor := leaderNow()
	c.nodes[leader].stop(context.Background(), false) // a crash
	delete(c.nodes, leader)
	commitSome(survivor, 1) // waits for a new leader
	waitCondWithin(t, detectWithin, "the survivors to count the leader change and the failure", func() bool {
		return value(survivor, "oss_leader_changes_total", "heap", "load") > changes[survivor] &&
			value(survivor, "oss_member_events_total", "kind", "failed") >= 1
	})
}

// TestMetricsMemberlistLogLines checks that the memberlist log lines that
// tell of failures are counted, as memberlist v0.7 words them.
func TestMetricsMemberlistLogLines(t *testing.T) {
	var st memberStats
	w := newSlogWriter(testLogger(), &st)
	for _, line := range []string{
		"[INFO] memberlist: Suspect n2 has failed, no acks received",
		"[ERR] memberlist: Failed fallback TCP ping: n2 timeout 200ms",
		"[WARN] memberlist: Refuting a suspect message (from: n3)",
		"[WARN] memberlist: Refuting a suspect message (from: n2)",
		"[INFO] memberlist: Marking n2 as failed, suspect timeout reached (0 peer confirmations)",
		"[DEBUG] memberlist: Stream connection from=127.0.0.1:7402",
	} {
		if _, err := w.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if st.probeFailures.Load() != 1 || st.fallbackFailed.Load() != 1 || st.refuted.Load() != 2 || st.markedDead.Load() != 1 {
		t.Fatalf("counted %d probe failures, %d fallback failures, %d refuted, %d dead",
			st.probeFailures.Load(), st.fallbackFailed.Load(), st.refuted.Load(), st.markedDead.Load())
	}
}

// TestMetricsRecovery restarts a node on its data directory: its recovery
// time shows, and the store's stripes report their size.
func TestMetricsRecovery(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := func() *Config { return &Config{Name: "r", DataDir: dir, Logger: testLogger()} }
	n, err := Start(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.CreateHeap(ctx, "kept", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Update(ctx, func(tx *Tx) error { return Put(tx, uuid.New(), 1) }); err != nil {
		t.Fatal(err)
	}
	if v, _ := metricValue(gather(t, n), "oss_recovery_duration_seconds"); v != 0 {
		t.Errorf("a new node's recovery took %vs", v)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, err = Start(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	mfs := gather(t, n)
	if v, ok := metricValue(mfs, "oss_recovery_duration_seconds", "node", "r"); !ok || v <= 0 {
		t.Errorf("a restarted node's recovery: %v (%v)", v, ok)
	}
	if _, ok := metricValue(mfs, "oss_store_bytes", "node", "r", "stripe", "0"); !ok {
		t.Error("no store size")
	}
}
