// Package pki makes the certificates an OSS cluster authenticates its
// nodes with: a certificate authority private to the cluster, and a
// certificate for each node that names the node and its Role. Nodes refuse
// peers whose certificate the cluster's CA did not sign, has expired, or
// names another node.
//
// ossd's "ca init" and "cert issue" commands do the same from the shell.
package pki

import (
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
// in PEM form.
func IssueCert(caCertPEM, caKeyPEM []byte, name string, role Role, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	ca, err := ipki.LoadCA(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, err
	}
	return ca.Issue(name, string(role), time.Now(), validity)
}
