package admin_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	ipki "github.com/objectsharing/oss/internal/pki"
)

// A dashboard stream opened with a certificate that is then revoked ends
// before its next snapshot: it was authenticated once, when it opened,
// and went on sending the cluster's state to the revoked operator for up
// to uiStreamLifetime (5 minutes).
func TestUIStreamEndsOnRevocation(t *testing.T) {
	n := startNode(t)
	p := newPKI(t)
	p.issue(t, "op2", ipki.RoleAdmin, time.Now(), time.Hour)
	srv := serve(t, n, p.serverOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/ui/events", nil)
	resp, err := tlsClient(t, p.tlsConfig(t, "op2")).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/ui/events as op2: %s", resp.Status)
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
	if _, err := n.RevokeCertificate(ctx, "op2", nil); err != nil {
		t.Fatal(err)
	}
	// One snapshot may have been written before the revocation; a second
	// is sent to a revoked certificate.
	after := 0
	for snapshot() {
		if after++; after > 1 {
			t.Fatalf("the stream sent %d snapshots to op2 after its certificate was revoked", after)
		}
	}
}
