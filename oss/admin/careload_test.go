package admin_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server.SetCA replaces the CAs whose operators the admin interface
// serves: a dashboard stream opened with a certificate of a CA then
// removed ends before its next snapshot, a kept-alive connection of that
// certificate is refused at its next request, a new one at its
// handshake, and an operator of the CA kept goes on. A bundle without a
// CA certificate is refused. The CAs used to be fixed at the start.
func TestSetCAEndsStreamsOfARemovedCA(t *testing.T) {
	n := startNode(t)
	p1, p2 := newPKI(t), newPKI(t)
	bundle := append(append([]byte(nil), p1.read(t, "ca.crt")...), p2.read(t, "ca.crt")...)
	// p2's operator trusts both CAs: it is the node that must refuse it.
	if err := os.WriteFile(filepath.Join(p2.dir, "ca.crt"), bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := p1.serverOptions(t)
	opts.CAPEM = bundle
	srv := serve(t, n, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/ui/events", nil)
	resp, err := tlsClient(t, p2.tlsConfig(t, "admin")).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/ui/events as the admin of the second CA: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	snapshot := func() bool {
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: snapshot") {
				return true
			}
		}
		return false
	}
	if !snapshot() {
		t.Fatalf("the stream ended before its first snapshot: %v", sc.Err())
	}
	kept := p2.client(t, srv, "admin")
	if _, err := kept.Heaps(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetCA([]byte("no certificate")); err == nil {
		t.Fatal("SetCA took a bundle without a certificate")
	}
	if err := srv.SetCA(p1.read(t, "ca.crt")); err != nil {
		t.Fatal(err)
	}
	after := 0
	for snapshot() {
		if after++; after > 1 {
			t.Fatalf("the stream sent %d snapshots after its certificate's CA was removed", after)
		}
	}
	if _, err := kept.Heaps(ctx); err == nil {
		t.Fatal("a kept-alive connection of the removed CA's operator was served")
	}
	if _, err := p2.client(t, srv, "admin").Heaps(ctx); err == nil {
		t.Fatal("a new connection of the removed CA's operator was served")
	}
	if _, err := p1.client(t, srv, "admin").Heaps(ctx); err != nil {
		t.Fatalf("the operator of the CA kept: %v", err)
	}
}
