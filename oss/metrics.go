package oss

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics. Almost everything is read when a scrape asks: the counters a
// heap keeps (Heap.Stats), its group's state, the write-ahead log's, the
// store's, membership's and QUIC's counters. Only what must be observed
// as it happens is observed then, in histograms: a commit's latency (two
// clock reads and an atomic bucket increment per commit), a WAL fsync's
// and a checkpoint's. docs/design.md lists every metric; a test keeps the
// list and metricDefs equal.

// metricDef is one metric: its name, type, help and labels.
type metricDef struct {
	name, typ, help string
	labels          []string
	desc            *prometheus.Desc // nil for histograms, which own theirs
}

// metricDefs lists every metric the collector emits, in the order the
// docs list them.
var metricDefs []*metricDef

func defMetric(name, typ, help string, labels ...string) *metricDef {
	d := &metricDef{name: name, typ: typ, help: help, labels: labels}
	if typ != "histogram" {
		d.desc = prometheus.NewDesc(name, help, labels, nil)
	}
	metricDefs = append(metricDefs, d)
	return d
}

var (
	hl = []string{"heap", "node"} // per heap
	nl = []string{"node"}         // per node

	mCommits   = defMetric("oss_commits_total", "counter", "Transactions of this node that committed.", hl...)
	mConflicts = defMetric("oss_conflicts_total", "counter", "Commit attempts of this node that conflicted.", hl...)
	mRetries   = defMetric("oss_retries_total", "counter", "Re-runs of Update functions after a conflict or a stale read.", hl...)
	mUnknown   = defMetric("oss_commit_unknown_total", "counter", "Commits of this node whose outcome was not learned (ErrCommitUnknown).", hl...)
	mChecks    = defMetric("oss_update_checks_total", "counter", "Errors of Update functions checked against the group's commit index.", hl...)
	mWaits     = defMetric("oss_update_waits_total", "counter", "Update functions that returned ErrRetry and waited for a change.", hl...)
	mCommitDur = defMetric("oss_commit_duration_seconds", "histogram", "Time from handing a commit record to the heap's log to its decision, for this node's transactions.", hl...)
	mHotConfl  = defMetric("oss_hot_conflicts", "gauge", "Decayed count of conflicts (half-life one minute) on the heap's hottest object, root or scan, as Heap.Hot reports it.", hl...)
	mApplied   = defMetric("oss_applied_index", "gauge", "Index of the last log entry the local replica applied.", hl...)
	mLdrCommit = defMetric("oss_leader_commit_index", "gauge", "The group's commit index as the replica last heard it from its leader.", hl...)
	mLag       = defMetric("oss_apply_lag_entries", "gauge", "Entries the replica knows committed but has not applied: leader commit index minus applied index.", hl...)
	mContact   = defMetric("oss_leader_contact_age_seconds", "gauge", "Time since the replica last heard from its group's leader (0 if it leads; absent if it never heard one, or was removed as a learner no application used).", hl...)
	mObjects   = defMetric("oss_objects", "gauge", "Objects in the local replica.", hl...)
	mTerm      = defMetric("oss_raft_term", "gauge", "The replica's raft term.", hl...)
	mSlowdown  = defMetric("oss_raft_election_slowdown", "gauge", "Ticks per tick of the replica's raft clock: 1, or 2 or 4 while answers to its campaigns come late (elections, heartbeats and failure detection that many times slower).", hl...)
	mSlowdowns = defMetric("oss_raft_election_slowdowns_total", "counter", "Doublings of the replica's raft clock for answers to its campaigns that came late.", hl...)
	mLeader    = defMetric("oss_is_leader", "gauge", "1 if the local replica leads its group, else 0.", hl...)
	mLdrChange = defMetric("oss_leader_changes_total", "counter", "Changes of the group's leader the local replica saw (a new leader, or none).", hl...)
	mVoters    = defMetric("oss_voters", "gauge", "Voters in the group's configuration as the replica sees it.", hl...)
	mLearners  = defMetric("oss_learners", "gauge", "Learners in the group's configuration as the replica sees it.", hl...)
	mLostRep   = defMetric("oss_replica_lost", "gauge", "1 if the local replica was lost while the node ran (its log lost what it acknowledged, or it could not apply what its leader sent), else 0; a lost replica of oss:catalog leaves the node damaged until it is rebuilt (ossd run --rebuild-replica --join).", hl...)
	mRejoins   = defMetric("oss_rejoins_total", "counter", "Times the replica found its group had removed it and asked to be taken back.", hl...)
	mSnapSent  = defMetric("oss_snapshots_sent_total", "counter", "Snapshots this replica streamed to peers, failed ones included.", hl...)
	mSnapFail  = defMetric("oss_snapshots_send_failed_total", "counter", "Snapshots to peers whose stream failed.", hl...)
	mSnapSentB = defMetric("oss_snapshot_sent_bytes_total", "counter", "Bytes of snapshots streamed to peers.", hl...)
	mSnapRecv  = defMetric("oss_snapshots_received_total", "counter", "Snapshots received from the group's leader and handed to the replica.", hl...)
	mSnapRecvB = defMetric("oss_snapshot_received_bytes_total", "counter", "Bytes of snapshots received from the group's leader.", hl...)
	mSnapApply = defMetric("oss_snapshots_applied_total", "counter", "Snapshots from a leader that replaced the local replica's state.", hl...)
	mWatchers  = defMetric("oss_watch_consumers", "gauge", "Open watches on the heap on this node.", hl...)
	mWatchQ    = defMetric("oss_watch_queued_events", "gauge", "Events queued for watch consumers, all watches together.", hl...)
	mWatchQB   = defMetric("oss_watch_queued_bytes", "gauge", "Bytes of the events queued for watch consumers, all watches together.", hl...)
	mWatchLag  = defMetric("oss_watch_lag_entries", "gauge", "How far the slowest watch consumer trails: applied index minus the index of the last event it took, for a watch with events waiting.", hl...)
	mResyncs   = defMetric("oss_watch_resyncs_total", "counter", "Resync events handed to watch consumers that fell behind their buffer, whose history was gone, or whose replica caught up from a leader's snapshot.", hl...)
	mCkptDur   = defMetric("oss_checkpoint_duration_seconds", "histogram", "Time a checkpoint of the heap to the striped store took.", hl...)

	mFsyncDur   = defMetric("oss_wal_fsync_duration_seconds", "histogram", "Time an fsync of the write-ahead log took.", nl...)
	mWALWritten = defMetric("oss_wal_written_bytes_total", "counter", "Bytes written to the write-ahead log, the zeros it fills ahead of its records included.", nl...)
	mWALAppends = defMetric("oss_wal_appends_total", "counter", "Appends to the write-ahead log acknowledged.", nl...)
	mWALRecords = defMetric("oss_wal_records_total", "counter", "Records written to the write-ahead log.", nl...)
	mWALFailed  = defMetric("oss_wal_failed", "gauge", "1 if the node's write-ahead log has stopped (its segment gone while the node ran, or a sync it cannot mend): the node commits nothing more and its replicas lead nothing, until it is restarted or rebuilt; else 0.", nl...)
	mDiskOldest = defMetric("oss_disk_oldest_op_seconds", "gauge", "How long the oldest file operation of the data directory under way (a write, a sync, an open, a rename...) has been; 0 if none is.", nl...)
	mDiskStall  = defMetric("oss_disk_stalled", "gauge", "1 while a file operation of the data directory has been under way for DiskStallAfter (5 s) or longer without returning (Node.DiskStalled names it and its file), else 0.", nl...)
	mRecovery   = defMetric("oss_recovery_duration_seconds", "gauge", "Time the node took at start to replay its log, load its store and reopen its replicas (0 if it had nothing to recover).", nl...)
	mStoreBytes = defMetric("oss_store_bytes", "gauge", "Size of a stripe of the striped store.", "node", "stripe")
	mStoreGarb  = defMetric("oss_store_garbage_bytes", "gauge", "Bytes of a stripe held by overwritten or deleted objects, which compaction reclaims (absent until the store has indexed its stripes).", "node", "stripe")
	mStripeCk   = defMetric("oss_checkpoint_stripe_writes_total", "counter", "Checkpoints that wrote to a stripe.", "node", "stripe")
	mStripeCkB  = defMetric("oss_checkpoint_stripe_written_bytes_total", "counter", "Bytes checkpoints wrote to a stripe.", "node", "stripe")
	mStripeCkS  = defMetric("oss_checkpoint_stripe_seconds_total", "counter", "Time a stripe spent writing and syncing checkpoints.", "node", "stripe")
	mMembers    = defMetric("oss_members", "gauge", "Live members of the cluster as this node's membership sees them, itself included.", nl...)
	mMemberEv   = defMetric("oss_member_events_total", "counter", "Membership events this node saw, by kind (joined, left, failed, updated).", "node", "kind")
	mMLHealth   = defMetric("oss_memberlist_health_score", "gauge", "memberlist's awareness score: 0 is healthy; it rises as this node's own probes fail or it must refute suspicions.", nl...)
	mMLProbeF   = defMetric("oss_memberlist_probe_failures_total", "counter", "Probes of a member that got no ack, making it suspect.", nl...)
	mMLFallback = defMetric("oss_memberlist_fallback_ping_failures_total", "counter", "Fallback stream pings after a failed probe that failed too.", nl...)
	mMLRefuted  = defMetric("oss_memberlist_refuted_suspicions_total", "counter", "Suspicions of this node that it refuted: others thought it failed while it was alive.", nl...)
	mMLFalseS   = defMetric("oss_memberlist_false_suspicions_total", "counter", "Members this node suspected (a probe got no ack) that then answered a probe before it declared them dead: suspicions that were false.", nl...)
	mMLDead     = defMetric("oss_memberlist_members_declared_dead_total", "counter", "Members this node declared failed after their suspicion timed out.", nl...)
	mQConns     = defMetric("oss_quic_connections", "gauge", "Open QUIC connections.", nl...)
	mQSentB     = defMetric("oss_quic_sent_bytes_total", "counter", "Bytes of QUIC packets sent, retransmissions included.", nl...)
	mQRecvB     = defMetric("oss_quic_received_bytes_total", "counter", "Bytes of QUIC packets received.", nl...)
	mQSentP     = defMetric("oss_quic_sent_packets_total", "counter", "QUIC packets sent.", nl...)
	mQRecvP     = defMetric("oss_quic_received_packets_total", "counter", "QUIC packets received.", nl...)
	mQLost      = defMetric("oss_quic_lost_packets", "gauge", "QUIC packets declared lost (quic-go may take a loss back, so this can fall).", nl...)
	mQDgSent    = defMetric("oss_quic_datagrams_sent_total", "counter", "QUIC datagrams (membership gossip) sent.", nl...)
	mQDgRecv    = defMetric("oss_quic_datagrams_received_total", "counter", "QUIC datagrams received and delivered.", nl...)
	mQDgDrop    = defMetric("oss_quic_datagrams_dropped_total", "counter", "QUIC datagrams dropped on arrival because the receiver was behind.", nl...)
	mQOther     = defMetric("oss_quic_other_group_total", "counter", "QUIC datagrams and streams refused because their peer is of another cluster.", nl...)
	mQPaced     = defMetric("oss_quic_strangers_paced_total", "counter", "QUIC Initial packets (not handshakes: a handshake may send two or more) refused before any cryptography: their address presented certificates no CA of the cluster signed, past its pace.", nl...)
)

