package transporttest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/transport"
	"github.com/objectsharing/oss/transport/transporttest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type inbox struct {
	mu   sync.Mutex
	msgs map[string][]string
}

func newInbox() *inbox { return &inbox{msgs: map[string][]string{}} }

func (b *inbox) HandleMessage(from string, msg []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs[from] = append(b.msgs[from], string(msg))
}

func (b *inbox) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	return append([]byte("re:"), req...), nil
}

func (b *inbox) get(from string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.msgs[from]...)
}

func threeNodes(seed uint64) (*transporttest.Network, map[string]*transporttest.Endpoint, map[string]*inbox) {
	n := transporttest.NewNetwork(seed)
	eps, boxes := map[string]*transporttest.Endpoint{}, map[string]*inbox{}
	for _, name := range []string{"a", "b", "c"} {
		boxes[name] = newInbox()
		eps[name] = n.Endpoint(name, boxes[name])
	}
	return n, eps, boxes
}

func TestOrderedDeliveryAndCalls(t *testing.T) {
	n, eps, boxes := threeNodes(1)
	n.SetFaults(transporttest.Faults{MinDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond})
	ctx := context.Background()
	for i := range 50 {
		eps["a"].Send(ctx, "b", []byte(fmt.Sprint(i)))
	}
	n.RunUntilIdle(1000)
	got := boxes["b"].get("a")
	for i, m := range got {
		if m != fmt.Sprint(i) {
			t.Fatalf("message %d is %q: reordered without Reorder", i, m)
		}
	}
	if len(got) != 50 {
		t.Fatalf("%d of 50 delivered", len(got))
	}
	n.Start()
	defer n.Stop()
	resp, err := eps["c"].Call(ctx, "a", []byte("x"))
	if err != nil || string(resp) != "re:x" {
		t.Fatalf("call: %q %v", resp, err)
	}
	var _ transport.Transport = eps["a"]
}

// Send never waits, so its context cannot end a wait: a message sent with
// a context that has already ended is put in flight, as the QUIC
// transport queues one when its peer's queue has room (transport.Transport:
// Send "waits while the peer's queue is full, until ctx ends"). A node
// bounds a whole batch of raft messages with one short context; on a
// loaded machine the batch outlasted it, the rest of the batch (heartbeats
// among them) was refused, and the leader took its followers for
// unreachable.
func TestSendWithAnEndedContextNeedNotWait(t *testing.T) {
	n, eps, boxes := threeNodes(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := eps["a"].Send(ctx, "b", []byte("late")); err != nil {
		t.Fatalf("Send with an ended context: %v", err)
	}
	n.RunUntilIdle(1000)
	if got := boxes["b"].get("a"); len(got) != 1 || got[0] != "late" {
		t.Fatalf("delivered %q, want [late]", got)
	}
}

func TestPartitionAndHeal(t *testing.T) {
	n, eps, boxes := threeNodes(2)
	ctx := context.Background()
	n.Partition([]string{"a"}, []string{"b", "c"})
	eps["a"].Send(ctx, "b", []byte("lost"))
	eps["b"].Send(ctx, "c", []byte("kept"))
	n.RunUntilIdle(100)
	if len(boxes["b"].get("a")) != 0 || len(boxes["c"].get("b")) != 1 {
		t.Fatalf("partition leaked: b got %v, c got %v", boxes["b"].get("a"), boxes["c"].get("b"))
	}
	if _, err := eps["a"].Call(ctx, "c", nil); !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("call across a partition: %v", err)
	}
	// A message in flight when the partition forms is lost too.
	n.Heal()
	eps["a"].Send(ctx, "b", []byte("in flight"))
	n.Partition([]string{"a"}, []string{"b", "c"})
	n.RunUntilIdle(100)
	if len(boxes["b"].get("a")) != 0 {
		t.Fatal("a message crossed a partition formed while it was in flight")
	}
	n.Heal()
	eps["a"].Send(ctx, "b", []byte("after"))
	n.RunUntilIdle(100)
	if got := boxes["b"].get("a"); len(got) != 1 || got[0] != "after" {
		t.Fatalf("after healing b got %v", got)
	}
	if st := n.Stats(); st.Blocked < 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaults(t *testing.T) {
	n, eps, boxes := threeNodes(3)
	n.SetFaults(transporttest.Faults{Drop: 0.2, Duplicate: 0.2, MaxDelay: 50 * time.Millisecond, Reorder: true})
	for i := range 1000 {
		eps["a"].Send(context.Background(), "b", []byte(fmt.Sprint(i)))
	}
	n.RunUntilIdle(10000)
	got := boxes["b"].get("a")
	st := n.Stats()
	reordered := false
	for i := 1; i < len(got); i++ {
		var a, b int
		fmt.Sscan(got[i-1], &a)
		fmt.Sscan(got[i], &b)
		if b < a {
			reordered = true
		}
	}
	if st.Dropped < 100 || st.Duplicated < 100 || !reordered || uint64(len(got)) != st.Delivered {
		t.Fatalf("faults not applied: %+v, %d delivered, reordered %v", st, len(got), reordered)
	}
	if n.Now() == 0 {
		t.Fatal("virtual time did not advance")
	}
}

// run sends a fixed workload with faults and returns the trace.
func run(seed uint64) uint64 {
	n, eps, _ := threeNodes(seed)
	n.SetFaults(transporttest.Faults{Drop: 0.1, Duplicate: 0.1, MaxDelay: 10 * time.Millisecond, Reorder: true})
	for i := range 300 {
		from, to := []string{"a", "b", "c"}[i%3], []string{"b", "c", "a"}[i%3]
		eps[from].Send(context.Background(), to, []byte(fmt.Sprint(i)))
		if i%7 == 0 {
			n.Step()
		}
	}
	n.RunUntilIdle(10000)
	return n.Trace()
}

func TestSeededRunsReproduce(t *testing.T) {
	if a, b := run(42), run(42); a != b {
		t.Fatalf("seed 42 gave traces %x and %x", a, b)
	}
	if run(42) == run(43) {
		t.Fatal("different seeds gave the same trace")
	}
}

func (b *inbox) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	b.HandleMessage(from, append(append(header, ':'), data...))
	return nil
}

