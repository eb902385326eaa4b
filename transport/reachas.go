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
	c, err := t.connAt(ctx, addr, name)
	if err != nil {
		return err
	}
	ok, answer := t.answersWithin(ctx, c)
	if ok && !t.ofAnotherGroup(answer) {
		return nil
	}
	if ok {
		return fmt.Errorf("%w: %s %s: it answers for another cluster", ErrUnreachable, name, addr)
	}
	why := cmp.Or(ctx.Err(), context.Cause(c.Context()), errors.New("the ping failed"))
	return fmt.Errorf("%w: %s %s: no answer to a ping: %v", ErrUnreachable, name, addr, why)
}
