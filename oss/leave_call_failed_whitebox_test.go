package oss

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// A leave notice whose call does not get through (here the handshake
// fails; on a loaded machine, a stream or connection that failed) is an
// error, for announceLeave to send again. tellLeaving
// took it for a member without the call and sent the user message in its
// place, which only says it was written: the close that follows could
// take it with it, and the notice was never sent again.
func TestLeaveCallThatDoesNotGetThroughIsAnError(t *testing.T) {
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n0 := startGossipNode(t, ca, "n0", nil)
	n1 := startGossipNode(t, ca, "n1", []string{n0.q.Addr().String()})
	t.Cleanup(func() {
		for _, n := range []*gossipNode{n1, n0} {
			n.m.stop()
			n.q.Close()
			n.m.wait()
		}
	})

	// The caller trusts another CA: every handshake with n1 fails, and
	// no call reaches n1's handler.
	other, err := pki.NewCA("other", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := other.Issue("n2", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, err := transport.NewQUIC(&transport.QUICConfig{Name: "n2", CertPEM: cert, KeyPEM: key, CAPEM: other.CertPEM, Handler: callHandler{}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m := &membership{cfg: memberConfig{name: "n2", quic: q}}

	var to *memberlist.Node
	waitFor(t, "n0 to know n1", func() bool {
		for _, mem := range n0.m.others() {
			if mem.Name == "n1" {
				to = mem
			}
		}
		return to != nil
	})
	// The user message names no member: sent, it changes nothing.
	msg := []byte(leavingPrefix + "nobody")
	err = m.tellLeaving(n0.m.ml, to, msg, time.Now().Add(await.Deadline))
	if err == nil {
		t.Fatal("a leave notice whose call n1 never took reported success")
	}
	t.Logf("the notice's error: %v", err)
	if got := n1.leaves.Load(); got != 0 {
		t.Fatalf("n1 took %d leave calls from a caller it refuses", got)
	}
}