func TestStreams(t *testing.T) {
	n, eps, boxes := threeNodes(4)
	n.Start()
	defer n.Stop()
	ctx := context.Background()
	if err := eps["a"].SendStream(ctx, "b", []byte("snap"), strings.NewReader("body")); err != nil {
		t.Fatal(err)
	}
	if got := boxes["b"].get("a"); len(got) != 1 || got[0] != "snap:body" {
		t.Fatalf("stream delivered %v", got)
	}
	n.Partition([]string{"a"})
	if err := eps["a"].SendStream(ctx, "b", nil, strings.NewReader("x")); !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("stream across a partition: %v", err)
	}
}

// A cut link leaves the others: b bridges a and c, which cannot reach
// each other; Heal restores the link.
func TestCutMakesABridge(t *testing.T) {
	n, eps, boxes := threeNodes(3)
	ctx := context.Background()
	n.Cut([2]string{"a", "c"})
	eps["a"].Send(ctx, "c", []byte("cut"))
	eps["c"].Send(ctx, "a", []byte("cut"))
	eps["a"].Send(ctx, "b", []byte("via b"))
	eps["b"].Send(ctx, "c", []byte("via b"))
	n.RunUntilIdle(100)
	if len(boxes["c"].get("a")) != 0 || len(boxes["a"].get("c")) != 0 {
		t.Fatal("a message crossed a cut link")
	}
	if len(boxes["b"].get("a")) != 1 || len(boxes["c"].get("b")) != 1 {
		t.Fatal("the bridge did not carry messages")
	}
	n.Heal()
	eps["a"].Send(ctx, "c", []byte("healed"))
	n.RunUntilIdle(100)
	if len(boxes["c"].get("a")) != 1 {
		t.Fatal("a healed link carried nothing")
	}
}

// Live lists the attached, open nodes that announced a record; partitions
// hide nodes only when membership follows them.
func TestLiveFollowsAnnouncementsAndPartitions(t *testing.T) {
	n := transporttest.NewNetwork(1)
	names := func(self string) string {
		var s []string
		for _, p := range n.Live(self) {
			s = append(s, p.Name+"="+string(p.Meta))
		}
		return strings.Join(s, ",")
	}
	var eps []transport.Transport
	for _, name := range []string{"a", "b", "c"} {
		ep, err := n.Attach(name, newInbox())
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	n.Announce("a", []byte("1"))
	n.Announce("b", []byte("2"))
	if got := names("a"); got != "a=1,b=2" {
		t.Fatalf("live: %s; want the nodes that announced", got)
	}
	n.Partition([]string{"a"}, []string{"b", "c"})
	if got := names("a"); got != "a=1,b=2" {
		t.Fatalf("live across a partition: %s; want it ignored", got)
	}
	n.FollowPartitions(true)
	if got := names("a"); got != "a=1" {
		t.Fatalf("live across a partition, followed: %s", got)
	}
	n.Heal()
	eps[1].Close()
	if got := names("a"); got != "a=1" {
		t.Fatalf("live once b closed: %s", got)
	}
	n.Announce("a", nil)
	if got := names("c"); got != "" {
		t.Fatalf("live once a withdrew: %s", got)
	}
}

// partitioningInbox cuts its node off while it handles a call or a
// stream, so the answer is lost on its way back.
type partitioningInbox struct {
	*inbox
	net     *transporttest.Network
	handled atomic.Int64
}

func (b *partitioningInbox) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	b.handled.Add(1)
	b.net.Partition([]string{"b"})
	return req, nil
}

func (b *partitioningInbox) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	b.handled.Add(1)
	b.net.Partition([]string{"b"})
	return nil
}

// A call or a stream whose answer a partition loses fails, as a broken
// connection does, rather than waiting out its caller's deadline: a
// leader waiting for a snapshot's answer that never comes would send its
// follower nothing else until then.
func TestLostAnswerFailsTheCall(t *testing.T) {
	n := transporttest.NewNetwork(5)
	a := n.Endpoint("a", newInbox())
	b := &partitioningInbox{inbox: newInbox(), net: n}
	n.Endpoint("b", b)
	n.Start()
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.Call(ctx, "b", []byte("x")); !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("call whose answer was lost: %v, want ErrUnreachable", err)
	}
	n.Heal()
	if err := a.SendStream(ctx, "b", []byte("snap"), strings.NewReader("body")); !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("stream whose answer was lost: %v, want ErrUnreachable", err)
	}
	if got := b.handled.Load(); got != 2 {
		t.Fatalf("b handled %d of the 2 sends", got)
	}
}
