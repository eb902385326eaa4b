package oss

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// A node killed and started again empty (a new raft ID under its old
// name) whose catalog replica the leader removes while Start waits for it
// to catch up, the removal never reaching it, finds out and joins again:
// Start returns once the replica is back and caught up, and does not wait
// its whole context for a leader that no longer sends it anything. The
// returning node is cut off from the moment its replica applied a
// configuration holding it (before its read index is answered) until the
// catalog's leader has removed it (membership follows the cut, so the
// leader counts it down after ReplaceAfter).
func TestReturningNodeRemovedWhileCatchingUpJoinsAgain(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d"}
	c := startTestNodes(t, 97, names...)
	// The node placement does not want in the catalog (three voters of
	// four servers): nothing but its own join takes it back.
	var v string
	var others []string
	for _, name := range names {
		if v == "" && !slices.Contains(c.placement(catalogName, catalogReplicas), name) {
			v = name
		} else {
			others = append(others, name)
		}
	}
	oldID := c.nodes[v].id
	c.kill(v)
	waitCond(t, "the killed node's catalog replica removed", func() bool {
		cs, ok := c.catalogConf()
		return ok && !inConfState(cs, oldID)
	})

	var cat atomic.Pointer[Heap]
	var cut, healed atomic.Bool
	cutc := make(chan struct{})
	c.wrapHandler = func(name string, h transport.Handler) transport.Handler {
		if name != v {
			return h
		}
		return &cutOnceInConf{Handler: h, cat: &cat, cut: &cut, healed: &healed, cutc: cutc}
	}
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	started := make(chan error, 1)
	var n *Node
	go func() {
		var err error
		n, err = Start(ctx, &Config{Name: v, Transport: testNet{c.net, c}, Join: others[:1], JoinRetry: true,
			TickInterval: c.nodes[others[0]].cfg.TickInterval, ReplaceAfter: c.nodes[others[0]].cfg.ReplaceAfter, Logger: testLogger(),
			catalogStep: func(step string, h *Heap) {
				if step == "join" {
					cat.Store(h)
				}
			}})
		started <- err
	}()
	await.Recv(t, cutc, "the returning node's catalog replica in the configuration")
	h := cat.Load()
	c.followPartitions()
	c.net.Partition([]string{v}, others)
	waitCond(t, "the returning node's catalog replica removed", func() bool {
		cs, ok := c.catalogConf()
		return ok && !inConfState(cs, h.self)
	})
	if !h.inConf.Load() {
		t.Fatal("the returning node applied its removal: it was to miss it")
	}
	healed.Store(true)
	c.net.Heal()
	if err := await.Recv(t, started, "Start"); err != nil {
		t.Fatalf("Start of the returning node: %v", err)
	}
	defer n.Close(context.Background())
	if st := h.Stats(); st.Rejoins == 0 {
		t.Errorf("the returning node's catalog replica never found it was removed: %+v", st)
	}
	cs, ok := c.catalogConf()
	if !ok || !inConfState(cs, h.self) {
		t.Errorf("the returning node's catalog replica is not back in the configuration: %+v", cs)
	}
}

// The path suspected of a returning node that found no catalog leader
// for minutes, driven on purpose: the catalog's leader records a learner's
// name under another raft ID (its record lags), so placement leaves the
// learner out of the live servers, and the learner, cut off from sending
// anything, is silent to the leader for ReplaceAfter: the leader removes
// it as a gone client (DropSilent). Once it can send again it finds no
// leader, joins again, and its join moves the record back to its raft ID:
// it is back in the configuration, hearing its leader, with a record of
// its own, and is not removed again.
func TestCatalogLearnerWhoseRecordLagsDroppedWhenSilentJoinsAgain(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d"}
	c := startTestNodes(t, 98, names...)
	voters := c.placement(catalogName, catalogReplicas)
	waitCond(t, "the catalog's voters at their placement", func() bool { return c.settled(catalogName, voters...) })
	var l string
	for _, name := range names {
		if !slices.Contains(voters, name) {
			l = name
		}
	}
	n := c.nodes[l]
	lagRecord(t, c, l)
	waitCond(t, "the catalog's leader to record "+l+" under another raft ID", func() bool {
		lead := c.catalogLeader()
		return lead != nil && lags(lead.node, l, n.id)
	})
	var out [][2]string
	for _, name := range names {
		if name != l {
			out = append(out, [2]string{l, name})
		}
	}
	c.net.CutOneWay(out...)
	waitCond(t, "the silent learner removed", func() bool {
		cs, ok := c.catalogConf()
		return ok && !inConfState(cs, n.id)
	})
	c.net.Heal()
	h := n.catalog.Load()
	waitCond(t, l+" back in the catalog, hearing its leader, under its own record", func() bool {
		cs, ok := c.catalogConf()
		lead := c.catalogLeader()
		return ok && inConfState(cs, n.id) && lead != nil && !lags(lead.node, l, n.id) && h.current()
	})
	if st := h.Stats(); st.Rejoins == 0 {
		t.Errorf("%s's catalog replica never found it was removed: %+v", l, st)
	}
}

// cutOnceInConf drops what reaches a node from the moment its catalog
// replica (cat, once Start opened it) applied a configuration holding it
// until healed; cutc is closed when that begins.
type cutOnceInConf struct {
	transport.Handler
	cat         *atomic.Pointer[Heap]
	cut, healed *atomic.Bool
	cutc        chan struct{}
}

func (w *cutOnceInConf) dropping() bool {
	if w.healed.Load() {
		return false
	}
	if h := w.cat.Load(); h != nil && h.inConf.Load() && w.cut.CompareAndSwap(false, true) {
		close(w.cutc)
	}
	return w.cut.Load()
}

func (w *cutOnceInConf) HandleMessage(from string, msg []byte) {
	if !w.dropping() {
		w.Handler.HandleMessage(from, msg)
	}
}

func (w *cutOnceInConf) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	if w.dropping() {
		return errors.New("cut off")
	}
	return w.Handler.HandleStream(ctx, from, header, body)
}

// catalogConf returns the catalog's configuration as the live node that
// leads it with the highest term applied it.
func (c *testCluster) catalogConf() (cs raftConf, ok bool) {
	var term uint64
	for _, n := range c.nodes {
		h := n.catalog.Load()
		if h == nil || !h.leaderIs(h.self) {
			continue
		}
		if p := h.conf.Load(); p != nil && (!ok || h.term.Load() > term) {
			cs, ok, term = raftConf{p.Voters, p.Learners, p.VotersOutgoing, p.LearnersNext}, true, h.term.Load()
		}
	}
	return cs, ok
}

// raftConf is a configuration's members.
type raftConf struct{ voters, learners, outgoing, next []uint64 }

func inConfState(cs raftConf, id uint64) bool {
	return slices.Contains(cs.voters, id) || slices.Contains(cs.learners, id) || slices.Contains(cs.outgoing, id) || slices.Contains(cs.next, id)
}
