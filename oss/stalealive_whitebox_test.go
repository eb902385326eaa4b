package oss

import (
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/hashicorp/memberlist"
	"github.com/objectsharing/oss/internal/codec"
)

// A member restarted at a new address (another process: another Life)
// is not moved back by a stale alive message of its earlier process at
// the old address: memberlist, which replaces a dead record's address at
// once (DeadNodeReclaimTime), compares no incarnations when it does, and
// such a message relayed late (a push/pull across a partition that
// heals) marked the member alive where nothing answers. The membership's
// AliveDelegate refuses it; the later process's messages, and those of
// a process after it back at the old address, pass. The events are
// those memberlist tells the delegates of: b joins at its first address,
// is taken again at a new one after its record died there, then dies
// there too.
func TestStaleAliveOfAnEarlierProcessIsRefused(t *testing.T) {
	m := &membership{cfg: memberConfig{name: "a", logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	node := func(port uint16, life uint64) *memberlist.Node {
		meta, err := codec.Marshal(memberMeta{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), Role: "server", Life: life})
		if err != nil {
			t.Fatal(err)
		}
		return &memberlist.Node{Name: "b", Addr: net.IPv4(127, 0, 0, 1), Port: port, Meta: meta, State: memberlist.StateAlive}
	}
	old, moved := node(7001, 11), node(7002, 22)
	m.NotifyJoin(old)
	if err := m.NotifyAlive(old); err != nil {
		t.Fatalf("b's first process refused while it is the one taken: %v", err)
	}
	m.NotifyJoin(moved) // its record at 7001 died; memberlist took the alive message from 7002
	dead := *moved
	dead.State = memberlist.StateDead
	m.hold(&dead)
	if err := m.NotifyAlive(old); err == nil {
		t.Fatal("a stale alive message of b's earlier process at its old address passed: memberlist moves the dead b back there")
	}
	if err := m.NotifyAlive(moved); err != nil {
		t.Fatalf("b's later process refused: %v", err)
	}
	if err := m.NotifyAlive(node(7001, 33)); err != nil {
		t.Fatalf("a third process of b, back at the first address, refused: %v", err)
	}
}
