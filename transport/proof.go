package transport

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// A proof that two connections reach one process. A life (Life) names a
// process but proves nothing: any peer that pings a node learns its
// life, and a process holding a copy of the node's certificate can answer
// pings with it. A challenge can be proven: the endpoint that sends one
// to the process at an address, in a ping over its connection there, asks
// another connection's peer to echo it; the process keeps it only for the
// certificate name of the endpoint that sent it, briefly, and reveals it
// once, in answer to a ping of a peer of that name. Only the process that
// got it can echo it: it went to that process alone, encrypted, and no
// relay of the other connection can ask it of the process as the
// endpoint's name. A ping's hello carries the request in its body, which
// an older build ignores: it keeps nothing and reveals nothing.

// Ping requests, the first byte of a ping hello's body.
const (
	pingKeep   = 1 // then a challenge: keep it for the sender's name
	pingReveal = 2 // answer, after the life, the challenge kept for the sender's name
)

// challengeLen is the length of a challenge.
const challengeLen = 16

// challengeTTL is how long an endpoint keeps a challenge: package oss
// asks for it within liveProbeTimeout (750 ms) of sending it.
const challengeTTL = 5 * time.Second

// maxChallenges is the most challenges an endpoint keeps, one for each
// sender's name: a name's new challenge takes its old one's place, and
// beyond that many names the oldest goes.
const maxChallenges = 16

// Challenge is a random token an endpoint sent the process at an address
// (ReachAsChallenged), which that process echoes to the same endpoint
// alone, once (CallerProof). The zero Challenge is none.
type Challenge struct {
	from  *QUIC // the endpoint that sent it
	token []byte
}

// challenges are the challenges an endpoint keeps, by the certificate
// name of the peer that sent each.
type challenges struct {
	mu   sync.Mutex
	kept map[string]keptChallenge
}

type keptChallenge struct {
	token []byte
	at    time.Time
}

// keep keeps token for the peer named from, as of now, in the place of
// the one it kept for that name: the oldest goes when maxChallenges are
// kept, after the expired.
func (cs *challenges) keep(from string, token []byte, now time.Time) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.kept == nil {
		cs.kept = make(map[string]keptChallenge)
	}
	if _, ok := cs.kept[from]; !ok && len(cs.kept) >= maxChallenges {
		oldest := ""
		for name, k := range cs.kept {
			if now.Sub(k.at) >= challengeTTL {
				delete(cs.kept, name)
			} else if oldest == "" || k.at.Before(cs.kept[oldest].at) {
				oldest = name
			}
		}
		if len(cs.kept) >= maxChallenges {
			delete(cs.kept, oldest)
		}
	}
	cs.kept[from] = keptChallenge{token: bytes.Clone(token), at: now}
}

// take returns, and forgets, the challenge kept for the peer named from,
// if one is, unexpired at now.
func (cs *challenges) take(from string, now time.Time) ([]byte, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	k, ok := cs.kept[from]
	if !ok {
		return nil, false
	}
	delete(cs.kept, from)
	if now.Sub(k.at) >= challengeTTL || now.Before(k.at) {
		return nil, false
	}
	return k.token, true
}

// answerPing answers a ping the peer named name opened s with, body
// being its hello's: its life (and group), then, to a ping that asks for
// it, the challenge kept for that name, as a second frame.
func (t *QUIC) answerPing(name string, s *quic.Stream, body []byte) {
	answer := t.pingAnswer()
	switch r := t.relay.Load(); {
	case r != nil && !r.lifeOnly: // tests only: RelayPings
		t.relayPing(r, s, body)
		return
	case r != nil: // tests only: PassOffLife
		frames, ok := t.relayed(r, nil)
		if !ok {
			s.CancelWrite(2)
			return
		}
		answer = frames[0]
	}
	out, _ := appendFrame(nil, &frame{Type: frameResponse, Body: answer}) // never fails
	switch {
	case len(body) == 1+challengeLen && body[0] == pingKeep:
		t.challenges.keep(name, body[1:], time.Now())
	case len(body) == 1 && body[0] == pingReveal:
		if token, ok := t.challenges.take(name, time.Now()); ok {
			out, _ = appendFrame(out, &frame{Type: frameResponse, Body: token})
		}
	}
	if _, err := s.Write(out); err != nil {
		t.log.Debug("ping not answered", "peer", name, "err", err)
	}
}

