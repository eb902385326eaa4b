package pki_test

import (
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// TestIssueCertRefusesAnExpiredCA: a certificate issued by a CA that has
// expired is refused by every node (its chain no longer verifies), so
// IssueCert refuses to issue it, as "ossd cert issue" does, instead of
// handing out a pair that Start then refuses as expired while Inspect
// shows it valid.
func TestIssueCertRefusesAnExpiredCA(t *testing.T) {
	caCert, caKey, err := pki.NewCA("short", time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.Inspect(caCert)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(ca.NotAfter); d >= 0 {
		time.Sleep(d + time.Millisecond) // until the CA has expired
	}
	_, _, err = pki.IssueCert(caCert, caKey, "n1", pki.RoleServer, time.Hour)
	if err == nil {
		t.Fatalf("IssueCert issued a certificate from a CA that expired at %v", ca.NotAfter)
	}
	if !strings.Contains(err.Error(), "expired") {
		t.Errorf("IssueCert's error does not say the CA expired: %v", err)
	}
}
