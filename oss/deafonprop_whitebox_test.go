package oss

import (
	"bytes"
	"sync/atomic"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/transport"
)

// deafOnProposal is a node's handler that, once armed with the name of
// another node, makes that node deaf (hearing nothing, as deafHandler)
// the moment the first catalog proposal it forwarded that names the heap
// "made" arrives, before this node handles it, and disarms; with drop,
// that proposal is not handed on either, nor any copy of it the node
// sends again while it is deaf. The node's other catalog
// proposals (a change of the catalog's voters, say) pass. The tests
// of a try whose outcome is unknown made the node deaf, or cut it off,
// before it proposed: on a loaded machine its proposal came after an
// election timeout (100 to 200 ms at the tests' 10 ms ticks) without a
// heartbeat, when it knew no leader any more, and a proposal held for
// want of one fails for certain, as every try after it did.
type deafOnProposal struct {
	transport.Handler
	armed *atomic.Pointer[string] // the node whose proposal deafens it
	deaf  map[string]*atomic.Bool // every node's deafness
	drop  bool
}

func (h deafOnProposal) HandleMessage(from string, msg []byte) {
	if x := h.armed.Load(); x != nil && *x == from && isCatalogProposal(msg) && h.armed.CompareAndSwap(x, nil) {
		h.deaf[from].Store(true)
		if h.drop {
			return
		}
	} else if h.drop && isCatalogProposal(msg) && h.deaf[from].Load() {
		// A copy its node sent again while deaf goes nowhere either: a
		// resend that reached the leader committed the entry the test
		// takes for lost (go test -race ./oss at load 27: the leader's
		// CreateHeap found the heap existing). deaf is read only for
		// such a proposal: the map is filled while the nodes start.
		return
	}
	h.Handler.HandleMessage(from, msg)
}

// isCatalogProposal reports whether msg is a raft proposal of the catalog
// whose entries name the heap "made".
func isCatalogProposal(msg []byte) bool {
	var e raftEnvelope
	var m raftpb.Message
	if e.decode(msg) != nil || e.Heap != catalogName || m.Unmarshal(e.Msg) != nil || m.Type != raftpb.MsgProp {
		return false
	}
	for _, ent := range m.Entries {
		if ent.Type == raftpb.EntryNormal && bytes.Contains(ent.Data, []byte("made")) {
			return true
		}
	}
	return false
}

// deafNodes starts a cluster of a, b and c whose handlers are deafHandler
// around deafOnProposal, and returns it, the nodes' deafness, and what
// arms them.
func deafNodes(t *testing.T, seed uint64, drop bool) (*testCluster, map[string]*atomic.Bool, *atomic.Pointer[string]) {
	c := startTestNodes(t, seed)
	deaf := map[string]*atomic.Bool{}
	armed := new(atomic.Pointer[string])
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		return deafHandler{Handler: deafOnProposal{Handler: hd, armed: armed, deaf: deaf, drop: drop}, deaf: deaf[name]}
	}
	for i, name := range []string{"a", "b", "c"} {
		deaf[name] = new(atomic.Bool)
		c.add(name, i > 0, nil)
	}
	return c, deaf, armed
}
