package oss

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss/pki"
)

// countingDirectory is a node's directory that counts the listings made
// from the goroutine of the test named (the node's own goroutines list it
// too, as they reconcile).
type countingDirectory struct {
	directory
	test  string
	calls *atomic.Int64
}

func (d countingDirectory) live() []peerInfo {
	buf := make([]byte, 64<<10)
	if strings.Contains(string(buf[:runtime.Stack(buf, false)]), d.test) {
		d.calls.Add(1)
	}
	return d.directory.live()
}

// On an in-process network a node's live set is one listing of its
// directory, each peer with the role its entry gives: looking each
// peer's role up again listed (and decoded) the directory once more per
// peer, at every reconcile of every group the node leads.
func TestLiveListsAnInProcessDirectoryOnce(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 31, "a", "b", "c", "d")
	n := c.nodes["a"]
	waitCond(t, "every node live to a", func() bool { return len(n.live()) == 4 })
	calls := &atomic.Int64{}
	inner := n.directory()
	n.setDirectory(countingDirectory{directory: inner, test: "TestLiveListsAnInProcessDirectoryOnce", calls: calls})
	defer n.setDirectory(inner)
	live := n.live()
	if len(live) != 4 {
		t.Fatalf("live %v, want the four nodes", live)
	}
	for _, p := range live {
		if role := inner.live(); p.Role != roleIn(role, p.Name) {
			t.Errorf("%s: role %v, its entry says %v", p.Name, p.Role, roleIn(role, p.Name))
		}
	}
	if k := calls.Load(); k != 1 {
		t.Errorf("one live set listed the directory %d times, want once", k)
	}
}

// roleIn is the role of the entry named name in ps.
func roleIn(ps []peerInfo, name string) pki.Role {
	for _, p := range ps {
		if p.Name == name {
			return p.Role
		}
	}
	return pki.RoleClient
}
