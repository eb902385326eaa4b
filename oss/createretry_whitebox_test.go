package oss

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/transport"
)

// deafHandler drops what reaches its node while deaf is set: the node
// still sends, and hears nothing back.
type deafHandler struct {
	transport.Handler
	deaf *atomic.Bool
}

var errDeaf = errors.New("deaf")

func (h deafHandler) HandleMessage(from string, msg []byte) {
	if !h.deaf.Load() {
		h.Handler.HandleMessage(from, msg)
	}
}

func (h deafHandler) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	if h.deaf.Load() {
		return nil, errDeaf
	}
	return h.Handler.HandleCall(ctx, from, req)
}

func (h deafHandler) HandleStream(ctx context.Context, from string, header []byte, r io.Reader) error {
	if h.deaf.Load() {
		return errDeaf
	}
	return h.Handler.HandleStream(ctx, from, header, r)
}

// CreateHeapIfNotExists tries the catalog again after a try whose outcome
// was unknown. When a later try fails for certain (no leader, then its
// context's end), the first may still have created the heap: the call
// must end with an unknown outcome, not ErrNoQuorum, which says nothing
// was written. Here a follower of the catalog that hears nothing proposes
// the entry (the leader commits it), learns nothing, and tries again
// until its context ends.
func TestCreateIfNotExistsAfterAnUnknownTryIsUnknown(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 41)
	deaf := map[string]*atomic.Bool{}
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		return deafHandler{Handler: hd, deaf: deaf[name]}
	}
	names := []string{"a", "b", "c"}
	for i, name := range names {
		deaf[name] = new(atomic.Bool)
		c.add(name, i > 0, nil)
	}
	var lead, x string
	waitCond(t, "the catalog's group of three, led", func() bool {
		st := c.nodes["a"].catalog.Load().Stats()
		lead = st.Leader
		return lead != "" && len(st.Voters) == 3
	})
	for _, name := range names {
		if name != lead {
			x = name
		}
	}
	deaf[x].Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := c.nodes[x].CreateHeapIfNotExists(ctx, "made", nil)
	cancel()
	deaf[x].Store(false)
	if _, ok := c.nodes[lead].catalogEntry("made"); !ok {
		t.Fatalf("the catalog's leader has no entry of the heap: the deaf node's first try did not reach it (%v)", err)
	}
	if err == nil {
		t.Fatal("a node that hears nothing opened the heap")
	}
	if !errors.Is(err, ErrCommitUnknown) || errors.Is(err, ErrNoQuorum) {
		t.Fatalf("CreateHeapIfNotExists whose first try created the heap: %v, want an unknown outcome, not ErrNoQuorum", err)
	}
}

// CreateHeapIfNotExists that created the heap and then could not open it
// says so, as CreateHeap does: its cause alone (a context's end, ErrClosed,
// ErrNoQuorum) would say that nothing was written, and the admin
// interface would answer 503, "not committed".
func TestCreateIfNotExistsThatCreatedAndFailsToOpenSaysSo(t *testing.T) {
	c := startDurable(t, 45, []string{"solo"}, nil)
	n := c.nodes["solo"]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, cause := range []error{context.DeadlineExceeded, ErrClosed, ErrNoQuorum} {
		name := fmt.Sprintf("made-%d", i)
		n.openFault = func() error { return cause }
		_, err := n.CreateHeapIfNotExists(ctx, name, nil)
		n.openFault = nil
		if !errors.Is(err, ErrCreatedNotOpen) || errors.Is(err, cause) {
			t.Fatalf("%v after the entry committed: got %v, want ErrCreatedNotOpen, not matching its cause", cause, err)
		}
		if _, ok := n.catalogEntry(name); !ok {
			t.Fatalf("%s: no entry after ErrCreatedNotOpen", name)
		}
	}
}
