package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// The CLI warns of its user's certificate nearing its expiry (less than
// a tenth of its hour left here), as a node warns of its own, and says
// nothing while it is far from it or once it has expired (the node's
// refusal then names it). It said nothing until the nodes refused it.
func TestCLIWarnsOfAnExpiringUserCertificate(t *testing.T) {
	caCert, caKey, err := pki.NewCA("test", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := pki.IssueCert(caCert, caKey, "admin", pki.RoleAdmin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.crt"), cert, 0o644); err != nil {
		t.Fatal(err)
	}
	info, _ := pki.Inspect(cert)
	warning := func(now time.Time) string {
		var b strings.Builder
		warnExpiringUserCert(&b, dir, "admin", now)
		return b.String()
	}
	if w := warning(info.NotAfter.Add(-5 * time.Minute)); !strings.Contains(w, "warning") || !strings.Contains(w, "in 5m0s") ||
		!strings.Contains(w, info.Serial.Text(16)) || !strings.Contains(w, "--name admin --force") {
		t.Fatalf("warning 5 minutes before the user's certificate expires: %q", w)
	}
	if w := warning(time.Now()); w != "" {
		t.Fatalf("warning with the certificate's hour ahead: %q", w)
	}
	if w := warning(info.NotAfter.Add(time.Minute)); w != "" {
		t.Fatalf("warning of a certificate expired already: %q", w)
	}
}
