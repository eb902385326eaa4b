package oss

import (
	"slices"
	"strings"
	"time"

	"github.com/objectsharing/oss/internal/pki"
)

// CertificateExpiry is a member's certificate that expires soon, or (the
// node's own) has expired: within the period a node warns of its own
// certificate's expiry in its log (30 days, or a tenth of the
// certificate's validity if that is shorter). ClusterStatus.Expiring
// lists them, so that an operator who reads the status, not every node's
// log, sees a certificate to renew before the node is cut off.
type CertificateExpiry struct {
	// Node is the member the certificate names.
	Node string
	// Serial is the certificate's serial number, in hex.
	Serial string
	// Expires is when the certificate stops being accepted: its NotAfter,
	// or for the node's own, its CA's if that comes first.
	Expires time.Time
}

// expiryAhead is how long before its expiry a certificate of id's
// validity is warned of.
func expiryAhead(id pki.Identity) time.Duration {
	return min(expiryWarnAhead, id.NotAfter.Sub(id.NotBefore)/10)
}

// expiringCertificates lists, at now, the node's own certificate and those
// of the members it holds a connection with (the transport verified
// them) that expire within their warning period, sorted by node.
func (n *Node) expiringCertificates(now time.Time, members []Member) []CertificateExpiry {
	if n.quic == nil {
		return nil
	}
	var out []CertificateExpiry
	add := func(name string, id pki.Identity) {
		end := id.Expires
		if end.IsZero() || id.NotAfter.Before(end) {
			end = id.NotAfter
		}
		if id.Serial != nil && end.Sub(now) < expiryAhead(id) {
			out = append(out, CertificateExpiry{Node: name, Serial: id.Serial.Text(16), Expires: end})
		}
	}
	add(n.cfg.Name, n.quic.Certificate())
	for _, m := range members {
		if m.Name == n.cfg.Name {
			continue
		}
		if id, ok := n.quic.PeerIdentity(m.Name); ok {
			add(m.Name, id)
		}
	}
	slices.SortFunc(out, func(a, b CertificateExpiry) int { return strings.Compare(a.Node, b.Node) })
	return out
}
