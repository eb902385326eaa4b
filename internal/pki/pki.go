// Package pki creates a cluster's certificate authority, issues node
// certificates, and verifies peers against the CA. The CA is private to one
// cluster and used for nothing else; a node certificate names the node (its
// common name and DNS name) and its role.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Roles a certificate can carry, in its organizational unit.
const (
	RoleServer = "server" // a node that may vote and lead heaps
	RoleClient = "client" // a node that only keeps learner replicas
	// RoleAdmin is an operator: it may use every node's admin interface
	// with every permission, and is never a node.
	RoleAdmin = "admin"
)

// validRole reports whether role is one a certificate may carry.
func validRole(role string) bool {
	return role == RoleServer || role == RoleClient || role == RoleAdmin
}

// NodeRole reports whether role is one a node may run with.
func NodeRole(role string) bool { return role == RoleServer || role == RoleClient }

// CA is a cluster certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// CertPEM is the CA certificate in PEM form.
	CertPEM []byte
}

// Backdate is how far before the moment of issue a certificate's
// NotBefore is set, so that a peer whose clock is a little behind accepts
// it at once. A certificate NewCA or Issue made was issued at NotBefore +
// Backdate (to the second: NotBefore keeps whole seconds).
const Backdate = time.Minute

// CheckName reports whether name may name a node or an operator in a
// certificate: a DNS-like name of at most 253 bytes, of labels of 1 to 63
// letters, digits, '-' and '_' separated by single dots, no label
// starting with '-'. Such a name is also safe as a file name (ossd writes
// NAME.crt and NAME.key): it holds no path separator and is not "." or
// "..".
func CheckName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 253 {
		return fmt.Errorf("name of %d bytes: at most 253", len(name))
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return fmt.Errorf("name %q: an empty label (a leading, trailing or double dot)", name)
		}
		if len(label) > 63 {
			return fmt.Errorf("name %q: label %q is longer than 63 bytes", name, label)
		}
		if label[0] == '-' {
			return fmt.Errorf("name %q: label %q starts with '-'", name, label)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("name %q: character %q: use letters, digits, '-', '_' and '.'", name, r)
			}
		}
	}
	return nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// NewCA creates a self-signed CA valid from now for validity.
func NewCA(name string, now time.Time, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("pki: CA validity %v: want a positive duration", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"OSS cluster CA"}},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// KeyPEM returns the CA's private key in PEM form.
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// LoadCA reads a CA from its certificate and key in PEM form.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: load CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("pki: load CA: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !cert.IsCA {
		return nil, errors.New("pki: load CA: not an ECDSA CA certificate and key")
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

// Issue creates a key and a certificate for the named node with the given
// role, valid from now for validity, and returns both in PEM form. The
// name must pass CheckName and validity must be positive.
func (ca *CA) Issue(name, role string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if err := CheckName(name); err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	if validity <= 0 {
		return nil, nil, fmt.Errorf("pki: validity %v: want a positive duration", validity)
	}
	if !validRole(role) {
		return nil, nil, fmt.Errorf("pki: unknown role %q", role)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: node key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: name, OrganizationalUnit: []string{role}},
		DNSNames:     []string{name},
		NotBefore:    now.Add(-Backdate),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: node certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// Identity is what a verified certificate says about a peer.
type Identity struct {
	Name string
	Role string
	// NotAfter is when the certificate expires.
	NotAfter time.Time
	// Serial is the certificate's serial number.
	Serial *big.Int
	// NotBefore is when the certificate became valid: Backdate before it
	// was issued, for a certificate Issue made.
	NotBefore time.Time
	// Expires is when the chain it was verified through stops being
	// valid: the earliest NotAfter of the certificate and of the CA (and
	// any intermediate) that signed it.
	Expires time.Time
}

// shown returns a name for an error message: a certificate no CA of
// ours verifies may carry a name of any length, which is cut at the
// longest a node's name may be (CheckName).
func shown(name string) string {
	const most = 253
	if len(name) <= most {
		return name
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "…"
}

// Verify checks a peer's certificate chain against the CA pool at time now
// and returns the identity it names. The error says why a peer is refused.
func Verify(pool *x509.CertPool, chain []*x509.Certificate, now time.Time) (Identity, error) {
	if len(chain) == 0 {
		return Identity{}, errors.New("no certificate presented")
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return Identity{}, fmt.Errorf("certificate of %q refused: %w", shown(leaf.Subject.CommonName), err)
	}
	id := Identity{Name: leaf.Subject.CommonName, NotAfter: leaf.NotAfter, Serial: leaf.SerialNumber, NotBefore: leaf.NotBefore}
	// Of the chains that verify, the one valid longest.
	for _, ch := range chains {
		end := leaf.NotAfter
		for _, c := range ch {
			if c.NotAfter.Before(end) {
				end = c.NotAfter
			}
		}
		if end.After(id.Expires) {
			id.Expires = end
		}
	}
	if len(leaf.Subject.OrganizationalUnit) > 0 {
		id.Role = leaf.Subject.OrganizationalUnit[0]
	}
	if id.Name == "" || !slices.Contains(leaf.DNSNames, id.Name) {
		return Identity{}, fmt.Errorf("certificate of %q does not name its node consistently", id.Name)
	}
	if !validRole(id.Role) {
		return Identity{}, fmt.Errorf("certificate of %q carries no known role", id.Name)
	}
	return id, nil
}
