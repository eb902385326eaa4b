package oss

import (
	"time"

	"github.com/objectsharing/oss/internal/pki"
)

// Node roles, carried in node certificates and in membership.
const (
	RoleServer = pki.RoleServer
	RoleClient = pki.RoleClient
)

// NewCA creates a cluster certificate authority valid for validity and
// returns its certificate and private key in PEM form. Keep the key
// offline: it is needed only to issue node certificates.
func NewCA(name string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	ca, err := pki.NewCA(name, time.Now(), validity)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = ca.KeyPEM()
	return ca.CertPEM, keyPEM, err
}

// IssueCert issues a certificate for the named node with the given role
// (RoleServer or RoleClient), signed by the CA, valid for validity.
func IssueCert(caCertPEM, caKeyPEM []byte, name, role string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	ca, err := pki.LoadCA(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, err
	}
	return ca.Issue(name, role, time.Now(), validity)
}