// Histogram buckets: commits take tens of microseconds in memory and up
// to seconds on a slow disk or an election; fsyncs from tens of
// microseconds; checkpoints from a millisecond to minutes.
var (
	latencyBuckets    = prometheus.ExponentialBuckets(25e-6, 2, 18) // 25µs … 3.3s
	checkpointBuckets = prometheus.ExponentialBuckets(1e-3, 2.5, 14)
)

// nodeMetrics are a node's histograms and the counters observed as
// things happen.
type nodeMetrics struct {
	commit     *prometheus.HistogramVec
	checkpoint *prometheus.HistogramVec
	fsync      prometheus.Histogram
	walWritten atomic.Uint64
	recovery   atomic.Int64 // nanoseconds
}

func newNodeMetrics(node string) *nodeMetrics {
	cl := prometheus.Labels{"node": node}
	return &nodeMetrics{
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: mCommitDur.name, Help: mCommitDur.help, Buckets: latencyBuckets, ConstLabels: cl,
		}, []string{"heap"}),
		checkpoint: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: mCkptDur.name, Help: mCkptDur.help, Buckets: checkpointBuckets, ConstLabels: cl,
		}, []string{"heap"}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: mFsyncDur.name, Help: mFsyncDur.help, Buckets: latencyBuckets, ConstLabels: cl,
		}),
	}
}

