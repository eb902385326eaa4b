package oss

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
)

// memberlist's verdict on a member that is leaving can come before the
// member's leave notice (gossip and a stream, read by two goroutines): it
// is held, and the notice makes it a leave, never a failure followed by
// a leave. A verdict no notice follows is reported failed once its hold
// is past, and only then.
func TestFailureHeldForALateLeaveNotice(t *testing.T) {
	var got []memberEvent
	m := &membership{cfg: memberConfig{name: "n0", onEvent: func(e memberEvent) { got = append(got, e) }},
		gossipInterval: time.Hour, probeInterval: time.Hour}
	m.ticked.Store(time.Now().UnixNano()) // this node is not standing still
	node := func(name, addr string) *memberlist.Node {
		b, err := codec.Marshal(memberMeta{Addr: addr, Role: string(pki.RoleServer), ID: 7})
		if err != nil {
			t.Fatal(err)
		}
		return &memberlist.Node{Name: name, Meta: b}
	}
	n1, n2 := node("n1", "127.0.0.1:7001"), node("n2", "127.0.0.1:7002")
	m.NotifyJoin(n1)
	m.NotifyJoin(n2)
	m.NotifyLeave(n1)                         // the leave's gossip first
	m.NotifyMsg([]byte(leavingPrefix + "n1")) // then its notice
	m.releaseHeld(time.Now().Add(3 * time.Hour))
	if len(got) != 3 || got[2].Kind != memberLeft || got[2].Member.Name != "n1" {
		t.Fatalf("events %v, want n1 left and nothing else", got)
	}
	m.NotifyLeave(n2)
	m.releaseHeld(time.Now())
	if len(got) != 3 {
		t.Fatalf("events %v: n2's failure reported before its hold was past", got)
	}
	m.releaseHeld(time.Now().Add(3 * time.Hour))
	if len(got) != 4 || got[3].Kind != memberFailed || got[3].Member.Name != "n2" {
		t.Fatalf("events %v, want n2 failed", got)
	}
	if _, ok := m.failed["n2"]; !ok {
		t.Fatal("a failed member is not on the list to reconnect to")
	}
}
