package transport

import (
	"errors"
	"strings"

	"github.com/quic-go/quic-go"
)

// ownRefusal is a peer's refusal of this node's certificate: the reason
// it closed a connection with (codeCertRefused).
type ownRefusal struct {
	peer, reason string
}

// noteRefusedOwn keeps the reason of a connection the named peer closed
// because it no longer accepts this node's certificate (revoked, expired,
// of a CA it no longer trusts). The node may never learn of it otherwise:
// a revocation closes its connections as soon as its peers apply it,
// before the entry that records it reaches the node.
func (t *QUIC) noteRefusedOwn(peer string, err error) {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote && ae.ErrorCode == codeCertRefused {
		t.refusedOwn.Store(&ownRefusal{peer: peer, reason: ae.ErrorMessage})
	}
}

// RefusedOwn returns the peer that last closed a connection refusing the
// certificate this node runs on now, and its reason; "" if none did. A
// refusal is of the certificate whose serial its reason names (as the
// transport's refusals do): one of a certificate the node has since
// replaced (a rotation that revoked the old one) is not the current one's.
func (t *QUIC) RefusedOwn() (peer, reason string) {
	r := t.refusedOwn.Load()
	if r == nil {
		return "", ""
	}
	serial := t.Certificate().Serial
	if serial == nil || !strings.Contains(r.reason, "(serial "+serial.Text(16)+")") {
		return "", ""
	}
	return r.peer, r.reason
}
