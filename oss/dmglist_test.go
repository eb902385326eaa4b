package oss_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/pki"
)

// listPKI is a cluster CA with a node's certificate (n1, server), which
// both admin interfaces present, and an operator's (admin).
type listPKI struct {
	caPEM, nodeCert, nodeKey []byte
	client                   *tls.Config
}

func newListPKI(t *testing.T) *listPKI {
	t.Helper()
	caPEM, caKey, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &listPKI{caPEM: caPEM}
	if p.nodeCert, p.nodeKey, err = pki.IssueCert(caPEM, caKey, "n1", pki.RoleServer, time.Hour); err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.IssueCert(caPEM, caKey, "admin", pki.RoleAdmin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p.client, err = admin.ClientTLSConfig(caPEM, cert, key); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveAdmin serves n's admin interface (admin.NewHandler) over TLS with
// client certificates of p's CA, and returns its address.
func (p *listPKI) serveAdmin(t *testing.T, n *oss.Node) string {
	t.Helper()
	h, err := admin.NewHandler(n, &admin.Options{CAPEM: p.caPEM, CertPEM: p.nodeCert, KeyPEM: p.nodeKey})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(p.nodeCert, p.nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	// The handler verifies the client's certificate against the CA (and
	// the node's revocations) at every request; the handshake asks for it.
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://")
}

// listNode starts an in-memory node with a heap, a grant and a
// revocation of its own, which its lists show.
func listNode(t *testing.T, name string) *oss.Node {
	t.Helper()
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Name: name, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	if _, err := n.CreateHeap(ctx, "heap-of-"+name, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.Grant(ctx, oss.Grant{Who: "reader-of-" + name, Heap: "heap-of-" + name, Perm: oss.PermRead}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.RevokeCertificate(ctx, "revoked-by-"+name, nil); err != nil {
		t.Fatal(err)
	}
	return n
}

// A damaged node's heaps, grants and revocations are those of its lost
// catalog replica, which no longer learns of changes: it answers the
// lists with its damage (503, X-Oss-Node-State: damaged), as every other
// call that needs the catalog, so the admin client goes on to the next
// node and the operator sees that node's lists, not stale ones. Before,
// it answered them 200 from the lost replica. Its status still answers.
func TestDamagedNodeRefusesItsLists(t *testing.T) {
	ctx := context.Background()
	p := newListPKI(t)
	bad, good := listNode(t, "a"), listNode(t, "b")
	if !oss.LoseCatalogForTest(bad) {
		t.Fatal("the catalog replica was not lost")
	}
	if bad.Damage() == nil {
		t.Fatal("a node whose catalog replica was lost is not damaged")
	}
	badAddr, goodAddr := p.serveAdmin(t, bad), p.serveAdmin(t, good)

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: p.client}}
	t.Cleanup(hc.CloseIdleConnections)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := hc.Get("https://" + badAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		if _, err := io.Copy(&b, resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp, b.String()
	}
	for _, path := range []string{"/v1/heaps", "/v1/acl", "/v1/revocations"} {
		resp, body := get(path)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Oss-Node-State") != "damaged" ||
			!strings.Contains(body, "oss:catalog") {
			t.Errorf("GET %s of a damaged node: %d, state %q, %s; want 503, damaged, the damage", path, resp.StatusCode, resp.Header.Get("X-Oss-Node-State"), body)
		}
	}
	if resp, body := get("/v1/status"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "oss:catalog") {
		t.Errorf("GET /v1/status of a damaged node: %d %s; want 200 with the damage", resp.StatusCode, body)
	}

	c, err := admin.NewClient(badAddr+","+goodAddr, &admin.ClientOptions{TLS: p.client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	hs, err := c.Heaps(ctx)
	if err != nil {
		t.Fatalf("heaps through a list whose first node is damaged: %v", err)
	}
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Name
	}
	if !slices.Contains(names, "heap-of-b") || slices.Contains(names, "heap-of-a") {
		t.Errorf("heaps through a list whose first node is damaged: %v; want the healthy node's", names)
	}
	gs, err := c.Grants(ctx)
	if err != nil || len(gs) != 1 || gs[0].Who != "reader-of-b" {
		t.Errorf("grants through a list whose first node is damaged: %+v %v; want the healthy node's", gs, err)
	}
	rs, err := c.Revocations(ctx)
	if err != nil || len(rs) != 1 || rs[0].Name != "revoked-by-b" {
		t.Errorf("revocations through a list whose first node is damaged: %+v %v; want the healthy node's", rs, err)
	}
}
