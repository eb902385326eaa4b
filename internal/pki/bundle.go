package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseBundle reads a CA bundle, the PEM certificates of the CAs a node
// trusts (during a CA rotation the old and the new), and returns them and
// the pool they make. It refuses a bundle that holds no certificate, a
// certificate that does not parse or is cut short, and one that is not a
// CA's: a damaged bundle would otherwise drop one of its CAs without a
// word (x509's AppendCertsFromPEM skips what does not parse), and with it
// every node that CA certified. Text around the PEM blocks is ignored, as
// are blocks of other types.
func ParseBundle(caPEM []byte) (*x509.CertPool, []*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := caPEM
	for i := 1; ; i++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if bytes.Contains(rest, []byte("-----BEGIN")) {
				return nil, nil, fmt.Errorf("PEM block %d is cut short or damaged", i)
			}
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("PEM block %d does not parse as a certificate: %w", i, err)
		}
		if !c.IsCA {
			return nil, nil, fmt.Errorf("PEM block %d is the certificate of %q, not a CA's", i, c.Subject.CommonName)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("no PEM certificate in it")
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, certs, nil
}
