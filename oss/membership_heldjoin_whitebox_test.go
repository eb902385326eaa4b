package oss

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
)

// A member that memberlist finds alive again while its held failure is
// being reported stays a member: the join that comes between two of the
// failures releaseHeld reports is the last word. releaseHeld took the
// failures off the hold, then reported each outside the lock, so a join
// of a member in between (memberlist tells of it from another goroutine)
// was undone by the failure reported after it, and memberlist, which
// thinks the member alive, tells of it no more: it stayed failed.
func TestHeldFailureDoesNotUndoALaterJoin(t *testing.T) {
	var m *membership
	var got []memberEvent
	joined := false
	nodes := map[string]*memberlist.Node{}
	m = &membership{cfg: memberConfig{name: "n0", logger: testLogger(), onEvent: func(e memberEvent) {
		got = append(got, e)
		if e.Kind != memberFailed || joined {
			return
		}
		joined = true
		for name, n := range nodes { // the other one is found alive meanwhile
			if name != e.Member.Name {
				m.NotifyJoin(n)
			}
		}
	}}, gossipInterval: time.Hour, probeInterval: time.Hour}
	m.ticked.Store(time.Now().UnixNano()) // this node is not standing still
	for i, name := range []string{"n1", "n2"} {
		b, err := codec.Marshal(memberMeta{Addr: fmt.Sprintf("127.0.0.1:%d", 7001+i), Role: string(pki.RoleServer), ID: uint64(7 + i)})
		if err != nil {
			t.Fatal(err)
		}
		nodes[name] = &memberlist.Node{Name: name, Meta: b}
		m.NotifyJoin(nodes[name])
	}
	m.NotifyLeave(nodes["n1"])
	m.NotifyLeave(nodes["n2"])
	m.releaseHeld(time.Now().Add(24 * time.Hour))
	if !joined {
		t.Fatalf("events %v: no failure reported", got)
	}
	var back string // the member found alive between the two failures
	for _, e := range got[2:] {
		if e.Kind == memberJoined {
			back = e.Member.Name
		}
	}
	m.mu.Lock()
	_, live := m.view[back]
	_, failed := m.failed[back]
	m.mu.Unlock()
	if !live || failed {
		t.Fatalf("events %v: %s, found alive after its failure was taken off the hold, is live %v, failed %v; want live", got, back, live, failed)
	}
}
