package transport

import (
	"cmp"
	"context"
	"errors"
	"fmt"
)

// ReachAs reports whether the node named name still answers at addr: it
// takes the live connection to addr whose peer's certificate names name,
// dialling one if there is none, and pings the peer on it, until ctx
// ends. nil if the peer answered, for this endpoint's group (or with
// none); an error matching ErrUnreachable otherwise. Package oss asks it
// of a node its membership lists live under a name before it refuses for
// good another node of that name joining from elsewhere: membership's
// view lags a crash by its failure detection, the ping does not.
func (t *QUIC) ReachAs(ctx context.Context, addr, name string) error {
	_, err := t.ReachAsLife(ctx, addr, name)
	return err
}

// ReachAsLife is ReachAs, and returns the life of the process that
// answered (the zero Life if it answered without one, as an older build
// does): package oss tells a node's own restart, which answers at the
// address it claims with the life of the connection its join came in on
// (CallerLife), from a second process claiming a live node's address,
// which does not.
func (t *QUIC) ReachAsLife(ctx context.Context, addr, name string) (Life, error) {
	c, err := t.connAt(ctx, addr, name)
	if err != nil {
		return Life{}, err
	}
	ok, answer := t.answersWithin(ctx, c)
	if ok && !t.ofAnotherGroup(answer) {
		return lifeOf(answer), nil
	}
	if ok {
		return Life{}, fmt.Errorf("%w: %s %s: it answers for another cluster", ErrUnreachable, name, addr)
	}
	why := cmp.Or(ctx.Err(), context.Cause(c.Context()), errors.New("the ping failed"))
	return Life{}, fmt.Errorf("%w: %s %s: no answer to a ping: %v", ErrUnreachable, name, addr, why)
}
