package oss

import (
	"fmt"
	"strings"
	"time"
)

// Revoked returns an error matching ErrRevoked if the node's own
// certificate is covered by a revocation its catalog replica holds, or a
// peer closed a connection refusing it as revoked; nil otherwise. Its peers then refuse it: it serves nothing of the cluster
// until it runs on a new certificate (a reload, SIGHUP for ossd), and what
// it would answer from its replicas is as old as the revocation. The
// admin interface refuses its requests saying so, and Status reports it.
func (n *Node) Revoked() error {
	if n.quic == nil {
		return nil
	}
	own := n.quic.Certificate()
	r, ok := n.revokedBy(own.Name, own.Serial, own.NotBefore)
	if !ok {
		// The peers close the node's connections as soon as they apply
		// the revocation, often before its entry reaches the node.
		if peer, reason := n.quic.RefusedOwn(); strings.Contains(reason, ErrRevoked.Error()) {
			return fmt.Errorf("%w: node %q runs on a certificate (serial %x) that %s refused as revoked (%s): its peers refuse it, so it serves nothing of the cluster; issue it a new certificate (ossd cert issue --force) and reload it (SIGHUP), or stop it if it was removed for good",
				ErrRevoked, n.cfg.Name, own.Serial, peer, reason)
		}
		return nil
	}
	return fmt.Errorf("%w: node %q runs on a certificate (serial %x) that the cluster revoked (%s, by %s at %s): its peers refuse it, so it serves nothing of the cluster; issue it a new certificate (ossd cert issue --force) and reload it (SIGHUP), or stop it if it was removed for good",
		ErrRevoked, n.cfg.Name, own.Serial, describe(r), r.By, r.At.UTC().Format(time.RFC3339))
}
