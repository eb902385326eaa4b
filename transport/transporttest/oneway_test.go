package transporttest_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/objectsharing/oss/transport"
)

// A link cut one way loses what goes that way only; a call, which needs
// both ways, fails either way; Heal mends it.
func TestCutOneWay(t *testing.T) {
	n, eps, boxes := threeNodes(1)
	n.CutOneWay([2]string{"a", "b"})
	ctx := context.Background()
	eps["a"].Send(ctx, "b", []byte("lost"))
	eps["b"].Send(ctx, "a", []byte("heard"))
	eps["a"].Send(ctx, "c", []byte("other"))
	n.RunUntilIdle(100)
	if got := boxes["b"].get("a"); len(got) != 0 {
		t.Errorf("b got %q across the cut", got)
	}
	if got := boxes["a"].get("b"); !slices.Equal(got, []string{"heard"}) {
		t.Errorf("a got %q from b, want heard", got)
	}
	if got := boxes["c"].get("a"); !slices.Equal(got, []string{"other"}) {
		t.Errorf("c got %q from a, want other", got)
	}
	if n.Reachable("a", "b") || !n.Reachable("b", "a") {
		t.Errorf("reachable a→b %v, b→a %v; want false, true", n.Reachable("a", "b"), n.Reachable("b", "a"))
	}
	n.Start()
	defer n.Stop()
	for _, p := range [][2]string{{"a", "b"}, {"b", "a"}} {
		if _, err := eps[p[0]].Call(ctx, p[1], []byte("q")); !errors.Is(err, transport.ErrUnreachable) {
			t.Errorf("call %s→%s across a one-way cut: %v, want ErrUnreachable", p[0], p[1], err)
		}
	}
	n.Heal()
	if resp, err := eps["a"].Call(ctx, "b", []byte("q")); err != nil || string(resp) != "re:q" {
		t.Errorf("call a→b after Heal: %q, %v", resp, err)
	}
}
