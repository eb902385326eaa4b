package transport

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/quic-go/quic-go"
)

// Life names one endpoint, so one process, for as long as it lives: the
// random token it answers pings with (newLife). Two answers of one life
// come from one process, whatever address each reached it at. The zero
// Life is not known: a peer of an older build answers a ping without one.
type Life struct{ token string }

// lifeOf returns the life of a ping's answer, without its group.
func lifeOf(answer []byte) Life {
	l, _ := splitAnswer(answer)
	return Life{token: string(l)}
}

// Known reports whether l names a process.
func (l Life) Known() bool { return l.token != "" }

// Is reports whether l and o are known and one process's life.
func (l Life) Is(o Life) bool { return l.Known() && l.token == o.token }

// callerKey is the key of the connection a call came in on, in the
// context HandleCall is given.
type callerKey struct{}

// caller is the connection a call came in on, and the endpoint that
// took it.
type caller struct {
	t *QUIC
	c *quic.Conn
}

// withCaller returns ctx carrying c, the connection a call came in on.
func (t *QUIC) withCaller(ctx context.Context, c *quic.Conn) context.Context {
	return context.WithValue(ctx, callerKey{}, caller{t: t, c: c})
}

// ErrNoCaller is CallerLife's error for a context that is no call's
// over QUIC.
var ErrNoCaller = errors.New("transport: the context is no QUIC call's")

// CallerLife returns the life of the process that made the call whose
// context ctx is (the one Handler.HandleCall was given, or one made from
// it): it pings the caller on the connection the call came in on, until
// ctx ends. The zero Life if the caller answers without one (an older
// build); an error matching ErrUnreachable if it does not answer,
// ErrNoCaller if ctx is no call's of a QUIC endpoint (an in-process
// network's, or one made elsewhere). A life shows which process a
// caller says it is, not that it is: CallerProof, which package oss
// asks, adds the proof.
func CallerLife(ctx context.Context) (Life, error) {
	cl, ok := ctx.Value(callerKey{}).(caller)
	if !ok {
		return Life{}, ErrNoCaller
	}
	ok, answer := cl.t.answersWithin(ctx, cl.c)
	if !ok {
		why := cmp.Or(ctx.Err(), context.Cause(cl.c.Context()), errors.New("the ping failed"))
		return Life{}, fmt.Errorf("%w: the caller %s at %s: no answer to a ping: %v", ErrUnreachable, peerName(cl.c), cl.c.RemoteAddr(), why)
	}
	return lifeOf(answer), nil
}
