package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/quic-go/quic-go"
)

// Application error codes a connection is closed with when its peer's
// certificate is no longer accepted.
const (
	codeCertRefused quic.ApplicationErrorCode = 0x10 // expired, revoked, or no longer verifies
)

// ownCertificate loads this node's certificate and key and checks them
// against the CAs of pool at now (checkOwn).
func ownCertificate(pool *x509.CertPool, name string, certPEM, keyPEM []byte, now time.Time) (*ownCert, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("transport: node certificate: %w", err)
	}
	return checkOwn(pool, name, cert, now)
}

// checkOwn checks that this node's certificate names the node, carries a
// node's role and verifies against the CAs of pool at now: a node whose
// certificate has expired would be refused by every peer, so it is
// better not to start (or to take it, or a CA bundle that does not
// certify it).
func checkOwn(pool *x509.CertPool, name string, cert tls.Certificate, now time.Time) (*ownCert, error) {
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("transport: node certificate: %w", err)
	}
	if leaf.Subject.CommonName != name {
		return nil, fmt.Errorf("transport: certificate names %q, not this node %q", leaf.Subject.CommonName, name)
	}
	chain := []*x509.Certificate{leaf}
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			chain = append(chain, c)
		}
	}
	id, err := pki.Verify(pool, chain, now)
	if err != nil {
		return nil, fmt.Errorf("transport: this node's own %w: %v (valid %s to %s, now %s): issue a new certificate (\"ossd cert issue --force\"), check the CA and the clock",
			errNotCertified, err, leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if !pki.NodeRole(id.Role) {
		return nil, fmt.Errorf("transport: this node's certificate has the role %q, not a node's: issue one with the role server or client", id.Role)
	}
	cert.Leaf = leaf
	return &ownCert{cert: &cert, id: id, pool: pool}, nil
}

// errNotCertified is checkOwn's error for a certificate the CAs do not
// certify at the moment.
var errNotCertified = errors.New("certificate does not verify against the CA bundle")

// ownCert is this node's certificate, what it says, and the CAs it and
// every peer's certificate are verified against: one value, swapped at
// once, so that no handshake sees a certificate with a bundle that does
// not certify it.
type ownCert struct {
	cert *tls.Certificate
	id   pki.Identity
	pool *x509.CertPool
}

// verifyPeer checks a peer's certificate chain as at its handshake: the
// CA signed it, it is valid at Now, it names a node's role, and Revoked
// does not refuse it.
func (t *QUIC) verifyPeer(chain []*x509.Certificate) (pki.Identity, error) {
	id, err := pki.Verify(t.own.Load().pool, chain, t.cfg.Now())
	if err != nil {
		return id, err
	}
	if !pki.NodeRole(id.Role) {
		return id, fmt.Errorf("certificate of %q has the role %q: not a node's", id.Name, id.Role)
	}
	if t.cfg.Revoked != nil {
		if err := t.cfg.Revoked(id); err != nil {
			return id, fmt.Errorf("certificate of %q (serial %x) refused: %w", id.Name, id.Serial, err)
		}
	}
	return id, nil
}

// Recheck verifies the certificate of every connection's peer again, as
// at a handshake, and closes the connections of the peers refused now:
// call it when what QUICConfig.Revoked says has changed. It returns once
// every connection is checked. Expiry needs no call: the endpoint checks
// it every QUICConfig.CheckInterval.
func (t *QUIC) Recheck() {
	t.mu.Lock()
	t.gen++
	t.mu.Unlock()
	t.checkConns()
}

// checked is when a connection's peer was last found valid: until when,
// and in which Recheck generation (a check that began before a Recheck
// counts for nothing after it).
type checked struct {
	until time.Time
	gen   uint64
}

// checkLoop ends the connections whose peer's chain has expired, every
// CheckInterval, until the endpoint closes.
func (t *QUIC) checkLoop() {
	tick := time.NewTicker(t.cfg.CheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
		t.checkConns()
	}
}

// checkConns verifies the peers of the connections not yet checked, or
// whose chain has expired since, and closes those refused.
func (t *QUIC) checkConns() {
	now := t.cfg.Now()
	t.mu.Lock()
	gen := t.gen
	var due []*quic.Conn
	for c := range t.conns {
		if v, ok := t.valid[c]; !ok || v.gen != gen || now.After(v.until) {
			due = append(due, c)
		}
	}
	t.mu.Unlock()
	for _, c := range due {
		if c.Context().Err() != nil {
			continue
		}
		select {
		case <-c.HandshakeComplete():
		default:
			continue // VerifyConnection checks it
		}
		certs := c.ConnectionState().TLS.PeerCertificates
		id, err := t.verifyPeer(certs)
		if err != nil {
			t.log.Warn("connection closed: the peer's certificate is no longer accepted", "peer", peerName(c), "reason", err)
			c.CloseWithError(codeCertRefused, truncate("certificate refused: "+err.Error(), 256))
			continue
		}
		t.mu.Lock()
		if _, ok := t.conns[c]; ok {
			t.valid[c] = checked{until: id.Expires, gen: gen}
		}
		t.mu.Unlock()
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// SetCertificate replaces this node's certificate and key: new
// handshakes present the new certificate; connections open already keep
// the one they were made with until they end (and are made again with the
// new one). The certificate must name this node, carry a node's role and
// verify against the CA now.
func (t *QUIC) SetCertificate(certPEM, keyPEM []byte) error {
	return t.SetTLS(nil, certPEM, keyPEM)
}

// SetTLS replaces the CA bundle this node trusts (caPEM: every CA's PEM
// certificate; nil keeps the current bundle) and its certificate and key
// (nil certPEM keeps the current pair), both at once: the certificate in
// effect must verify against the bundle in effect, so a CA rotation that
// moves both in one step is taken. New handshakes, both ways, verify
// peers against the new bundle; a new bundle also has every open
// connection checked again (Recheck), and those whose peer no longer
// verifies, its CA removed, are closed. A bundle that does not parse
// (pki.ParseBundle), or does not certify this node's certificate, is
// refused and nothing changes. Calls at once are taken one after the
// other: what one keeps is what the other set, never what both read
// before either swapped.
func (t *QUIC) SetTLS(caPEM, certPEM, keyPEM []byte) error {
	var pool *x509.CertPool
	var cas []*x509.Certificate
	if caPEM != nil {
		p, c, err := pki.ParseBundle(caPEM)
		if err != nil {
			return fmt.Errorf("transport: CA bundle: %w", err)
		}
		pool, cas = p, c
	}
	var pair *tls.Certificate
	if certPEM != nil {
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return fmt.Errorf("transport: node certificate: %w", err)
		}
		pair = &c
	}
	for {
		cur := t.own.Load()
		next, err := cur.with(pool, pair, t.cfg.Name, t.cfg.Now())
		if err != nil {
			return err
		}
		if t.own.CompareAndSwap(cur, next) {
			break
		}
	}
	if caPEM != nil {
		t.strangers.reset(cas) // a stranger may be a member of a CA added now
		t.Recheck()
	}
	return nil
}

// with is cur with the CAs of pool and the certificate pair, each nil to
// keep cur's, checked as checkOwn checks them at now.
func (cur *ownCert) with(pool *x509.CertPool, pair *tls.Certificate, name string, now time.Time) (*ownCert, error) {
	which := "new"
	if pool == nil {
		pool = cur.pool
	}
	if pair == nil {
		which, pair = "current", cur.cert
	}
	next, err := checkOwn(pool, name, *pair, now)
	if pool != cur.pool && errors.Is(err, errNotCertified) {
		return nil, fmt.Errorf("transport: the new CA bundle does not certify this node's %s certificate: %w", which, err)
	}
	return next, err
}

// Certificate returns what this node's current certificate says, as
// verified against the CA when it was loaded.
func (t *QUIC) Certificate() pki.Identity { return t.own.Load().id }
