package transport_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// latePings makes q hold its answers to pings until the returned release
// is called (the test's end calls it too): those on its connections with
// the peer at addr, or on all of them if addr is "".
func latePings(t *testing.T, q *transport.QUIC, addr string) (release func()) {
	t.Helper()
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	transport.SetTestBeforePingAnswer(func(e *transport.QUIC, from net.Addr) {
		if e == q && (addr == "" || from.String() == addr) {
			<-ch
		}
	})
	t.Cleanup(func() {
		release()
		transport.SetTestBeforePingAnswer(nil)
	})
	return release
}

// ctxLong is a context for a test's calls that ends with the test, or
// after await.Deadline.
func ctxLong(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	t.Cleanup(cancel)
	return ctx
}

// notYet fails the test unless err is the refusal for now of a
// connection whose ping answer came late: ErrNameUnproven, which matches
// ErrUnreachable and not ErrNameTaken.
func notYet(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, transport.ErrNameUnproven) || !errors.Is(err, transport.ErrUnreachable) || errors.Is(err, transport.ErrNameTaken) {
		t.Fatalf("%s: %v; want transport.ErrNameUnproven, not ErrNameTaken", what, err)
	}
}

// A node reaching another by a second path (a NAT, a proxy, two
// interfaces) whose answer to the other's ping on the new connection
// comes after pingTimeout (a starved machine) is told to try again, not
// that its name is taken: that refusal is final for a joining node
// (oss's ErrJoinRefused). Once it answers in time it is taken.
func TestSameProcessWhosePingAnswerIsLateIsToldToTryAgain(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxLong(t)
	a, b := c.nodes["a"], c.nodes["b"]
	if _, err := a.Call(ctx, "b", []byte("direct")); err != nil {
		t.Fatal(err)
	}
	r := newRelay(t, a.Addr().String())
	front := r.front.LocalAddr().String()
	release := latePings(t, b, front)
	b.SetPeer("a", front)
	_, err := b.Call(ctx, "a", []byte("via relay"))
	notYet(t, "b's call to a by the relay, its ping answer held", err)
	release()
	var resp []byte
	await.Until(t, "b's call to a by the relay, its ping answered", func() bool {
		resp, err = b.Call(ctx, "a", []byte("via relay"))
		if err != nil {
			notYet(t, "b's call to a by the relay, again", err)
		}
		return err == nil
	})
	if string(resp) != "b:via relay" {
		t.Fatalf("b's call to a by the relay: %q", resp)
	}
	if resp, err := a.Call(ctx, "b", []byte("still")); err != nil || string(resp) != "a:still" {
		t.Fatalf("a's call to b: %q %v", resp, err)
	}
}

// Another process with a live node's certificate is still refused for
// good (ErrNameTaken) once it answers the ping, with its own life; while
// its answers come late it hears "not yet". The same holds for a process
// with the accepting node's own name.
func TestAnotherProcessOfALiveNameIsRefusedForGoodOnceItAnswers(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxLong(t)
	b := c.nodes["b"]
	if _, err := c.nodes["a"].Call(ctx, "b", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, reason string }{
		{"a", "is connected from " + c.nodes["a"].Addr().String() + " and answers there: a second connection"},
		{"b", `node "b" is this node`},
	} {
		imp := startOn(t, c, tc.name, nil, newRecorder())
		imp.SetPeer("b", b.Addr().String())
		release := latePings(t, imp, "")
		_, err := imp.Call(ctx, "b", []byte("late"))
		notYet(t, "a second "+tc.name+" whose ping answer is late calling b", err)
		release()
		await.Until(t, "a second "+tc.name+"'s final refusal", func() bool {
			_, err = imp.Call(ctx, "b", []byte("on time"))
			if err == nil {
				t.Fatalf("a second %s calling b was taken", tc.name)
			}
			return !errors.Is(err, transport.ErrNameUnproven)
		})
		if !errors.Is(err, transport.ErrNameTaken) || !strings.Contains(err.Error(), tc.reason) {
			t.Fatalf("a second %s calling b: %v; want transport.ErrNameTaken: ...%s", tc.name, err, tc.reason)
		}
	}
	if resp, err := c.nodes["a"].Call(ctx, "b", []byte("still")); err != nil || string(resp) != "a:still" {
		t.Fatalf("a's call to b: %q %v", resp, err)
	}
}

// A holder of a live node's certificate (or of the accepting node's own)
// that never answers pings is never taken: each connection it opens is
// refused for now, again and again.
func TestImpostorThatNeverAnswersIsNeverTaken(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxLong(t)
	b := c.nodes["b"]
	if _, err := c.nodes["a"].Call(ctx, "b", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		imp := startOn(t, c, name, nil, newRecorder())
		imp.SetPeer("b", b.Addr().String())
		latePings(t, imp, "")
		refused := 0
		await.Until(t, "three connections of a second "+name+" refused", func() bool {
			_, err := imp.Call(ctx, "b", []byte("let me in"))
			notYet(t, "a second "+name+" that never answers calling b", err)
			if !strings.Contains(err.Error(), "redial in") {
				refused++
			}
			return refused == 3
		})
	}
	if resp, err := c.nodes["a"].Call(ctx, "b", []byte("still")); err != nil || string(resp) != "a:still" {
		t.Fatalf("a's call to b: %q %v", resp, err)
	}
}
