package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss"
)

// A node that refuses the client's certificate at the handshake (here an
// expired one) handled no request, and the client says so, naming its
// certificate and dates: the node's TLS alert over TCP was not
// recognised, so the CLI said "no node answers" and, for a write, that
// its outcome was unknown.
func TestExpiredClientCertificateIsARefusal(t *testing.T) {
	n := startNode(t)
	p := newPKI(t)
	p.issue(t, "old", ipki.RoleAdmin, time.Now().Add(-3*time.Hour), time.Hour)
	srv := serve(t, n, p.serverOptions(t))
	c := p.client(t, srv, "old")
	ctx := context.Background()
	_, err := c.PutRoot(ctx, "h", "r", 1)
	if err == nil || errors.Is(err, oss.ErrCommitUnknown) || !strings.Contains(err.Error(), `refused this client's certificate ("old"`) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("PUT with an expired certificate: %v; want the node's refusal of it, naming it and its dates", err)
	}
	if _, err := c.Status(ctx); err == nil || strings.Contains(err.Error(), "no node answers") {
		t.Fatalf("status with an expired certificate: %v; want the node's refusal of it", err)
	}
}
