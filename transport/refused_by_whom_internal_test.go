package transport

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A refused handshake says which side refused: ErrPeerRefused when the
// peer does not accept this endpoint's certificate, plain ErrRefused when
// this endpoint does not accept the peer's. A node that fails to join
// names the member that refused its certificate only in the first case;
// before, the refusal a dial reported after it returned was told apart
// from one reported during the dial only by its text.
func TestRefusalSaysWhichSideRefused(t *testing.T) {
	a, b := refusingPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// a reaches b: b refuses a's certificate, during the dial or just
	// after it (a Reach may find the connection before b's alert).
	var err error
	for err == nil && ctx.Err() == nil {
		if err = a.Reach(ctx, b.Addr().String()); err == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !errors.Is(err, ErrPeerRefused) || !errors.Is(err, ErrRefused) || !errors.Is(err, ErrUnreachable) {
		t.Errorf("b refused a's certificate; a's Reach says %v, want ErrPeerRefused, ErrRefused and ErrUnreachable", err)
	}

	// b reaches a: b itself refuses a's certificate.
	err = b.Reach(ctx, a.Addr().String())
	if !errors.Is(err, ErrRefused) || errors.Is(err, ErrPeerRefused) {
		t.Errorf("b refused a's certificate; b's Reach says %v, want ErrRefused and not ErrPeerRefused", err)
	}
}
