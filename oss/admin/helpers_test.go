package admin_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// testPKI is a cluster CA with certificates in a directory, as "ossd ca
// init" and "ossd cert issue" lay them out: the node n1 (server), the
// operator admin (admin) and the client node alice (client).
type testPKI struct {
	dir string
	ca  *ipki.CA
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := ipki.NewCA("test CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: t.TempDir(), ca: ca}
	if err := os.WriteFile(filepath.Join(p.dir, "ca.crt"), ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	p.issue(t, "n1", ipki.RoleServer, time.Now(), time.Hour)
	p.issue(t, "admin", ipki.RoleAdmin, time.Now(), time.Hour)
	p.issue(t, "alice", ipki.RoleClient, time.Now(), time.Hour)
	return p
}

// issue writes NAME.crt and NAME.key, valid from now for validity.
func (p *testPKI) issue(t *testing.T, name, role string, now time.Time, validity time.Duration) {
	t.Helper()
	cert, key, err := p.ca.Issue(name, role, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(p.dir, name+".crt"), cert, 0o644)
	os.WriteFile(filepath.Join(p.dir, name+".key"), key, 0o600)
}

func (p *testPKI) read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serverOptions are the options of n1's TLS admin interface on a free
// loopback port.
func (p *testPKI) serverOptions(t *testing.T) *admin.Options {
	return &admin.Options{Addr: "127.0.0.1:0", CAPEM: p.read(t, "ca.crt"), CertPEM: p.read(t, "n1.crt"), KeyPEM: p.read(t, "n1.key")}
}

// tlsConfig is the client configuration of the named user.
func (p *testPKI) tlsConfig(t *testing.T, name string) *tls.Config {
	t.Helper()
	c, err := admin.LoadClientTLS(p.dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// client is a client of srv as the named user.
func (p *testPKI) client(t *testing.T, srv *admin.Server, name string) *admin.Client {
	t.Helper()
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{CertDir: p.dir, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// startNode starts an in-memory node, closed at the end of the test.
func startNode(t *testing.T) *oss.Node {
	t.Helper()
	n, err := oss.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n
}

// serve starts an admin server of n, closed at the end of the test.
func serve(t *testing.T, n *oss.Node, opts *admin.Options) *admin.Server {
	t.Helper()
	srv, err := admin.NewServer(n, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return srv
}

// heapState is what a refused request must leave as it was: the heap's
// applied index and digest, and the heap directory.
type heapState struct {
	index  uint64
	digest [32]byte
	heaps  int
}

func stateOf(t *testing.T, n *oss.Node, heap string) heapState {
	t.Helper()
	h, err := n.Heap(context.Background(), heap)
	if err != nil {
		t.Fatal(err)
	}
	i, d := h.Digest()
	return heapState{i, d, len(n.Heaps())}
}
