package oss_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// A node that Close has closed reports nothing as running to a caller
// that still polls it: no members (a running node always lists itself),
// no heaps, no replica to ReplicaStats, a Status marked Closed that asks
// nobody, Heap.Stats marked Closed with no leader, and no replica or
// member in its metrics. Until 2026-12-05 it went on reporting what it
// last saw: every member live and each replica's leader in reach.
func TestClosedNodeReportsClosed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		quic bool
	}{{"in-memory", false}, {"QUIC", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := osstest.Start(t, 3, &osstest.Options{QUIC: tc.quic})
			h := c.Heap("n1", "kv")
			c.Heap("n2", "kv")
			c.Heap("n3", "kv")
			c.WaitLeader("kv")
			n := c.Node("n1")
			if _, _, ok := n.ReplicaStats("kv"); !ok {
				t.Fatal("before Close: ReplicaStats of kv not ok")
			}
			if err := n.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkClosedReports(t, n, h)
		})
	}
}

// checkClosedReports checks every status call of a closed node, and the
// Stats of a heap handle it opened.
func checkClosedReports(t *testing.T, n *oss.Node, h *oss.Heap) {
	if ms := n.Members(); len(ms) != 0 {
		t.Errorf("Members of a closed node: %v, want none", ms)
	}
	for _, name := range []string{"kv", "oss:catalog"} {
		if s, _, ok := n.ReplicaStats(name); ok {
			t.Errorf("ReplicaStats(%q) of a closed node: ok, %+v", name, s)
		}
	}
	if hs := n.Heaps(); len(hs) != 0 {
		t.Errorf("Heaps of a closed node: %+v, want none", hs)
	}
	st := n.Status(context.Background())
	if !st.Closed || len(st.Members) != 0 || len(st.Heaps) != 0 || len(st.Unreachable) != 0 {
		t.Errorf("Status of a closed node: %+v, want Closed and nothing gathered", st)
	}
	s := h.Stats()
	if !s.Closed || s.Leader != "" || s.LeaderInReach || len(s.Voters) != 0 || s.Applied == 0 {
		t.Errorf("Stats of a closed heap: %+v, want Closed, no group, Applied kept", s)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(n.Metrics()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "oss_is_leader", "oss_applied_index", "oss_apply_lag_entries":
			t.Errorf("metrics of a closed node: %s has %d series, want none", mf.GetName(), len(mf.GetMetric()))
		case "oss_members":
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 0 {
				t.Errorf("metrics of a closed node: oss_members %v, want 0", v)
			}
		}
	}
}
