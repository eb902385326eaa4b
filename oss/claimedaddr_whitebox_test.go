package oss

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
)

// joinRelay is an endpoint of its own (a server "relay" of the cluster's
// CA) that passes each join call it is sent to the catalog leader's
// admission (admitJoin) with the call's context: the admission sees the
// process at the other end of the relay's connection as the caller,
// and the relay holds no other connection of its name, so the
// transport's check of a second holder of a name (checkUnique) decides
// nothing.
type joinRelay struct {
	leader *Node
}

func (joinRelay) HandleMessage(string, []byte) {}

func (joinRelay) HandleStream(context.Context, string, []byte, io.Reader) error { return nil }

// HandleCall answers "final" or "again", then the admission's error.
func (r joinRelay) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	var cr callRequest
	if err := codec.Unmarshal(req, &cr); err != nil {
		return nil, err
	}
	final, err := r.leader.admitJoin(ctx, r.leader.catalog.Load(), from, &cr)
	out := "again"
	if final {
		out = "final"
	}
	if err != nil {
		out += " " + err.Error()
	} else {
		out += " admitted"
	}
	return []byte(out), nil
}

// startJoinRelay starts a joinRelay to the catalog leader of c.
func startJoinRelay(t *testing.T, c *durableQUIC, leader *Node) *transport.QUIC {
	t.Helper()
	cert, key, err := pki.IssueCert(c.caCert, c.caKey, "relay", pki.RoleServer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, err := transport.NewQUIC(&transport.QUICConfig{Name: "relay", Listen: "127.0.0.1:0", CertPEM: cert, KeyPEM: key, CAPEM: c.caCert,
		Handler: joinRelay{leader: leader}, Logger: testLogger().With("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// relayJoin sends, from q, a join of the catalog under id claiming addr
// to the relay, and returns its answer.
func relayJoin(t *testing.T, ctx context.Context, q *transport.QUIC, relay *transport.QUIC, id uint64, addr string) string {
	t.Helper()
	q.SetPeer("relay", relay.Addr().String())
	req, err := codec.Marshal(callRequest{Op: opJoin, Heap: catalogName, ID: id, Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := q.Call(ctx, "relay", req)
	if err != nil {
		t.Fatal(err)
	}
	return string(resp)
}

// A second process holding a live client's certificate (a copy of its
// files) that claims the live one's advertised address is refused for
// good by the catalog's leader as already live: the leader pings the
// address, and the process answering there is not the one whose join
// it serves. Until 2026-12-06 a join claiming membership's address was
// taken for the node's restart and told to try again, with no ping, for
// as long as the live one ran: a start that hung, and whose gossip could
// move membership's entry of the name to its raft ID. The live p's own
// join claiming its address (the restart's case: the process answering
// is the caller) is still told to try again.
func TestSecondProcessClaimingALiveNodesAddressIsRefusedByTheLeader(t *testing.T) {
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

	dup, err := transport.NewQUIC(&transport.QUICConfig{Name: "p", Listen: "127.0.0.1:0", CertPEM: p.tls.CertPEM, KeyPEM: p.tls.KeyPEM, CAPEM: p.tls.CAPEM,
		Handler: joinRelay{}, Logger: testLogger().With("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	defer dup.Close()
	// Under load the leader's ping of p's address can go unanswered in
	// time, and the join is told to try again (unansweredInTime).
	got := relayJoinAnswered(t, ctx, dup, startJoinRelay(t, c, leader), p.n.id+1, p.advert)
	if !strings.HasPrefix(got, "final ") || !strings.Contains(got, ErrJoinRefused.Error()) || !strings.Contains(got, `a node named "p" is already live`) {
		t.Fatalf("a second process of p's certificate at %s claiming p's address %s: %q; want refused for good as already live", dup.Addr(), p.advert, got)
	}
	if rec := leader.committed().recs["p"]; rec.ID != p.n.id {
		t.Fatalf("p's record names raft ID %016x, the live p runs %016x", rec.ID, p.n.id)
	}

	got = relayJoin(t, ctx, p.n.quic, startJoinRelay(t, c, leader), p.n.id+1, p.advert)
	if !strings.HasPrefix(got, "again ") || strings.Contains(got, ErrJoinRefused.Error()) {
		t.Fatalf("the live p's own join claiming its address %s: %q; want told to try again, as its restart would be", p.advert, got)
	}
	t.Logf("the live p's own join: %s", got)
}

// A client listening on every address at port P, advertising 127.0.0.1:P,
// crashed and started again without its data at the same port but
// advertising 127.0.0.2:P (another address of the same socket) while
// the catalog's leader's membership still lists the old process live, is
// admitted: the leader pings the listed address, and the process
// answering is the one joining. Until 2026-12-06 the addresses were
// compared as strings: another string was another node, the new process
// answered the ping at the old address, and it was refused for good as
// already live.
func TestRestartAdvertisingAnotherAddressOfItsSocketIsAdmitted(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	p := startAdvertisedP(t, ctx, c)
	await.Until(t, "p at its advertised address in a's view", func() bool { return memberAt(c.nodes["a"], "p", p.advert) })
	catalogLeaderWith(t, c, p.n)
	old := p.n.id
	stale, lifted := crashUnseen(t, ctx, c, p)
	_, port, err := net.SplitHostPort(p.listen)
	if err != nil {
		t.Fatal(err)
	}
	// Told to try again while membership lists the old process (the
	// new one answers at the old address, so only its own gossip moves
	// the entry), the start is tried again, as ossd's JoinRetry does.
	// Since 2026-12-07 the leader admits the proven restart at once
	// (TestProvenRestartAtItsListedAddressIsAdmittedAtOnce).
	again, err := Start(ctx, p.cfg(t, p.listen, "127.0.0.2:"+port))
	for err != nil && strings.Contains(err.Error(), "try again") && ctx.Err() == nil {
		t.Logf("told to try again: %v", err)
		again, err = Start(ctx, p.cfg(t, p.listen, "127.0.0.2:"+port))
	}
	stale.Store(false)
	<-lifted
	if err != nil {
		t.Fatalf("p, started again without its data at %s advertising 127.0.0.2:%s (before: %s): %v", p.listen, port, p.advert, err)
	}
	t.Cleanup(func() { again.Close(context.Background()) })
	if again.id == old {
		t.Fatalf("p started again without its data under its old raft ID %016x", old)
	}
	await.Until(t, "p's record under its new raft ID on every server", func() bool {
		for _, n := range c.nodes {
			if n.committed().recs["p"].ID != again.id {
				return false
			}
		}
		return true
	})
}

// Addresses are compared as IP addresses and ports, not as strings.
func TestSameAddrComparesAddressesNotStrings(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"127.0.0.1:7400", "127.0.0.1:7400", true},
		{"[::1]:7400", "[0:0::1]:7400", true},
		{"[2001:DB8::1]:7400", "[2001:db8::1]:7400", true},
		{"127.0.0.1:7400", "[::ffff:127.0.0.1]:7400", true},
		{"127.0.0.1:7400", "127.0.0.2:7400", false},
		{"127.0.0.1:7400", "127.0.0.1:7401", false},
		{"host:7400", "host:7400", true},
	} {
		if got := sameAddr(tc.a, tc.b); got != tc.want {
			t.Errorf("sameAddr(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
