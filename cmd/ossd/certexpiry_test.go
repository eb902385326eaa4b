package main

import (
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// ossd status names each certificate the status lists as expiring soon,
// when, and the commands that renew it; one already expired (the node's
// own, asked over --http-insecure) is said to be. It printed nothing of
// them.
func TestStatusPrintsExpiringCertificates(t *testing.T) {
	now := time.Date(2026, 12, 6, 16, 59, 53, 0, time.UTC)
	st := &oss.ClusterStatus{Node: "n1", Members: []oss.Member{{Name: "n1"}, {Name: "n4"}},
		Expiring: []oss.CertificateExpiry{
			{Node: "n4", Serial: "21fad107", Expires: now.Add(10 * time.Second)},
			{Node: "n5", Serial: "aa", Expires: now.Add(-time.Minute)},
		}}
	var b strings.Builder
	printExpiring(&b, st, now)
	out := b.String()
	for _, want := range []string{
		"expiring: the certificate of n4 (serial 21fad107) expires at 2026-12-06T17:00:03Z, in 10s;",
		"ossd cert issue --name n4 --force",
		"expired: the certificate of n5 (serial aa) expired at 2026-12-06T16:58:53Z",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("ossd status of expiring certificates:\n%s\nwant %q in it", out, want)
		}
	}
	b.Reset()
	st.Expiring = nil
	printStatus(&b, st)
	if strings.Contains(b.String(), "expir") {
		t.Fatalf("ossd status with no certificate near its expiry:\n%s", b.String())
	}
	if got := roughly(50*time.Hour + 30*time.Minute); got != "2d2h" {
		t.Fatalf("roughly(50h30m) = %q", got)
	}
}
