package oss

import (
	"context"
	"strings"
	"testing"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// A second process holding a live client's certificate, which answers
// every ping with what the live p answers a member's ping with (its life:
// transport.QUIC.RelayPings, through a server's endpoint), and asks the
// catalog's leader to join under a new raft ID claiming p's address, is
// not admitted, and p keeps its record: the leader sees p's life at both
// ends, but the challenge its ping carried to p's address went to p,
// which reveals it to the leader's name alone, so the relay cannot echo
// it (transport.CallerProof). The life alone was taken for p's restart
// (told to try again); admitting a restart on the life alone would have
// moved the live p's record to the relay.
func TestProcessRelayingALiveNodesLifeIsNotAdmitted(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	p := startAdvertisedP(t, ctx, c)
	t.Cleanup(func() {
		p.n.Close(context.Background())
		p.fc.Close()
	})
	await.Until(t, "p at its advertised address in a's view", func() bool { return memberAt(c.nodes["a"], "p", p.advert) })
	leader := catalogLeaderWith(t, c, p.n)
	// relayVia is a member, any server but the one asked, that the
	// relay passes the pings through.
	relayVia := func() *Node {
		for _, name := range c.order {
			if n := c.nodes[name]; n != leader {
				return n
			}
		}
		panic("one server")
	}

	dup, err := transport.NewQUIC(&transport.QUICConfig{Name: "p", Listen: "127.0.0.1:0", CertPEM: p.tls.CertPEM, KeyPEM: p.tls.KeyPEM, CAPEM: p.tls.CAPEM,
		Handler: joinRelay{}, Logger: testLogger().With("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	defer dup.Close()
	dup.RelayPings(relayVia().quic, p.advert, "p")
	if there, err := leader.quic.ReachAsLife(ctx, dup.Addr().String(), "p"); err != nil || !there.Known() {
		t.Fatalf("the relay answers a ping with no life: %v", err)
	}

	// Asked of the catalog's leader, again if the lead moved meanwhile
	// (answered with no leader, nothing refused), or a ping went
	// unanswered in time (unansweredInTime).
	var resp callResponse
	for {
		dup.RelayPings(relayVia().quic, p.advert, "p")
		dup.SetPeer(leader.cfg.Name, c.addrs[leader.cfg.Name])
		req, err2 := codec.Marshal(callRequest{Op: opJoin, Heap: catalogName, ID: p.n.id + 1, Addr: p.advert, Cluster: leader.ClusterID()})
		if err2 != nil {
			t.Fatal(err2)
		}
		var b []byte
		resp = callResponse{}
		if b, err = dup.Call(ctx, leader.cfg.Name, req); err == nil {
			err = codec.Unmarshal(b, &resp)
		}
		if err != nil && unansweredInTime(err.Error()) && ctx.Err() == nil {
			// Under load a ping of the leader's (of p, or of the relay,
			// whose answer goes through relayVia) went unanswered in time.
			t.Logf("the relay's join: %v; asked again", err)
			continue
		}
		if err != nil || resp.OK || resp.Refused != "" || ctx.Err() != nil {
			break
		}
		t.Logf("%s no longer leads the catalog: asked again", leader.cfg.Name)
		leader = catalogLeaderWith(t, c, p.n)
	}
	if err == nil && resp.OK {
		t.Fatalf("the relay of p's life at %s, claiming p's address %s, was admitted", dup.Addr(), p.advert)
	}
	if err == nil || !strings.Contains(err.Error(), "as the process that joins") || !strings.Contains(err.Error(), "try again") {
		t.Fatalf("the relay of p's life, claiming p's address %s: %v %+v; want told to try again, its life taken for p's", p.advert, err, resp)
	}
	t.Logf("the relay's join: %v", err)
	for _, n := range c.nodes {
		if rec := n.committed().recs["p"]; rec.ID != p.n.id {
			t.Fatalf("%s: p's record names raft ID %016x, the live p runs %016x", n.cfg.Name, rec.ID, p.n.id)
		}
	}
}