// heapObservers are a heap's histograms, looked up once when it opens.
type heapObservers struct {
	commit, checkpoint prometheus.Observer
}

// noObserver discards observations: the observers of a heap without a
// node's metrics (whitebox tests).
type noObserver struct{}

func (noObserver) Observe(float64) {}

func (m *nodeMetrics) observers(heap string) heapObservers {
	if m == nil {
		return heapObservers{noObserver{}, noObserver{}}
	}
	return heapObservers{m.commit.WithLabelValues(heap), m.checkpoint.WithLabelValues(heap)}
}

// walFS returns fsys with the log's bytes counted and its fsyncs timed.
func (m *nodeMetrics) walFS(fsys persist.FS) persist.FS {
	if m == nil {
		return fsys
	}
	return walFS{fsys, m}
}

// recovered adds d to the node's recovery time.
func (m *nodeMetrics) recovered(d time.Duration) {
	if m != nil {
		m.recovery.Add(int64(d))
	}
}

// forget drops a dropped heap's histograms.
func (m *nodeMetrics) forget(heap string) {
	if m != nil {
		m.commit.DeleteLabelValues(heap)
		m.checkpoint.DeleteLabelValues(heap)
	}
}

// snapStats count a heap's snapshot transfers.
type snapStats struct {
	sent, sendFailed, sentBytes atomic.Uint64
	received, receivedBytes     atomic.Uint64
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Uint64
}

