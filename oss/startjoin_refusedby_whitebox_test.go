package oss

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/transport"
	"go.uber.org/goleak"
)

// A node whose certificate a member of Join refuses (revoked, say) fails
// Start naming that member as the one that refused it, however the
// refusal reached it: in the handshake, just after the dial returned, or
// at the join's first exchange. Only the last said so; the others said
// that "the handshake failed", which tells neither side nor the cause,
// and a user looking for the refusing member's log was not sent there.
func TestStartJoinNamesTheMemberThatRefusedItsCertificate(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a")
	other := newQUICCluster(t)
	addr := c.nodes["a"].Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := other.serverConfig("x", "127.0.0.1:0", addr)
	// x trusts a's CA; a does not trust x's.
	cfg.TLS.CAPEM = append(append([]byte(nil), cfg.TLS.CAPEM...), c.caCert...)
	n, err := Start(ctx, cfg)
	if err == nil {
		n.Close(context.Background())
	}
	if !errors.Is(err, ErrJoinRefused) || ctx.Err() != nil {
		t.Fatalf("Start refused by a: %v, want ErrJoinRefused at once", err)
	}
	if !strings.Contains(err.Error(), addr+" refused this node's certificate") {
		t.Errorf("Start refused by a says %q; want it to name %s refusing this node's certificate", err, addr)
	}
}

// refusedAt tells the two refusals apart whichever path the handshake's
// error took, and a name taken from a member that does not answer.
func TestRefusedAtSaysWhoRefused(t *testing.T) {
	const addr = "127.0.0.1:7000"
	byPeer := fmt.Errorf("%s: %w: %w: CRYPTO_ERROR 0x12a (remote): tls: bad certificate", addr, transport.ErrUnreachable, transport.ErrPeerRefused)
	byUs := fmt.Errorf("%w:  %s: %w: CRYPTO_ERROR 0x12a (local): tls: certificate signed by unknown authority", transport.ErrUnreachable, addr, transport.ErrRefused)
	if err := refusedAt(addr, byPeer); !errors.Is(err, ErrJoinRefused) || !strings.Contains(err.Error(), addr+" refused this node's certificate") {
		t.Errorf("refused by the peer: %v", err)
	}
	if err := refusedAt(addr, byUs); !errors.Is(err, ErrJoinRefused) || strings.Contains(err.Error(), "refused this node's certificate") {
		t.Errorf("refused by this node: %v", err)
	}
	// A name taken, found by the dial (the peer closed the connection
	// just after it): refused, as when membership's first exchange
	// finds it. It was "no member answered", and a second client of a
	// live name was told the cluster could not be reached.
	taken := fmt.Errorf("%w: node \"b\" is connected from 127.0.0.1:7001 and answers there", transport.ErrNameTaken)
	if err := refusedAt(addr, taken); !errors.Is(err, ErrJoinRefused) || !errors.Is(err, transport.ErrNameTaken) || !strings.Contains(err.Error(), `node "b" is connected from`) {
		t.Errorf("a name taken: %v", err)
	}
	silent := fmt.Errorf("%w: %s: timeout: no recent network activity", transport.ErrUnreachable, addr)
	if err := refusedAt(addr, silent); err != nil {
		t.Errorf("a member that does not answer: %v, want no refusal", err)
	}
}
