package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A write the client never sent, because the node's certificate did not
// verify (another CA's: after a CA rotation dropped the CA that signed
// it from the client's ca.crt, say), has a known outcome: not done. It
// was reported as "its outcome is unknown; read it back fresh before
// trying again" (oss.ErrCommitUnknown), since the client's own check of
// the certificate failed with an error mayHaveRun did not know.
func TestRefusedNodeCertificateIsNoUnknownOutcome(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", CAPEM: other.read(t, "ca.crt"), CertPEM: other.read(t, "n1.crt"), KeyPEM: other.read(t, "n1.key")})
	c := p.client(t, srv, "admin")
	_, err := c.PutRoot(context.Background(), "h", "r", 1)
	if err == nil || errors.Is(err, oss.ErrCommitUnknown) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("PUT to a node whose certificate the client refuses: %v; want a refusal of its certificate, not an unknown outcome", err)
	}
}