func (c countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n.Add(uint64(k))
	return k, err
}

// Metrics returns a Prometheus collector of the node's metrics, for an
// application that embeds OSS to register in its own registry:
//
//	reg.MustRegister(node.Metrics())
//
// Per heap replica on this node (labels heap and node): commits,
// conflicts, retries, unknown outcomes and commit latency of this node's
// transactions; the replica's applied index, apply lag, term, leadership,
// leader changes and group; snapshots sent and received; watch consumers,
// their queues, lag and resyncs; checkpoint duration. Per node (label
// node): WAL fsync latency and bytes, recovery time, the striped store's
// size, garbage and checkpoint writes per stripe, membership events and
// failures, and QUIC connections, bytes, packets and datagrams. All but
// the histograms are read from the node's counters when the collector is
// collected: registering it costs nothing between scrapes. docs/design.md
// lists every metric with its help text.
func (n *Node) Metrics() prometheus.Collector { return nodeCollector{n} }

type nodeCollector struct{ n *Node }

// Describe implements prometheus.Collector.
func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range metricDefs {
		if d.desc != nil {
			ch <- d.desc
		}
	}
	if m := c.n.met; m != nil {
		m.commit.Describe(ch)
		m.checkpoint.Describe(ch)
		m.fsync.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	e := emitter(ch)
	now := time.Now()
	closed := n.isClosed() // keeps no replica, is no member (Node.Close)
	if !closed {
		for _, h := range n.replicas() {
			e.heap(h, n.cfg.Name, now)
		}
	}
	if m := n.met; m != nil {
		m.commit.Collect(ch)
		m.checkpoint.Collect(ch)
	}
	if d := n.disk; d != nil {
		e.disk(d, n.met, n.cfg.Name)
	}
	if n.diskOps != nil {
		age, stalled := n.oldestDiskOp()
		e.emit(mDiskOldest, age.Seconds(), n.cfg.Name)
		e.emit(mDiskStall, b2f(stalled), n.cfg.Name)
	}
	if mb := n.members; mb != nil {
		e.members(mb, n.cfg.Name, closed)
	}
	if q := n.quic; q != nil {
		e.quic(q, n.cfg.Name)
	}
}

// emitter sends a collection's metrics.
type emitter chan<- prometheus.Metric

// emit sends d's value v, with labels.
func (e emitter) emit(d *metricDef, v float64, labels ...string) {
	t := prometheus.GaugeValue
	if d.typ == "counter" {
		t = prometheus.CounterValue
	}
	e <- prometheus.MustNewConstMetric(d.desc, t, v, labels...)
}

