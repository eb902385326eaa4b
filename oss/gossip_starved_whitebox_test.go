package oss

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"go.uber.org/goleak"
)

// starvedGossipFor is how long TestGossipStarvedNoFalseDeaths runs its
// workload on a starved CPU before it kills a node.
const starvedGossipFor = 10 * time.Second

// starvedDetectionBound is how long the survivors may take, on the
// starved CPU, to declare a killed node failed. With GossipLoopback's
// timings (probe every 200 ms, 150 ms probe timeout, suspicion 1.6 s)
// both survivors probe the dead node within 400 ms and declare it dead
// about 2 s after the crash on an idle machine. Awareness may stretch a
// node's probe interval up to 8x (1.6 s) while its own probes fail, and
// the starved scheduler adds its delays; a survivor that stood still
// doubts the verdict and reports it only after a join fails while it ran
// throughout (docs/design.md, Membership under load). With the machine
// loaded besides (load 14-17 on 2 cores) a survivor declared the crash
// after more than the 12 s this bound was, and at load 20 to 28 after
// 2.2 to 14 s in 10 runs, where the cut-off member of
// TestQUICRemovedReplicaRejoins was declared failed after up to 35 s:
// the bound is detectWithin's, against a hang.
const starvedDetectionBound = detectWithin

// memberEventLog records the membership events each node of a cluster
// sees.
type memberEventLog struct {
	mu     sync.Mutex
	killed map[string]time.Time // nodes the test stopped, and when
	false_ []string             // "X declared Y failed" while Y was alive
	failed map[string]map[string]time.Time
}

