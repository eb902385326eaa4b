package oss

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss/pki"
)

// ErrRevoked is returned, wrapped with details, for a certificate revoked
// in the cluster (see Node.RevokeCertificate).
var ErrRevoked = errors.New("oss: certificate revoked")

// Revocation is a certificate revoked in the cluster. It is kept in the
// catalog, so every node knows it within moments of its commit, and a
// node that starts later reads it from its catalog replica.
//
// A revocation by serial covers the certificate of Name with that serial
// number only. A revocation by name (Serial nil) covers every certificate
// of Name issued at or before At: those whose NotBefore, plus
// pki.Backdate, is not after At. A certificate issued for Name after the
// revocation is not covered: revoke, then issue the replacement (at least
// a second later, since a certificate's NotBefore keeps whole seconds, and
// on a CA host whose clock does not run behind the node's that recorded
// the revocation; revoke by serial otherwise).
type Revocation struct {
	// Name is the node (or operator) whose certificates are revoked.
	Name string
	// Serial is the one certificate revoked; nil revokes by name.
	Serial *big.Int
	// At is when the revocation was recorded, on the clock of the node
	// that recorded it.
	At time.Time
	// By is the node that recorded it.
	By string
}

// Covers reports whether the revocation covers the certificate of name
// with the given serial number and NotBefore.
func (r Revocation) Covers(name string, serial *big.Int, notBefore time.Time) bool {
	if r.Name != name {
		return false
	}
	if r.Serial != nil {
		return serial != nil && r.Serial.Cmp(serial) == 0
	}
	return !notBefore.Add(pki.Backdate).After(r.At)
}

// revocationSpace is the namespace of the catalog objects that record
// revocations: no heap entry has such an ID (see entriesOf).
var revocationSpace = uuid.MustParse("3b0f4a9e-51c7-4d1a-8e0b-7a2d9c6e5f10")

// revocationID is the catalog object of the revocation of name's
// certificate with serial, or of every certificate of name if serial is
// nil: revoking by name again moves its time forward.
func revocationID(name string, serial *big.Int) uuid.UUID {
	key := name + "\x00"
	if serial != nil {
		key += serial.Text(16)
	}
	return uuid.NewSHA1(revocationSpace, []byte(key))
}

// revocationRecord is a revocation as the catalog holds it. Its keys are
// disjoint from a heap entry's.
type revocationRecord struct {
	Name   string `cbor:"101,keyasint"`
	Serial []byte `cbor:"102,keyasint,omitempty"` // big-endian; empty: by name
	At     int64  `cbor:"103,keyasint"`           // Unix nanoseconds
	By     string `cbor:"104,keyasint,omitempty"`
}

func (r revocationRecord) revocation() Revocation {
	rev := Revocation{Name: r.Name, At: time.Unix(0, r.At), By: r.By}
	if len(r.Serial) > 0 {
		rev.Serial = new(big.Int).SetBytes(r.Serial)
	}
	return rev
}

// revocationsOf returns the revocations one state of the catalog holds,
// by name, then by-name first, then by serial.
func revocationsOf(st *consistency.State) []Revocation {
	var out []Revocation
	st.Ascend(uuid.Nil, func(o consistency.Object) bool {
		var r revocationRecord
		if codec.Unmarshal(o.Value, &r) == nil && r.Name != "" {
			rev := r.revocation()
			if revocationID(rev.Name, rev.Serial) == o.ID {
				out = append(out, rev)
			}
		}
		return true
	})
	slices.SortFunc(out, compareRevocations)
	return out
}

func compareRevocations(a, b Revocation) int {
	if c := cmp.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	switch {
	case a.Serial == nil && b.Serial == nil:
		return a.At.Compare(b.At)
	case a.Serial == nil:
		return -1
	case b.Serial == nil:
		return 1
	}
	return a.Serial.Cmp(b.Serial)
}

func sameRevocation(a, b Revocation) bool {
	return compareRevocations(a, b) == 0 && a.At.Equal(b.At)
}

// lifecycle is the node's view of certificates: the revocations its
// catalog replica holds, and those it has enforced.
type lifecycle struct {
	cached atomic.Pointer[revocationCache]

	mu      sync.Mutex // protects applied
	applied []Revocation
}

// revocationCache is the revocations of one state of the catalog.
type revocationCache struct {
	st   *consistency.State
	revs []Revocation
}

