package admin_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/admin"
	"go.uber.org/goleak"
)

// A node serves plain HTTP only on loopback (Options.Insecure), but the
// client spoke it to any address: with OSS_HTTP_INSECURE=1 left in the
// environment, "ossd put --http 192.0.2.2:17999 bank acct '{"pin":1234}'"
// sent the value in the clear to whatever listened there and printed the
// answer of a server that held no certificate as the put's, exit 0. The
// client refuses an insecure address that is not loopback before it
// sends anything, and still speaks plain HTTP to loopback.
func TestInsecureClientOnlyToLoopback(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	for _, addr := range []string{"192.0.2.2:7480", "node1.example:7480", "127.0.0.1:7480,192.0.2.2:7480", "[fd00::2]:7480", ":7480"} {
		c, err := admin.NewClient(addr, &admin.ClientOptions{Insecure: true})
		if err == nil {
			c.Close()
			t.Errorf("an insecure client of %s was made, want a refusal", addr)
			continue
		}
		if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("an insecure client of %s: %v, want a refusal that names loopback", addr, err)
		}
	}

	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	_, port, _ := net.SplitHostPort(srv.Addr())
	for _, addr := range []string{srv.Addr(), "localhost:" + port} {
		c, err := admin.NewClient(addr, &admin.ClientOptions{Insecure: true})
		if err != nil {
			t.Fatalf("an insecure client of %s: %v", addr, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err = c.Heaps(ctx)
		cancel()
		c.Close()
		if err != nil {
			t.Errorf("an insecure client of %s: %v", addr, err)
		}
	}
}
