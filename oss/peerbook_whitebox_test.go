package oss

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
)

// A member restarted with Join naming only a member that is gone for good
// joins through the servers it last saw (its data directory's PEERS): it
// used to fail ("no member answered"), or with JoinRetry wait for ever,
// though a quorum of its groups was up.
func TestRestartedMemberJoinsThroughThePeersItKnew(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	// Ticks of 100 ms and waits bounded by await.Deadline: at 20 ms the
	// election timeout was under a QUIC round trip at load 23 under the
	// race detector; leaders stepped down within a second for want of a
	// quorum, and the heap had none for the 2 minutes the test gave.
	c := newQUICClusterWith(t, 100*time.Millisecond, func(cfg *Config) { cfg.DataDir = filepath.Join(base, cfg.Name) }, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	c.openAll(t, ctx, "h")
	waitFor(t, "the heap's three voters", func() bool {
		st, ok := c.group("h")
		return ok && len(st.Voters) == 3 && !st.Joint
	})
	book := filepath.Join(base, "b", peersFile)
	waitFor(t, "b's book to list a and c", func() bool {
		b, err := os.ReadFile(book)
		return err == nil && strings.Contains(string(b), "a "+c.nodes["a"].Addr()) && strings.Contains(string(b), "c "+c.nodes["c"].Addr())
	})

	// b stops, then a, for good; b comes back with Join naming only a.
	gone := c.nodes["a"].Addr()
	for _, name := range []string{"b", "a"} {
		if err := c.nodes[name].stop(ctx, false); err != nil {
			t.Fatal(err)
		}
		delete(c.nodes, name)
	}
	cfg := c.serverConfig("b", "127.0.0.1:0", gone)
	cfg.JoinRetry = false
	cfg.DataDir = filepath.Join(base, "b")
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("b restarted with Join naming only a, which is gone, while c is up: %v", err)
	}
	c.nodes["b"] = n
	h, err := n.Heap(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	// b and c are a quorum of the heap's group: b commits, once the two
	// have elected a leader (a commit refused while they had none, "no
	// leader for 3.44s", failed the test at load 50 to 100).
	untilCommitted(t, "b commits after its restart", h, func(tx *Tx) error { return Put(tx, uuid.New(), 1) })
}

// The book keeps servers' latest addresses, forgets one that left, keeps
// one that failed, and reads back what it wrote.
func TestPeerBookRecordsServers(t *testing.T) {
	dir := t.TempDir()
	var fsys persist.OS
	b := openPeerBook(fsys, dir, "me", testLogger())
	ev := func(kind memberEventKind, name, addr string, role pki.Role) memberEvent {
		return memberEvent{Kind: kind, Member: Member{Name: name, Addr: addr, Role: role}}
	}
	b.note(ev(memberJoined, "x", "10.0.0.1:7400", pki.RoleServer))
	b.note(ev(memberJoined, "y", "10.0.0.2:7400", pki.RoleServer))
	b.note(ev(memberUpdated, "x", "10.0.0.9:7400", pki.RoleServer))
	b.note(ev(memberJoined, "me", "10.0.0.3:7400", pki.RoleServer))
	b.note(ev(memberJoined, "player", "10.0.0.4:7400", pki.RoleClient))
	b.note(ev(memberJoined, "z", "10.0.0.5:7400", pki.RoleServer))
	b.note(ev(memberLeft, "z", "10.0.0.5:7400", pki.RoleServer))
	b.note(ev(memberFailed, "y", "10.0.0.2:7400", pki.RoleServer))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); b.run(stop) }()
	waitFor(t, "the book written", func() bool {
		got, err := os.ReadFile(filepath.Join(dir, peersFile))
		return err == nil && string(got) == "x 10.0.0.9:7400\ny 10.0.0.2:7400\n"
	})
	close(stop)
	await.Recv(t, done, "the peer book's recorder to end")
	if got := openPeerBook(fsys, dir, "me", testLogger()).known(); strings.Join(got, ",") != "10.0.0.2:7400,10.0.0.9:7400" {
		t.Fatalf("read back %v", got)
	}
}
