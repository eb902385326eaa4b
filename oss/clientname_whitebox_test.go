package oss

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
)

// A client certificate of a server's name joins the catalog while that
// server is down. It must be refused: it was registered under the name,
// the server's record moved to the client's raft ID, and the catalog then
// took the server's own ID for a former incarnation of it ("c/…").
func TestAClientCertificateCannotTakeAServersName(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*await.Deadline)
	defer cancel()
	a := c.nodes["a"]
	serverID := c.nodes["c"].id
	c.kill("c")
	await.Until(t, "c failed for a", func() bool {
		for _, m := range a.Members() {
			if m.Name == "c" {
				return false
			}
		}
		return true
	})
	cert, key, err := pki.IssueCert(c.caCert, c.caKey, "c", pki.RoleClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n, err := startJoining(ctx, t, &Config{Name: "c", Role: pki.RoleClient, Listen: "127.0.0.1:0", Gossip: GossipLoopback,
		TLS: &TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: c.caCert}, Join: []string{a.Addr()},
		Logger: testLogger().With("test", t.Name(), "cert", "client")})
	if err == nil {
		n.Close(ctx)
		t.Errorf("a client certificate named c joined the catalog of a cluster whose server c is down")
	} else if !errors.Is(err, ErrJoinRefused) {
		t.Errorf("the client named c: %v; want ErrJoinRefused", err)
	}
	if rec := a.committed().recs["c"]; rec.ID != serverID {
		t.Fatalf("c's node record: raft ID %016x, the server's %016x", rec.ID, serverID)
	}
	if err := c.start("c"); err != nil {
		t.Fatalf("server c, started again: %v", err)
	}
}