// ReachAsChallenged is ReachAsLife, and sends the process that answers a
// fresh challenge in the ping, which it keeps for this endpoint's name:
// CallerProof asks a caller for it. The zero Challenge with an error.
func (t *QUIC) ReachAsChallenged(ctx context.Context, addr, name string) (Life, Challenge, error) {
	c, err := t.connAt(ctx, addr, name)
	if err != nil {
		return Life{}, Challenge{}, err
	}
	token := make([]byte, challengeLen)
	rand.Read(token)
	ok, frames := t.pingWith(ctx, c, append([]byte{pingKeep}, token...))
	if ok && !t.ofAnotherGroup(frames[0]) {
		return lifeOf(frames[0]), Challenge{from: t, token: token}, nil
	}
	if ok {
		return Life{}, Challenge{}, fmt.Errorf("%w: %s %s: it answers for another cluster", ErrUnreachable, name, addr)
	}
	why := cmp.Or(ctx.Err(), context.Cause(c.Context()), errors.New("the ping failed"))
	return Life{}, Challenge{}, fmt.Errorf("%w: %s %s: no answer to a ping: %v", ErrUnreachable, name, addr, why)
}

// CallerProof is CallerLife, and reports whether the caller proves to be
// the process ch was sent to: it echoes ch to the endpoint that sent it,
// which took the call (false if another endpoint took it, or ch is
// none). A process that answers pings with another's life, a copy of
// its certificate relaying them, does not: the challenge went to the
// other process, which reveals it to the sender's name alone. An older
// build proves nothing.
func CallerProof(ctx context.Context, ch Challenge) (Life, bool, error) {
	cl, ok := ctx.Value(callerKey{}).(caller)
	if !ok {
		return Life{}, false, ErrNoCaller
	}
	var body []byte
	if ch.from == cl.t && len(ch.token) == challengeLen {
		body = []byte{pingReveal}
	}
	ok, frames := cl.t.pingWith(ctx, cl.c, body)
	if !ok {
		why := cmp.Or(ctx.Err(), context.Cause(cl.c.Context()), errors.New("the ping failed"))
		return Life{}, false, fmt.Errorf("%w: the caller %s at %s: no answer to a ping: %v", ErrUnreachable, peerName(cl.c), cl.c.RemoteAddr(), why)
	}
	proven := body != nil && len(frames) == 2 && bytes.Equal(frames[1], ch.token)
	return lifeOf(frames[0]), proven, nil
}

// pingWith pings c's peer with body in the hello, until ctx ends: whether
// it answered, and the bodies of the frames of its answer (its life,
// then what body asked for), at least one if it answered (nil for a peer
// that resets the stream, as a build that knows no ping does).
func (t *QUIC) pingWith(ctx context.Context, c *quic.Conn, body []byte) (bool, [][]byte) {
	s, err := c.OpenStreamSync(ctx)
	if err != nil {
		return false, nil
	}
	stop := context.AfterFunc(ctx, func() {
		s.CancelRead(2)
		s.CancelWrite(2)
	})
	defer stop()
	if err := writeFrame(s, &frame{Type: frameHello, From: t.cfg.Name, Kind: streamPing, Body: body}, t.cfg.MaxFrame); err != nil {
		return false, nil
	}
	s.Close()
	f, err := readFrame(s, t.cfg.MaxFrame)
	if err != nil {
		var se *quic.StreamError
		return errors.As(err, &se) && se.Remote, [][]byte{nil}
	}
	frames := [][]byte{f.Body}
	if len(body) > 0 && body[0] == pingReveal {
		// An older build, or one that keeps nothing for this endpoint,
		// ends the stream after the life.
		if f, err := readFrame(s, t.cfg.MaxFrame); err == nil {
			frames = append(frames, f.Body)
		}
	}
	return true, frames
}
