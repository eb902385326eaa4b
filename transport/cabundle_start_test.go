package transport_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
)

// NewQUIC refuses the CA bundles SetTLS refuses: one whose second CA is
// cut short started the endpoint trusting the first alone (x509's
// AppendCertsFromPEM skips what does not parse), and every peer of the
// second was refused with nothing said about the bundle.
func TestNewQUICRefusesABundleSetTLSRefuses(t *testing.T) {
	ca1, ca2 := newCA(t), newCA(t)
	cert, key, err := ca1.Issue("a", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for what, bundle := range map[string][]byte{
		"second CA cut short":  append(append([]byte(nil), ca1.CertPEM...), ca2.CertPEM[:len(ca2.CertPEM)/2]...),
		"a node's certificate": append(append([]byte(nil), ca1.CertPEM...), cert...),
	} {
		q, err := transport.NewQUIC(&transport.QUICConfig{Name: "a", CertPEM: cert, KeyPEM: key, CAPEM: bundle,
			Handler: newRecorder(), Logger: quiet})
		if err == nil {
			q.Close()
			t.Errorf("%s: the endpoint started", what)
		}
	}
}