// heap emits the metrics of h, a replica on node, read at now.
func (e emitter) heap(h *Heap, node string, now time.Time) {
	s := h.Stats()
	l := []string{h.name, node}
	e.emit(mCommits, float64(s.Commits), l...)
	e.emit(mConflicts, float64(s.Conflicts), l...)
	e.emit(mRetries, float64(s.Retries), l...)
	e.emit(mUnknown, float64(s.Unknown), l...)
	e.emit(mChecks, float64(s.Checks), l...)
	e.emit(mWaits, float64(s.Waits), l...)
	var hot float64
	if top := h.hot.snapshot(now, nil); len(top) > 0 {
		hot = top[0].Lately
	}
	e.emit(mHotConfl, hot, l...)
	e.emit(mApplied, float64(s.Applied), l...)
	e.emit(mLdrCommit, float64(s.LeaderCommit), l...)
	e.emit(mLag, float64(s.Lag), l...)
	leads := 0.0
	if h.leaderIs(h.self) {
		leads = 1
	}
	switch {
	case leads == 1:
		e.emit(mContact, 0, l...)
	case h.givenUp():
		// Removed as a learner no application used: it follows no
		// leader by design, and an age that grows would look like a
		// replica cut off (unused.go).
	case !s.LeaderContact.IsZero():
		e.emit(mContact, max(now.Sub(s.LeaderContact).Seconds(), 0), l...)
	}
	e.emit(mObjects, float64(s.Objects), l...)
	e.emit(mTerm, float64(s.Term), l...)
	e.emit(mSlowdown, float64(s.ElectionSlowdown), l...)
	e.emit(mSlowdowns, float64(s.ElectionSlowdowns), l...)
	e.emit(mLeader, leads, l...)
	e.emit(mLdrChange, float64(h.leaderChanges.Load()), l...)
	e.emit(mVoters, float64(len(s.Voters)), l...)
	e.emit(mLearners, float64(len(s.Learners)), l...)
	e.emit(mRejoins, float64(s.Rejoins), l...)
	if h.lostErr() != nil {
		e.emit(mLostRep, 1, l...)
	} else {
		e.emit(mLostRep, 0, l...)
	}
	e.emit(mSnapSent, float64(h.snapStats.sent.Load()), l...)
	e.emit(mSnapFail, float64(h.snapStats.sendFailed.Load()), l...)
	e.emit(mSnapSentB, float64(h.snapStats.sentBytes.Load()), l...)
	e.emit(mSnapRecv, float64(h.snapStats.received.Load()), l...)
	e.emit(mSnapRecvB, float64(h.snapStats.receivedBytes.Load()), l...)
	e.emit(mSnapApply, float64(h.snapshots.Load()), l...)
	ws := h.watchStats(s.Applied)
	e.emit(mWatchers, float64(ws.consumers), l...)
	e.emit(mWatchQ, float64(ws.queued), l...)
	e.emit(mWatchQB, float64(ws.bytes), l...)
	e.emit(mWatchLag, float64(ws.lag), l...)
	e.emit(mResyncs, float64(s.Resyncs), l...)
}

// disk emits the metrics of node's log and striped store, and of its
// fsyncs if m is not nil.
func (e emitter) disk(d *disk, m *nodeMetrics, node string) {
	if m != nil {
		m.fsync.Collect(e)
		e.emit(mWALWritten, float64(m.walWritten.Load()), node)
		e.emit(mRecovery, time.Duration(m.recovery.Load()).Seconds(), node)
	}
	ws := d.wal.Stats()
	e.emit(mWALAppends, float64(ws.Appends), node)
	e.emit(mWALRecords, float64(ws.Records), node)
	failed := 0.0
	if d.wal.Failed() != nil {
		failed = 1
	}
	e.emit(mWALFailed, failed, node)
	for i, st := range d.store.Stats() {
		stripe := fmt.Sprint(i)
		e.emit(mStoreBytes, float64(st.Bytes), node, stripe)
		if st.Indexed {
			e.emit(mStoreGarb, float64(max(st.Bytes-st.Live, 0)), node, stripe)
		}
		e.emit(mStripeCk, float64(st.Checkpoints), node, stripe)
		e.emit(mStripeCkB, float64(st.CheckpointBytes), node, stripe)
		e.emit(mStripeCkS, st.CheckpointTime.Seconds(), node, stripe)
	}
}

// members emits the metrics of node's membership; a closed node counts no
// live member.
func (e emitter) members(mb *membership, node string, closed bool) {
	live := len(mb.live())
	if closed {
		live = 0
	}
	e.emit(mMembers, float64(live), node)
	for k := memberJoined; k <= memberUpdated; k++ {
		e.emit(mMemberEv, float64(mb.stats.events[k].Load()), node, k.String())
	}
	if mb.ml != nil {
		e.emit(mMLHealth, float64(mb.ml.GetHealthScore()), node)
	}
	e.emit(mMLProbeF, float64(mb.stats.probeFailures.Load()), node)
	e.emit(mMLFallback, float64(mb.stats.fallbackFailed.Load()), node)
	e.emit(mMLRefuted, float64(mb.stats.refuted.Load()), node)
	e.emit(mMLFalseS, float64(mb.stats.falseSuspicions.Load()), node)
	e.emit(mMLDead, float64(mb.stats.markedDead.Load()), node)
}

