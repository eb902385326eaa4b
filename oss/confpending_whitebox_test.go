package oss

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
)

// holding drops raft messages of one heap: its appends' answers while
// acks is set, and its appends too while apps is set. dropped counts the
// answers dropped, by sender.
type holding struct {
	transport.Transport
	name, heap string
	acks, apps *atomic.Bool
	dropped    *sync.Map // name -> *atomic.Int64
}

func (h holding) Send(ctx context.Context, to string, msg []byte) error {
	var env raftEnvelope
	var m raftpb.Message
	if env.decode(msg) == nil && env.Heap == h.heap && m.Unmarshal(env.Msg) == nil {
		switch {
		case m.Type == raftpb.MsgAppResp && h.acks.Load():
			n, _ := h.dropped.LoadOrStore(h.name, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			return nil
		case m.Type == raftpb.MsgApp && h.apps.Load():
			return nil
		}
	}
	return h.Transport.Send(ctx, to, msg)
}

func droppedBy(m *sync.Map, name string) int64 {
	if n, ok := m.Load(name); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// joinOnce hands one node's first join of a heap that a leader takes to
// the node, and answers every later one as taken without handing it on:
// the node is added from its first request or never.
type joinOnce struct {
	transport.Handler
	heap, from string
	taken      *atomic.Bool
}

func (j joinOnce) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	var r callRequest
	if from != j.from || codec.Unmarshal(req, &r) != nil || r.Op != opJoin || r.Heap != j.heap {
		return j.Handler.HandleCall(ctx, from, req)
	}
	if j.taken.Load() {
		return codec.Marshal(callResponse{OK: true})
	}
	b, err := j.Handler.HandleCall(ctx, from, req)
	var resp callResponse
	if err == nil && codec.Unmarshal(b, &resp) == nil && resp.OK {
		j.taken.Store(true)
	}
	return b, err
}

// changeDeclined is a log handler that signals the first time a leader
// of one heap could not change its configuration: raft's line when it
// declines a change, or the heap's when it holds one back.
type changeDeclined struct {
	heap  string
	attrs bool // the records carry heap=<heap>
	once  *sync.Once
	seen  chan struct{}
}

func (h changeDeclined) Enabled(context.Context, slog.Level) bool { return true }

func (h changeDeclined) Handle(_ context.Context, r slog.Record) error {
	if h.attrs && (strings.Contains(r.Message, "ignoring conf change") || strings.Contains(r.Message, "configuration change deferred")) {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

func (h changeDeclined) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		if a.Key == "heap" && a.Value.String() == h.heap {
			h.attrs = true
		}
	}
	return h
}

func (h changeDeclined) WithGroup(string) slog.Handler { return h }

// A leader just elected cannot change its group's configuration until it
// has applied the entries its log held when it won, and raft declined such
// a change silently, as an empty entry: the leader had forgotten the join
// request the change was for, and the node that asked waited 2 s and asked
// again. Now the leader keeps the request and adds the node once it can,
// from that one request.
func TestJoinKeptWhileANewLeaderCannotTakeIt(t *testing.T) {
	t.Parallel()
	const heap = "bank"
	var acks, apps, taken atomic.Bool
	var dropped sync.Map
	declined := changeDeclined{heap: heap, once: new(sync.Once), seen: make(chan struct{})}
	c := startTestNodesWith(t, 43, func(cfg *Config) { cfg.Logger = slog.New(declined) })
	c.wrap = func(name string, tr transport.Transport) transport.Transport {
		return holding{Transport: tr, name: name, heap: heap, acks: &acks, apps: &apps, dropped: &dropped}
	}
	c.wrapHandler = func(name string, h transport.Handler) transport.Handler {
		return joinOnce{Handler: h, heap: heap, from: "app", taken: &taken}
	}
	voters := []string{"a", "b", "c"}
	for i, name := range voters {
		c.add(name, i > 0, nil)
	}
	// A client joins as a learner and is never a voter: no step of
	// placement adds it on its own.
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: heap, Perm: PermAdmin})
	c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	hs := map[string]*Heap{}
	for _, name := range voters {
		hs[name] = c.open(name, heap)
	}
	waitCond(t, "the voters in place", func() bool { return c.settled(heap, voters...) })
	old := c.waitGroup(t, heap)

	// The followers take an entry the leader never hears they have: the
	// next leader holds it, not known to be committed.
	acks.Store(true)
	var followers []string
	for _, name := range voters {
		if name != old.Leader {
			followers = append(followers, name)
		}
	}
	before := []int64{droppedBy(&dropped, followers[0]), droppedBy(&dropped, followers[1])}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = hs[old.Leader].Update(ctx, func(tx *Tx) error { return Put(tx, uuid.New(), acct{1}) }) // its outcome is not the point
	})
	waitCond(t, "the followers to take the entry", func() bool {
		return droppedBy(&dropped, followers[0]) > before[0] && droppedBy(&dropped, followers[1]) > before[1]
	})
	// The leader dies; its successor's entries reach no follower.
	apps.Store(true)
	c.kill(old.Leader)
	waitCond(t, "a new leader", func() bool { g, ok := c.group(heap); return ok && g.Term > old.Term })
	done := make(chan error, 1)
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := c.nodes["app"].Heap(ctx, heap)
		done <- err
	})
	select {
	case <-declined.seen:
	case err := <-done:
		t.Fatalf("the client opened the heap while its leader could not change the configuration: %v", err)
	case <-time.After(await.Deadline): // a bound against a hang
		t.Fatal("the new leader never tried to add the client")
	}
	acks.Store(false)
	apps.Store(false)
	if err := await.Recv(t, done, "the client's open to return"); err != nil {
		t.Fatalf("the client's open, its one join request taken by a leader that could not add it yet: %v", err)
	}
}
