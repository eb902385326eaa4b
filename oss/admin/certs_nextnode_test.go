package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss/admin"
)

// A node whose certificate has expired (it ran on past it) presents it on
// its admin interface, and the client refuses it before it sends
// anything: with several addresses, the request goes on to the next node,
// as it does past a node that says it is revoked, and alone the error
// says the node's certificate expired and how to renew it. The CLI
// stopped at such a node ("is --certs' ca.crt the cluster's CA?"), and an
// ossd put through --http n4,n2 failed 1,066 times of 1,066 once n4's
// certificate had expired.
func TestRequestGoesPastANodeOnAnExpiredCertificate(t *testing.T) {
	p := newPKI(t)
	p.issue(t, "n4", ipki.RoleServer, time.Now().Add(-3*time.Hour), time.Hour)
	n := startNode(t)
	expired := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", CAPEM: p.read(t, "ca.crt"), CertPEM: p.read(t, "n4.crt"), KeyPEM: p.read(t, "n4.key")})
	good := serve(t, n, p.serverOptions(t))
	ctx := context.Background()

	c, err := admin.NewClient(expired.Addr()+","+good.Addr(), &admin.ClientOptions{CertDir: p.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.PutRoot(ctx, "h", "r", 1); err != nil {
		t.Fatalf("put through a node on an expired certificate, then a sound one: %v; want it taken by the second", err)
	}

	alone, err := admin.NewClient(expired.Addr(), &admin.ClientOptions{CertDir: p.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	_, err = alone.Status(ctx)
	if err == nil || !strings.Contains(err.Error(), `"n4"`) || !strings.Contains(err.Error(), "expired") ||
		!strings.Contains(err.Error(), "ossd cert issue --name n4 --force") || strings.Contains(err.Error(), "is --certs' ca.crt the cluster's CA") {
		t.Fatalf("status of a node on an expired certificate: %v; want its certificate named expired, with how to renew it", err)
	}
}

// A node that refuses the client's certificate at the handshake handled
// nothing of the request, which goes on to the next node: here the first
// node trusts another CA than the client's (a node left out of a CA
// rotation's last step), and the second takes the put.
func TestRequestGoesPastANodeThatRefusesTheClient(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	n := startNode(t)
	refusing := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", CAPEM: other.read(t, "ca.crt"), CertPEM: p.read(t, "n1.crt"), KeyPEM: p.read(t, "n1.key")})
	good := serve(t, n, p.serverOptions(t))
	c, err := admin.NewClient(refusing.Addr()+","+good.Addr(), &admin.ClientOptions{CertDir: p.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.PutRoot(context.Background(), "h", "r", 1); err != nil {
		t.Fatalf("put through a node that refuses the client's certificate, then one that takes it: %v; want it taken by the second", err)
	}
}