// quic emits the metrics of node's QUIC endpoint.
func (e emitter) quic(q *transport.QUIC, node string) {
	qs := q.Stats()
	e.emit(mQConns, float64(qs.Conns), node)
	e.emit(mQSentB, float64(qs.BytesSent), node)
	e.emit(mQRecvB, float64(qs.BytesReceived), node)
	e.emit(mQSentP, float64(qs.PacketsSent), node)
	e.emit(mQRecvP, float64(qs.PacketsReceived), node)
	e.emit(mQLost, float64(qs.PacketsLost), node)
	e.emit(mQDgSent, float64(qs.DatagramsSent), node)
	e.emit(mQDgRecv, float64(qs.DatagramsReceived), node)
	e.emit(mQDgDrop, float64(qs.DatagramsDropped), node)
	e.emit(mQOther, float64(qs.OtherGroup), node)
	e.emit(mQPaced, float64(qs.StrangersPaced), node)
}

// replicas returns the node's open replicas, the catalog's first.
func (n *Node) replicas() []*Heap {
	n.mu.Lock()
	defer n.mu.Unlock()
	hs := make([]*Heap, 0, len(n.heaps)+1)
	if c := n.catalog.Load(); c != nil {
		hs = append(hs, c)
	}
	for _, h := range n.heaps {
		hs = append(hs, h)
	}
	return hs
}

// watchStats sum up a heap's watches.
type watchStats struct {
	consumers, queued, bytes int
	lag                      uint64
}

func (h *Heap) watchStats(applied uint64) watchStats {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	ws := watchStats{consumers: len(h.watchers)}
	for w := range h.watchers {
		w.mu.Lock()
		ws.queued += len(w.queue)
		if w.pending != nil {
			ws.queued++
		}
		ws.bytes += w.queueBytes
		if (len(w.queue) > 0 || w.pending != nil || w.overflow) && applied > w.took {
			ws.lag = max(ws.lag, applied-w.took)
		}
		w.mu.Unlock()
	}
	return ws
}

// walFS counts the write-ahead log's bytes and times its fsyncs.
type walFS struct {
	persist.FS
	m *nodeMetrics
}

func (f walFS) Create(name string) (persist.File, error) {
	file, err := f.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return walFile{file, f.m}, nil
}

func (f walFS) OpenAppend(name string) (persist.File, error) {
	file, err := f.FS.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return walFile{file, f.m}, nil
}

func (f walFS) OpenWrite(name string) (persist.File, error) {
	file, err := f.FS.OpenWrite(name)
	if err != nil {
		return nil, err
	}
	return walFile{file, f.m}, nil
}

type walFile struct {
	persist.File
	m *nodeMetrics
}

func (f walFile) Write(p []byte) (int, error) {
	k, err := f.File.Write(p)
	f.m.walWritten.Add(uint64(k))
	return k, err
}

func (f walFile) WriteAt(p []byte, off int64) (int, error) {
	k, err := f.File.WriteAt(p, off)
	f.m.walWritten.Add(uint64(k))
	return k, err
}

// SyncOffPath syncs without holding a processor where the file can.
func (f walFile) SyncOffPath() error {
	s, ok := f.File.(interface{ SyncOffPath() error })
	if !ok {
		return f.Sync()
	}
	start := time.Now()
	err := s.SyncOffPath()
	f.m.fsync.Observe(time.Since(start).Seconds())
	return err
}

// Linked and Named pass the log's check that its segment is still where
// it was opened (persist.PlacedFile) to the file; a file that cannot tell
// is taken as in place.
func (f walFile) Linked() (bool, error) {
	if p, ok := f.File.(persist.PlacedFile); ok {
		return p.Linked()
	}
	return true, nil
}

func (f walFile) Named(name string) (bool, error) {
	if p, ok := f.File.(persist.PlacedFile); ok {
		return p.Named(name)
	}
	return true, nil
}

func (f walFile) Sync() error {
	start := time.Now()
	err := f.File.Sync()
	f.m.fsync.Observe(time.Since(start).Seconds())
	return err
}

// b2f is 1 for true, 0 for false.
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
