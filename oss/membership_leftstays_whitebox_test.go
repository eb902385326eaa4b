package oss

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/pki"
)

// A member that said it was leaving and was reported left stays left when
// memberlist tells of the same process again: an alive message it sent
// before its leave (its refutation of a suspicion) that arrives after the
// leave notice revives it in memberlist, which then declares it dead when
// its endpoint is gone. TestMembershipOverQUIC saw n3 joined, left,
// joined, failed at load 12 to 17. A new process of the same name joins.
func TestLeftMemberHeardOfAgainStaysLeft(t *testing.T) {
	var got []memberEvent
	m := &membership{
		cfg: memberConfig{name: "n0", logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			onEvent: func(e memberEvent) { got = append(got, e) }},
		gossipInterval: time.Hour, suspicion: time.Hour,
	}
	m.ticked.Store(time.Now().UnixNano())
	node := func(name string, life uint64) *memberlist.Node {
		b, err := codec.Marshal(memberMeta{Addr: "127.0.0.1:7003", Role: string(pki.RoleServer), ID: 7, Life: life})
		if err != nil {
			t.Fatal(err)
		}
		return &memberlist.Node{Name: name, Meta: b}
	}
	kinds := func(name string) []memberEventKind {
		var out []memberEventKind
		for _, e := range got {
			if e.Member.Name == name {
				out = append(out, e.Kind)
			}
		}
		return out
	}
	member := func(name string) bool {
		return slices.ContainsFunc(m.members(), func(v Member) bool { return v.Name == name })
	}

	// n3: declared dead while this node stood still (doubted, no event),
	// then its leave notice, then its refutation, then its leave.
	n3 := node("n3", 11)
	m.NotifyJoin(n3)
	m.mu.Lock()
	m.stalled = time.Now()
	m.mu.Unlock()
	m.NotifyLeave(n3)
	m.NotifyMsg([]byte(leavingPrefix + "n3"))
	m.NotifyJoin(n3)
	m.NotifyUpdate(n3)
	m.NotifyLeave(n3)
	if k := kinds("n3"); !slices.Equal(k, []memberEventKind{memberJoined, memberLeft}) {
		t.Fatalf("n3: events %v, want joined, left", k)
	}
	if member("n3") {
		t.Fatal("n3 left and is still a member")
	}
	if _, ok := m.failed["n3"]; ok {
		t.Fatal("n3 left and is reconnected to")
	}

	// n4: its leave notice, then memberlist's verdict (the suspicion of
	// it expired), then its refutation, then its leave.
	m.mu.Lock()
	m.stalled = time.Time{}
	m.mu.Unlock()
	n4 := node("n4", 12)
	m.NotifyJoin(n4)
	m.NotifyMsg([]byte(leavingPrefix + "n4"))
	m.NotifyLeave(n4)
	m.NotifyJoin(n4)
	m.NotifyLeave(n4)
	if k := kinds("n4"); !slices.Equal(k, []memberEventKind{memberJoined, memberLeft}) {
		t.Fatalf("n4: events %v, want joined, left", k)
	}

	// A new process of n3 joins, and fails like any member.
	again := node("n3", 13)
	m.NotifyJoin(again)
	if k := kinds("n3"); !slices.Equal(k, []memberEventKind{memberJoined, memberLeft, memberJoined}) || !member("n3") {
		t.Fatalf("n3 restarted: events %v, want joined, left, joined", k)
	}
	m.NotifyLeave(again)
	m.releaseHeld(time.Now().Add(time.Hour))
	if k := kinds("n3"); k[len(k)-1] != memberFailed {
		t.Fatalf("restarted n3 stopped without a word: events %v, want it failed", k)
	}
}

// Every membership announces a Life of its own, and a peer reads it back.
func TestMembershipLifeInMetadata(t *testing.T) {
	a := &membership{cfg: memberConfig{advertise: "127.0.0.1:7400", role: pki.RoleServer}, life: newLife()}
	b := &membership{cfg: memberConfig{advertise: "127.0.0.1:7400", role: pki.RoleServer}, life: newLife()}
	va, vb := toView(&memberlist.Node{Name: "n", Meta: a.NodeMeta(512)}), toView(&memberlist.Node{Name: "n", Meta: b.NodeMeta(512)})
	if va.life == 0 || va.life != a.life || vb.life != b.life || va.life == vb.life {
		t.Fatalf("lives %d and %d read back as %d and %d", a.life, b.life, va.life, vb.life)
	}
}
