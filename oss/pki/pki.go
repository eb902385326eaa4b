// Package pki makes the certificates an OSS cluster authenticates its
// nodes with: a certificate authority private to the cluster, and a
// certificate for each node that names the node and its Role. Nodes refuse
// peers whose certificate the cluster's CA did not sign, has expired, or
// names another node.
//
// ossd's "ca init" and "cert issue" commands do the same from the shell.
//
// A node's connections end when the certificate of either side expires
// (or the CA's), and a certificate can be revoked in the cluster with
// oss.Node.RevokeCertificate ("ossd cert revoke"); see docs/design.md,
// "Certificate lifecycle".
package pki

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	ipki "github.com/objectsharing/oss/internal/pki"
)

// Role is what a node may do in its cluster. It is carried in the node's
// certificate and must match oss.Config.Role.
type Role string

// The roles of a node.
const (
	// RoleServer is a node that may vote in and lead the heaps' groups.
	RoleServer Role = ipki.RoleServer
	// RoleClient is a node that only keeps learner replicas of the heaps
	// it opens.
	RoleClient Role = ipki.RoleClient
	// RoleAdmin is an operator, not a node: its certificate opens every
	// node's admin interface with every permission (ossd's CLI uses one).
	RoleAdmin Role = ipki.RoleAdmin
)

// NewCA creates a cluster certificate authority valid for validity and
// returns its certificate and private key in PEM form. Keep the key
// offline: it is needed only to issue node certificates.
func NewCA(name string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	ca, err := ipki.NewCA(name, time.Now(), validity)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = ca.KeyPEM()
	return ca.CertPEM, keyPEM, err
}

// IssueCert issues a certificate for the named node with the given role,
// signed by the CA whose certificate and key are given in PEM form, valid
// for validity. It returns the node's certificate and its new private key
// in PEM form. The name must pass CheckName and validity must be
// positive, and the CA must not have expired.
//
// Nodes accept a certificate only while its CA is valid too: one whose
// validity runs past the CA's NotAfter is refused from then on, whatever
// its own NotAfter says ("ossd cert issue" refuses such a validity; make
// the CA last longer than the certificates it issues).
func IssueCert(caCertPEM, caKeyPEM []byte, name string, role Role, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	ca, err := ipki.LoadCA(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	if end := ca.Cert.NotAfter; !now.Before(end) {
		return nil, nil, fmt.Errorf("pki: the CA %q expired at %s: every certificate it issues is refused; make a new CA", ca.Cert.Subject.CommonName, end.UTC().Format(time.RFC3339))
	}
	return ca.Issue(name, string(role), now, validity)
}

// Backdate is how far before the moment of issue NewCA and IssueCert set a
// certificate's NotBefore, for peers whose clocks are a little behind.
const Backdate = ipki.Backdate

// CheckName reports whether name may name a node in a certificate: a
// DNS-like name of letters, digits, '-', '_' and single dots, at most 253
// bytes, with labels of at most 63 that do not start with '-'. IssueCert
// refuses other names. Such a name is safe as a file name: it holds no
// path separator and is not "." or "..".
func CheckName(name string) error { return ipki.CheckName(name) }

// CertInfo is what a certificate says, as Inspect reads it.
type CertInfo struct {
	// Name is the node (or operator) the certificate names.
	Name string
	// Role is the role it carries; empty for a CA.
	Role Role
	// Serial is its serial number, unique among the certificates of
	// one CA.
	Serial *big.Int
	// NotBefore and NotAfter bound its validity.
	NotBefore, NotAfter time.Time
	// IsCA says whether it is a CA's certificate.
	IsCA bool
}

// Inspect reads the first certificate of certPEM.
func Inspect(certPEM []byte) (CertInfo, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return CertInfo{}, errors.New("pki: no PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return CertInfo{}, fmt.Errorf("pki: %w", err)
	}
	info := CertInfo{Name: c.Subject.CommonName, Serial: c.SerialNumber, NotBefore: c.NotBefore, NotAfter: c.NotAfter, IsCA: c.IsCA}
	if len(c.Subject.OrganizationalUnit) > 0 && !c.IsCA {
		info.Role = Role(c.Subject.OrganizationalUnit[0])
	}
	return info, nil
}

// ParseBundle reads a CA bundle (ca.crt), the PEM certificates of every
// CA the cluster trusts: one, or the old and the new during a CA
// rotation. It refuses a bundle without a certificate, with one that does
// not parse, or with one that is not a CA's.
func ParseBundle(caPEM []byte) ([]CertInfo, error) {
	_, certs, err := ipki.ParseBundle(caPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: CA bundle: %w", err)
	}
	out := make([]CertInfo, len(certs))
	for i, c := range certs {
		out[i] = CertInfo{Name: c.Subject.CommonName, Serial: c.SerialNumber, NotBefore: c.NotBefore, NotAfter: c.NotAfter, IsCA: true}
	}
	return out, nil
}
