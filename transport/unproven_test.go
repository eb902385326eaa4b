package transport_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

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

// gaveWay counts the connections c's endpoints closed for a ping their
// peer did not answer in time when the peer connected from another
// address (the rule for a node restarted elsewhere).
func gaveWay(c *cluster) int {
	return strings.Count(c.logs.String(), "its peer no longer answers there and connected from another address")
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
	var release func()
	var err error
	for {
		if _, err := a.Call(ctx, "b", []byte("direct")); err != nil {
			t.Fatal(err)
		}
		r := newRelay(t, a.Addr().String())
		front := r.front.LocalAddr().String()
		release = latePings(t, b, front)
		b.SetPeer("a", front)
		before := gaveWay(c)
		_, err = b.Call(ctx, "a", []byte("via relay"))
		if err != nil || gaveWay(c) == before {
			break
		}
		// b did not answer a's ping on its direct connection in time
		// either: that one gave way. Again, by another relay.
		t.Logf("b's direct connection gave way to the relayed one; again")
		release()
	}
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

// secondHolder starts another endpoint with name's certificate, its
// answers to pings held until release, and calls b from it: the call's
// error, nil if b took it. While the live holder's connection gives way
// instead (its own answer late: the rule for a node restarted
// elsewhere), the second one is closed, the live one reconnected, and
// another second one tried.
func secondHolder(t *testing.T, ctx context.Context, c *cluster, name string) (imp *transport.QUIC, release func(), err error) {
	t.Helper()
	for {
		imp = startOn(t, c, name, nil, newRecorder())
		imp.SetPeer("b", c.nodes["b"].Addr().String())
		release = latePings(t, imp, "")
		before := gaveWay(c)
		_, err = imp.Call(ctx, "b", []byte("i am "+name))
		if err != nil || gaveWay(c) == before {
			return imp, release, err
		}
		gaveWayTo(t, ctx, c, name, imp)
	}
}

// gaveWayTo closes imp, a second holder of name's certificate taken by b
// because the live holder's connection gave way, and connects the live
// one to b again.
func gaveWayTo(t *testing.T, ctx context.Context, c *cluster, name string, imp *transport.QUIC) {
	t.Helper()
	t.Logf("the live %s's connection to b gave way to a second holder: it did not answer b's ping in time; again", name)
	imp.Close()
	await.Until(t, "the live "+name+" connected to b again", func() bool {
		_, err := c.nodes[name].Call(ctx, "b", []byte("again"))
		return err == nil // its closed connection's close may arrive first
	})
}

// Another process with a live node's certificate is still refused for
// good (ErrNameTaken) once it answers the ping, with its own life; while
// its answers come late it hears "not yet". The same holds for a process
// with the accepting node's own name.
func TestAnotherProcessOfALiveNameIsRefusedForGoodOnceItAnswers(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxLong(t)
	if _, err := c.nodes["a"].Call(ctx, "b", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, reason string }{
		{"a", "is connected from " + c.nodes["a"].Addr().String() + " and answers there: a second connection"},
		{"b", `node "b" is this node`},
	} {
		for {
			imp, release, err := secondHolder(t, ctx, c, tc.name)
			notYet(t, "a second "+tc.name+" whose ping answer is late calling b", err)
			release()
			before := gaveWay(c)
			await.Until(t, "a second "+tc.name+"'s final refusal", func() bool {
				_, err = imp.Call(ctx, "b", []byte("on time"))
				return !errors.Is(err, transport.ErrNameUnproven)
			})
			if err == nil && gaveWay(c) > before {
				gaveWayTo(t, ctx, c, tc.name, imp)
				continue
			}
			if !errors.Is(err, transport.ErrNameTaken) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("a second %s calling b: %v; want transport.ErrNameTaken: ...%s", tc.name, err, tc.reason)
			}
			break
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
	if _, err := c.nodes["a"].Call(ctx, "b", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		imp, _, err := secondHolder(t, ctx, c, name)
		for refused := 0; ; {
			notYet(t, "a second "+name+" that never answers calling b", err)
			if !strings.Contains(err.Error(), "redial in") {
				refused++
			}
			if refused == 3 {
				break
			}
			time.Sleep(time.Millisecond)
			before := gaveWay(c)
			_, err = imp.Call(ctx, "b", []byte("let me in"))
			if err == nil && gaveWay(c) > before {
				gaveWayTo(t, ctx, c, name, imp)
				imp, _, err = secondHolder(t, ctx, c, name)
			}
		}
	}
	if resp, err := c.nodes["a"].Call(ctx, "b", []byte("still")); err != nil || string(resp) != "a:still" {
		t.Fatalf("a's call to b: %q %v", resp, err)
	}
}