func (l *memberEventLog) hook(self string) func(memberEvent) {
	return func(e memberEvent) {
		if e.Kind != memberFailed {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, dying := l.killed[self]; dying {
			return // a node being stopped loses its endpoint before its gossip: its view no longer counts
		}
		if _, dead := l.killed[e.Member.Name]; !dead {
			l.false_ = append(l.false_, self+" declared "+e.Member.Name+" failed at "+time.Now().Format("15:04:05.000"))
		}
		if l.failed[e.Member.Name] == nil {
			l.failed[e.Member.Name] = map[string]time.Time{}
		}
		if _, ok := l.failed[e.Member.Name][self]; !ok {
			l.failed[e.Member.Name][self] = time.Now()
		}
	}
}

// A 3-node QUIC cluster on a starved CPU (one P shared with busy
// goroutines, the race detector's cost on top) under a commit workload:
// nodes that are alive and answering are never declared failed, however
// often a late ack makes one suspect another; and a node really killed is
// still declared failed by both survivors within starvedDetectionBound.
func TestGossipStarvedNoFalseDeaths(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	log := &memberEventLog{killed: map[string]time.Time{}, failed: map[string]map[string]time.Time{}}
	c := newQUICClusterWith(t, 20*time.Millisecond, func(cfg *Config) {
		cfg.onMemberEvent = log.hook(cfg.Name)
	}, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline) // against a hang
	defer cancel()
	heaps := c.openAll(t, ctx, "bank")
	tc := c.asTest(heaps)
	ids := seedBank(t, heaps["a"])

	starveCPU(t)
	// Four clients per node, on top of starveCPU's busy goroutines.
	var dones []func() int
	for range 4 {
		dones = append(dones, tc.transfers(ids, make(chan struct{})))
	}
	start := time.Now()
	committed := func() (n uint64) {
		for _, h := range heaps {
			n += h.Stats().Commits
		}
		return n
	}
	before := committed()
	time.Sleep(starvedGossipFor) // the workload's length, not a wait for a condition
	// On a machine that gives the process a few percent of a processor
	// the 10 s passed without one commit: the workload runs on until one
	// has, so that the crash below comes under load.
	waitCond(t, "a transfer to commit", func() bool { return committed() > before })

	// A real crash is still detected.
	const victim = "c"
	log.mu.Lock()
	log.killed[victim] = time.Now()
	log.mu.Unlock()
	killedAt := time.Now()
	c.nodes[victim].stop(context.Background(), false)
	delete(c.nodes, victim)
	detected := time.Duration(-1)
	deadline := killedAt.Add(starvedDetectionBound)
	for time.Now().Before(deadline) {
		log.mu.Lock()
		n := len(log.failed[victim])
		log.mu.Unlock()
		if n == len(c.nodes) {
			detected = time.Since(killedAt)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	commits := 0
	for _, done := range dones {
		commits += done()
	}
	elapsed := time.Since(start)

	var probeF, fallbackF, refuted, falseS, dead, rttN, rttSum, rttMax int64
	for _, n := range c.nodes {
		s := &n.members.stats
		probeF += int64(s.probeFailures.Load())
		fallbackF += int64(s.fallbackFailed.Load())
		refuted += int64(s.refuted.Load())
		falseS += int64(s.falseSuspicions.Load())
		dead += int64(s.markedDead.Load())
		rttN += s.rttCount.Load()
		rttSum += s.rttSum.Load()
		rttMax = max(rttMax, s.rttMax.Load())
	}
	var meanRTT time.Duration
	if rttN > 0 {
		meanRTT = time.Duration(rttSum / rttN)
	}
	t.Logf("starved %v: %d commits; survivors: %d probe failures (suspicions), %d fallback ping failures, %d refuted, %d false suspicions, %d declared dead; probe RTT mean %v max %v over %d acks",
		elapsed.Round(time.Millisecond), commits, probeF, fallbackF, refuted, falseS, dead, meanRTT.Round(time.Microsecond), time.Duration(rttMax).Round(time.Microsecond), rttN)

	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.false_) > 0 {
		t.Errorf("%d live members declared failed: %v", len(log.false_), log.false_)
	}
	if detected < 0 {
		after := map[string]time.Duration{}
		for name, at := range log.failed[victim] {
			after[name] = at.Sub(killedAt).Round(time.Millisecond)
		}
		t.Errorf("killed node %s not declared failed by every survivor within %v: declared by %v after the kill", victim, starvedDetectionBound, after)
	} else {
		t.Logf("killed node %s at %s, declared failed by every survivor after %v", victim, killedAt.Format("15:04:05.000"), detected.Round(time.Millisecond))
	}
	if commits == 0 {
		t.Error("no transfer committed")
	}
}

// A suspicion this node raised is false when the member then answers a
// probe before this node declares it dead; one that ends in a declared
// death, or a member leaving, is not counted.
func TestSuspectFalseSuspicionsCounted(t *testing.T) {
	var s memberStats
	s.count([]byte("[INFO] memberlist: Suspect b has failed, no acks received"))
	s.count([]byte("[INFO] memberlist: Suspect c has failed, no acks received"))
	s.count([]byte("[INFO] memberlist: Suspect d has failed, no acks received"))
	s.answered("a", time.Millisecond) // not suspected
	s.answered("b", 90*time.Millisecond)
	s.answered("b", time.Millisecond) // counted once
	s.count([]byte("[INFO] memberlist: Marking c as failed, suspect timeout reached (0 peer confirmations)"))
	s.answered("c", time.Millisecond) // back after a declared death: not a suspicion that cleared
	if got := s.falseSuspicions.Load(); got != 1 {
		t.Errorf("false suspicions = %d, want 1", got)
	}
	if got := s.probeFailures.Load(); got != 3 {
		t.Errorf("probe failures = %d, want 3", got)
	}
	if got := s.markedDead.Load(); got != 1 {
		t.Errorf("declared dead = %d, want 1", got)
	}
	if n, sum, mx := s.rttCount.Load(), s.rttSum.Load(), s.rttMax.Load(); n != 4 || time.Duration(sum) != 93*time.Millisecond || time.Duration(mx) != 90*time.Millisecond {
		t.Errorf("rtt count %d sum %v max %v", n, time.Duration(sum), time.Duration(mx))
	}
}
