package admin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// certRefusedError is a request that failed at the TLS handshake: the
// node refused the client's certificate, or the client the node's. The
// node handled nothing of it, so it may go to the next node (tookNothing),
// as past a node that says it is revoked: a node that ran on past its
// certificate's expiry, or one left out of a CA rotation, stopped every
// request of an --http list at it.
type certRefusedError struct {
	msg string
	err error
}

func (e *certRefusedError) Error() string { return e.msg }
func (e *certRefusedError) Unwrap() error { return e.err }

// nodeCertRefused is the error of a request whose node presented a
// certificate the client refuses (refused.Err says why): one that has
// expired (or whose CA has) is named, with how to renew it, rather than
// taken for another CA's.
func nodeCertRefused(base string, refused *tls.CertificateVerificationError) error {
	var invalid x509.CertificateInvalidError
	if errors.As(refused.Err, &invalid) && invalid.Reason == x509.Expired && len(refused.UnverifiedCertificates) > 0 {
		leaf := refused.UnverifiedCertificates[0]
		name := leaf.Subject.CommonName
		return &certRefusedError{err: refused.Err, msg: fmt.Sprintf("the node at %s presents a certificate that has expired, so nothing was sent: "+
			"its certificate of %q (serial %s) was valid until %s, or its CA until earlier: issue it a new one (ossd cert issue --name %s --force) and reload it (SIGHUP): %v",
			base, name, leaf.SerialNumber.Text(16), leaf.NotAfter.UTC().Format(time.RFC3339), name, refused.Err)}
	}
	return &certRefusedError{err: refused.Err, msg: fmt.Sprintf("the node at %s presents a certificate this client refuses, so nothing was sent: %v (is --certs' ca.crt the cluster's CA?)", base, refused.Err)}
}
