package oss

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
)

// TestJoinUnreachedNamesTheAdvertisedAddress: a node whose advertised
// address reaches nothing joins membership by its own calls and is added
// to the catalog's group as a learner, but nothing the leader sends it
// arrives. Its start used to fail saying only that leaders took the
// request and the replica was not in the configuration yet; it names the
// address it advertises as the likely cause now.
func TestJoinUnreachedNamesTheAdvertisedAddress(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b")
	cert, key, err := pki.IssueCert(c.caCert, c.caKey, "x", pki.RoleServer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const advertise = "127.0.0.1:9" // the discard port: nothing of the cluster's listens there
	cfg := &Config{Name: "x", Listen: "127.0.0.1:0", Advertise: advertise, Gossip: GossipLoopback, TickInterval: c.tick,
		ReplaceAfter: time.Second, Logger: testLogger().With("test", t.Name()), Join: []string{c.nodes["a"].Addr(), c.nodes["b"].Addr()},
		TLS: &TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: c.caCert}}
	// The start ends with its join's own bound (joinTimeout), well
	// within this one, a bound against a hang.
	ctx, cancel := context.WithTimeout(t.Context(), await.Deadline)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err == nil {
		n.stop(context.Background(), false)
		t.Fatal("a node whose advertised address reaches nothing started")
	}
	for _, want := range []string{"leaders took the request", "no peer ever reached this node", advertise} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start: %v\nwant it to say %q", err, want)
		}
	}
}
