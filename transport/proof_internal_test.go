package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// A challenge is kept for the name of the peer that sent it: taken by
// that name once, by no other, and not once challengeTTL has passed. A
// name's new challenge takes the place of its old one, and beyond
// maxChallenges names the oldest goes, the expired first.
func TestChallengeIsRevealedToItsSenderOnceUntilItExpires(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	tok := []byte("0123456789abcdef")
	var cs challenges
	cs.keep("l", tok, t0)
	if _, ok := cs.take("m", t0); ok {
		t.Fatal("a challenge kept for l was revealed to m")
	}
	if got, ok := cs.take("l", t0.Add(time.Second)); !ok || !bytes.Equal(got, tok) {
		t.Fatalf("the challenge kept for l, asked by l: %q %v", got, ok)
	}
	if _, ok := cs.take("l", t0.Add(time.Second)); ok {
		t.Fatal("a challenge was revealed twice")
	}
	cs.keep("l", tok, t0)
	if _, ok := cs.take("l", t0.Add(challengeTTL)); ok {
		t.Fatalf("a challenge was revealed %v after it was kept", challengeTTL)
	}
	cs.keep("l", []byte("old............."), t0)
	cs.keep("l", tok, t0)
	if got, _ := cs.take("l", t0); !bytes.Equal(got, tok) {
		t.Fatalf("l's second challenge did not take its first's place: %q", got)
	}

	for i := range maxChallenges {
		cs.keep(fmt.Sprint(i), tok, t0.Add(time.Duration(i)*time.Millisecond))
	}
	cs.keep("late", tok, t0.Add(2*time.Second))
	if len(cs.kept) != maxChallenges {
		t.Fatalf("%d challenges kept; at most %d", len(cs.kept), maxChallenges)
	}
	if _, ok := cs.take("0", t0.Add(2*time.Second)); ok {
		t.Fatal("the oldest challenge was kept beyond the bound")
	}
	later := t0.Add(challengeTTL + 20*time.Millisecond) // "1" to "15" expired, "late" not
	cs.keep("0", tok, later)
	cs.keep("new", tok, later)
	if len(cs.kept) != 3 {
		t.Fatalf("%d challenges kept; want the 3 unexpired, the expired gone first", len(cs.kept))
	}
	if _, ok := cs.take("late", later); !ok {
		t.Fatal("an unexpired challenge went while expired ones were kept")
	}
}

// proofHandler answers each call with nothing, and passes on what
// CallerProof says of the caller for the challenge it holds.
type proofHandler struct {
	ch  atomic.Pointer[Challenge]
	out chan proofSeen
}

type proofSeen struct {
	life   Life
	proven bool
	err    error
}

func (*proofHandler) HandleMessage(string, []byte) {}

func (*proofHandler) HandleStream(context.Context, string, []byte, io.Reader) error { return nil }

func (h *proofHandler) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	l, proven, err := CallerProof(ctx, *h.ch.Load())
	h.out <- proofSeen{l, proven, err}
	return nil, nil
}

// The process a challenge was sent to (ReachAsChallenged) echoes it to
// the endpoint that sent it, on the connection of a call it makes
// (CallerProof), once; it reveals it to no other name, so a process that
// answers that endpoint's pings with what the first answers another
// member's (RelayPings: its life) proves nothing, and takes nothing from
// the first's proof (asked after them, it still proves); nor does a
// challenge another endpoint of the sender's name sent, in a call to the
// sender.
func TestCallerProofIsTheSenderOfTheCallOnly(t *testing.T) {
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h := &proofHandler{out: make(chan proofSeen, 1)}
	start := func(name string, h Handler) *QUIC {
		cert, key, err := ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		q, err := NewQUIC(&QUICConfig{Name: name, Listen: "127.0.0.1:0", CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM,
			Handler: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		return q
	}
	l, p, m, r := start("l", h), start("p", discardHandler{}), start("m", discardHandler{}), start("r", discardHandler{})
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	call := func(from *QUIC, ch Challenge) proofSeen {
		t.Helper()
		h.ch.Store(&ch)
		from.SetPeer("l", l.Addr().String())
		if _, err := from.Call(ctx, "l", nil); err != nil {
			t.Fatal(err)
		}
		return await.Recv(t, h.out, "the proof of "+from.Name())
	}

	// A challenge another endpoint of l's name sent p, which p keeps
	// for that name: l, which took the call, did not send it.
	other := start("l", discardHandler{})
	_, elsewhere, err := other.ReachAsChallenged(ctx, p.Addr().String(), "p")
	if err != nil {
		t.Fatalf("the other l's challenge to p: %v", err)
	}
	other.Close()
	if got := call(p, elsewhere); got.err != nil || got.proven {
		t.Fatalf("p's call to l with the challenge another endpoint of l's name sent p: %+v; want not proven", got)
	}

	atP, ch, err := l.ReachAsChallenged(ctx, p.Addr().String(), "p")
	if err != nil || !atP.Known() {
		t.Fatalf("l's challenge to p: %v", err)
	}
	c, err := m.connAt(ctx, p.Addr().String(), "p")
	if err != nil {
		t.Fatal(err)
	}
	if ok, frames := m.pingWith(ctx, c, []byte{pingReveal}); !ok || len(frames) != 1 {
		t.Fatalf("p, asked by m for a challenge l sent: answered %v, %d frames; want the life alone", ok, len(frames))
	}
	if got := call(p, ch); got.err != nil || !got.proven || !got.life.Is(atP) {
		t.Fatalf("p's call to l, which sent p a challenge: %+v; want proven, of p's life", got)
	}
	if got := call(p, ch); got.err != nil || got.proven {
		t.Fatalf("p's second call, the challenge echoed once: %+v; want not proven", got)
	}

	_, ch, err = l.ReachAsChallenged(ctx, p.Addr().String(), "p")
	if err != nil {
		t.Fatal(err)
	}
	r.RelayPings(m, p.Addr().String(), "p")
	if got := call(r, ch); got.err != nil || got.proven || !got.life.Is(atP) {
		t.Fatalf("r's call, r relaying p's answers to m: %+v; want p's life, not proven", got)
	}
	if got := call(m, ch); got.err != nil || got.proven {
		t.Fatalf("m's call with the challenge l sent p: %+v; want not proven", got)
	}
	if got := call(p, ch); got.err != nil || !got.proven {
		t.Fatalf("p's call after r's and m's: %+v; want proven", got)
	}
}
