package oss

import (
	"fmt"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// Expiry warnings: a node warns of its own certificate's expiry (or its
// CA's) once less than expiryWarnAhead, or a tenth of the certificate's
// validity if that is shorter, remains, at most every minute (every
// expiryCheckEvery for long validities), and logs an error at the expiry
// and hourly after it.
const (
	expiryWarnAhead  = 30 * 24 * time.Hour
	expiryCheckEvery = time.Hour
)

// startLifecycle enforces the revocations the catalog replica holds at
// start and watches the node's own certificate for expiry until the node
// closes.
func (n *Node) startLifecycle() {
	n.applyRevocations()
	if n.quic == nil {
		return
	}
	n.wg.Go(n.watchExpiry)
	if n.peers != nil {
		n.wg.Go(func() { n.peers.run(n.ctx.Done()) })
	}
}

// watchExpiry logs a warning while the node's certificate nears its
// expiry, and an error once it has expired.
func (n *Node) watchExpiry() {
	for {
		every := n.checkExpiry(time.Now())
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// checkExpiry logs what the node's certificate's expiry calls for at now,
// and returns when to check again.
func (n *Node) checkExpiry(now time.Time) time.Duration {
	id := n.quic.Certificate()
	ahead := expiryAhead(id) // certexpiry.go
	left := id.Expires.Sub(now)
	switch {
	case left <= 0:
		n.log.Error("this node's certificate (or its CA's) has expired: its peers refuse it; issue a new one and restart the node on it (or reload it)",
			"expired", id.Expires, "serial", id.Serial.Text(16))
	case left < ahead:
		n.log.Warn("this node's certificate (or its CA's) expires soon: issue a new one and restart the node on it (or reload it) before then",
			"expires", id.Expires, "left", left.Round(time.Second), "serial", id.Serial.Text(16))
	}
	// Warnings at most every minute (a tenth of the warning period for
	// long ones, up to an hour), the first when due, the error at the
	// expiry, and then hourly: a node on a short-lived certificate must
	// not flood its log.
	every := min(expiryCheckEvery, max(ahead/10, time.Minute))
	switch {
	case left <= 0:
		return expiryCheckEvery
	case left > ahead:
		every = min(every, left-ahead)
	default:
		every = min(every, left)
	}
	return max(every, time.Second)
}

// ReloadCertificate replaces the node's certificate and key, without a
// restart: handshakes from now on present the new certificate, and
// connections open already keep the old one until they end. The new
// certificate must name the node, carry its role, verify against the
// cluster's CA and not be revoked. To make every peer move to the new
// certificate at once, revoke the old one by serial: peers close the
// connections made with it, and they are made again with the new one.
// ossd reloads its certificate files on SIGHUP.
func (n *Node) ReloadCertificate(certPEM, keyPEM []byte) error {
	return n.ReloadTLS(nil, certPEM, keyPEM)
}

// ReloadTLS replaces, without a restart, the CA bundle the node trusts
// (caPEM: the PEM certificates of every CA; nil keeps the current one)
// and its certificate and key (nil certPEM keeps the current pair; see
// ReloadCertificate), both at once, so that a step of a CA rotation that
// changes both is taken. Handshakes from now on verify peers against the
// new bundle; open connections whose peer's certificate no longer
// verifies against it (its CA was removed) are closed. A bundle that does
// not parse, holds no CA certificate, or does not certify the node's
// certificate is refused, and the node goes on as it was. ossd reloads
// ca.crt with its certificate files on SIGHUP: docs/design.md, "Rotating
// the CA".
func (n *Node) ReloadTLS(caPEM, certPEM, keyPEM []byte) error {
	if n.quic == nil {
		return fmt.Errorf("%w: reload the certificate: the node does not listen", ErrInvalidArgument)
	}
	var info pki.CertInfo
	if certPEM != nil {
		var err error
		if info, err = pki.Inspect(certPEM); err != nil {
			return fmt.Errorf("oss: reload the certificate: %w", err)
		}
		if info.Role != n.cfg.Role {
			return fmt.Errorf("oss: reload the certificate: it carries the role %q, the node runs as %q: issue one with --role %s", info.Role, n.cfg.Role, n.cfg.Role)
		}
		if r, ok := n.revokedBy(info.Name, info.Serial, info.NotBefore); ok {
			return fmt.Errorf("oss: reload the certificate: %w: issue a new one", revokedError(r))
		}
	}
	var cas []pki.CertInfo
	if caPEM != nil {
		var err error
		if cas, err = pki.ParseBundle(caPEM); err != nil {
			return fmt.Errorf("oss: reload the CA bundle: %w", err)
		}
	}
	old := n.quic.Certificate()
	if err := n.quic.SetTLS(caPEM, certPEM, keyPEM); err != nil {
		return fmt.Errorf("oss: reload: %w", err)
	}
	if caPEM != nil {
		names := make([]string, len(cas))
		for i, c := range cas {
			names[i] = c.Name
		}
		n.log.Info("CA bundle reloaded", "cas", names)
	}
	if certPEM != nil {
		n.log.Info("certificate reloaded", "serial", info.Serial.Text(16), "expires", info.NotAfter, "replaces", old.Serial.Text(16))
	}
	n.checkExpiry(time.Now())
	return nil
}

// Certificate returns what the node's current certificate says; false if
// the node does not listen.
func (n *Node) Certificate() (pki.CertInfo, bool) {
	if n.quic == nil {
		return pki.CertInfo{}, false
	}
	id := n.quic.Certificate()
	return pki.CertInfo{Name: id.Name, Role: pki.Role(id.Role), Serial: id.Serial, NotBefore: id.NotBefore, NotAfter: id.NotAfter}, true
}
