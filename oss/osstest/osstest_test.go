package osstest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// Every test closes its cluster when it ends; none may leave a goroutine.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type counter struct{ N int }

// incr raises the counter id from to-1 to to. The group may be between
// leaders on a loaded machine, after a start or a kill: the increment
// goes again while the outcome says so (nothing written, or unknown). It
// is written as "from to-1 to to", so a try after one that committed
// finds the counter at to and writes nothing, and of two tries that both
// read to-1 only one commits.
func incr(t *testing.T, h *oss.Heap, id uuid.UUID, to int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := h.Update(ctx, func(tx *oss.Tx) error {
			c, err := oss.Get[counter](tx, id)
			if err != nil && !errors.Is(err, oss.ErrNotFound) {
				return err
			}
			switch c.N {
			case to:
				return nil
			case to - 1:
				return oss.Put(tx, id, counter{to})
			}
			return fmt.Errorf("the counter is at %d, want %d or %d", c.N, to-1, to)
		})
		cancel()
		if err == nil {
			return
		}
		again := errors.Is(err, oss.ErrNoQuorum) || errors.Is(err, oss.ErrCommitUnknown) || errors.Is(err, context.DeadlineExceeded)
		if !again || time.Now().After(deadline) {
			t.Fatal(err)
		}
		t.Logf("increment to %d: %v; again", to, err)
		time.Sleep(20 * time.Millisecond)
	}
}

func read(t *testing.T, h *oss.Heap, id uuid.UUID) int {
	t.Helper()
	var c counter
	err := h.View(context.Background(), func(tx *oss.Tx) error { var err error; c, err = oss.Get[counter](tx, id); return err }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.N
}

// A killed leader is replaced; restarted on its data directory, the node
// holds what was committed while it was down.
func TestKillAndRestartDurable(t *testing.T) {
	t.Parallel()
	c := osstest.Start(t, 3, &osstest.Options{Durable: true})
	for _, name := range c.Live() {
		c.Heap(name, "h")
	}
	id := uuid.New()
	incr(t, c.Heap("n1", "h"), id, 1)
	old := c.WaitLeader("h")
	c.Kill(old)
	if slices.Contains(c.Live(), old) {
		t.Fatalf("%s runs after Kill: %v", old, c.Live())
	}
	if l := c.WaitLeader("h"); l == old {
		t.Fatalf("the killed node %s still leads", old)
	}
	for i, name := range c.Live() {
		incr(t, c.Heap(name, "h"), id, 2+i)
	}
	c.Restart(old)
	c.Heap(old, "h")
	at := c.WaitConverged("h")
	c.WaitApplied("h", at)
	if got := read(t, c.Heap(old, "h"), id); got != 3 {
		t.Fatalf("%s holds %d after its restart, want 3", old, got)
	}
}

// With FollowPartitions a node cut off leaves the others' membership and
// comes back when the partition heals.
func TestPartitionFollowedByMembership(t *testing.T) {
	t.Parallel()
	c := osstest.Start(t, 3, &osstest.Options{FollowPartitions: true})
	members := func(name string) (out []string) {
		for _, m := range c.Node(name).Members() {
			out = append(out, m.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := members("n1"); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Fatalf("n1's members: %v", got)
	}
	c.Partition([]string{"n3"}, []string{"n1", "n2"})
	if got := members("n1"); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Fatalf("n1's members across the partition: %v", got)
	}
	if got := members("n3"); !slices.Equal(got, []string{"n3"}) {
		t.Fatalf("n3's members across the partition: %v", got)
	}
	c.Heal()
	if got := members("n3"); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Fatalf("n3's members after healing: %v", got)
	}
}

// The same fixture runs nodes on QUIC with mutual TLS over loopback.
func TestQUIC(t *testing.T) {
	t.Parallel()
	c := osstest.Start(t, 3, &osstest.Options{QUIC: true})
	if c.Net != nil {
		t.Fatal("a QUIC cluster has an in-memory network")
	}
	for _, name := range c.Live() {
		if c.Node(name).Addr() == "" {
			t.Fatalf("%s does not listen", name)
		}
		c.Heap(name, "h")
	}
	id := uuid.New()
	incr(t, c.Heap("n2", "h"), id, 1)
	c.WaitLeader("h")
	c.WaitConverged("h")
	for _, name := range c.Live() {
		if got := read(t, c.Heap(name, "h"), id); got != 1 {
			t.Fatalf("%s holds %d, want 1", name, got)
		}
	}
}