// RevokeCertificate records in the cluster that the certificate of name
// with the given serial number is revoked, or, with a nil serial, every
// certificate of name issued until now (see Revocation for the exact
// rule). Every node then closes its connections with a node that presents
// such a certificate and refuses its handshakes, within moments of the
// commit; the admin interface refuses operators' certificates it covers.
// A revoked node is cut off from the cluster until it restarts (or
// reloads) on a new certificate: see docs/design.md, "Certificate
// lifecycle". A damaged node (Damage) refuses with its damage, having
// done nothing: revoke through another node.
func (n *Node) RevokeCertificate(ctx context.Context, name string, serial *big.Int) (Revocation, error) {
	if err := pki.CheckName(name); err != nil {
		return Revocation{}, fmt.Errorf("%w: revoke: %v", ErrInvalidArgument, err)
	}
	if serial != nil && serial.Sign() <= 0 {
		return Revocation{}, fmt.Errorf("%w: revoke %q: serial %v: want a positive number", ErrInvalidArgument, name, serial)
	}
	if err := n.Damage(); err != nil {
		return Revocation{}, err
	}
	rec := revocationRecord{Name: name, At: time.Now().UnixNano(), By: n.cfg.Name}
	if serial != nil {
		rec.Serial = serial.Bytes()
	}
	err := n.catalog.Load().Update(ctx, func(tx *Tx) error {
		return Put(tx, revocationID(name, serial), rec)
	})
	if err != nil {
		return Revocation{}, fmt.Errorf("oss: revoke the certificate of %q: %w", name, err)
	}
	rev := rec.revocation()
	n.log.Warn("certificate revoked", "name", name, "serial", serialText(serial), "at", rev.At)
	n.applyRevocations()
	return rev, nil
}

func serialText(s *big.Int) string {
	if s == nil {
		return "every certificate issued until now"
	}
	return s.Text(16)
}

// Revocations lists the revocations the node's catalog replica holds.
func (n *Node) Revocations() []Revocation {
	return slices.Clone(n.revocations())
}

// revocations returns the revocations of the catalog replica's state,
// computed once per state.
func (n *Node) revocations() []Revocation {
	h := n.catalog.Load()
	if h == nil {
		return nil
	}
	st := h.state.Load()
	if c := n.lc.cached.Load(); c != nil && c.st == st {
		return c.revs
	}
	revs := revocationsOf(st)
	n.lc.cached.Store(&revocationCache{st: st, revs: revs})
	return revs
}

// revokedBy returns the revocation that covers a certificate, if one does.
func (n *Node) revokedBy(name string, serial *big.Int, notBefore time.Time) (Revocation, bool) {
	for _, r := range n.revocations() {
		if r.Covers(name, serial, notBefore) {
			return r, true
		}
	}
	return Revocation{}, false
}

// CheckCertificate returns an error matching ErrRevoked if a revocation
// the node knows covers the certificate; the admin interface asks it
// about operators' certificates. It does not verify the certificate. A
// nil certificate is refused: there is nothing to check.
func (n *Node) CheckCertificate(cert *x509.Certificate) error {
	if cert == nil {
		return errors.New("oss: no certificate to check")
	}
	if r, ok := n.revokedBy(cert.Subject.CommonName, cert.SerialNumber, cert.NotBefore); ok {
		return revokedError(r)
	}
	return nil
}

func revokedError(r Revocation) error {
	return fmt.Errorf("%w: %s, by %s at %s", ErrRevoked, describe(r), r.By, r.At.UTC().Format(time.RFC3339))
}

func describe(r Revocation) string {
	if r.Serial == nil {
		return fmt.Sprintf("every certificate of %q issued until then", r.Name)
	}
	return fmt.Sprintf("the certificate of %q with serial %x", r.Name, r.Serial)
}

// revokedPeer is the transport's QUICConfig.Revoked.
func (n *Node) revokedPeer(id ipki.Identity) error {
	if r, ok := n.revokedBy(id.Name, id.Serial, id.NotBefore); ok {
		return revokedError(r)
	}
	return nil
}

// applyRevocations enforces the revocations of the catalog replica once
// they change: the transport closes the connections of the peers they
// cover, and a node whose own certificate they cover says so.
func (n *Node) applyRevocations() {
	revs := n.revocations()
	n.lc.mu.Lock()
	changed := !slices.EqualFunc(revs, n.lc.applied, sameRevocation)
	n.lc.applied = revs
	n.lc.mu.Unlock()
	if !changed || n.quic == nil {
		return
	}
	n.quic.Recheck()
	own := n.quic.Certificate()
	if r, ok := n.revokedBy(own.Name, own.Serial, own.NotBefore); ok {
		n.log.Error("this node's certificate is revoked: its peers refuse it; issue a new one and restart the node on it (or reload it)",
			"serial", own.Serial.Text(16), "revocation", describe(r), "by", r.By, "at", r.At)
	}
}
