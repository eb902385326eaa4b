package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/quic-go/quic-go"
)

// streamsServed counts the goroutines serving a stream, of every endpoint
// of the test binary.
func streamsServed() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), ".(*QUIC).serveStream(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// A peer with a valid certificate that opens a stream and sends nothing
// on it held the stream, and the goroutine serving it, until the
// connection closed: a member could pin up to MaxIncomingStreams
// goroutines a connection. The stream is reset once HelloTimeout passes,
// and logged; the streams of the same connection that sent their hello
// are served, and a message stream outlives the timeout.
func TestStreamWithoutHelloIsReset(t *testing.T) {
	const helloTimeout = 200 * time.Millisecond
	rec := &eventRecorder{}
	_, c, logs, ctx := helloTimeoutPair(t, helloTimeout, rec)
	open := func() *quic.Stream {
		s, err := c.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.SetDeadline(time.Now().Add(2 * time.Minute))
		return s
	}
	send := func(s *quic.Stream, frames ...*frame) {
		var buf []byte
		for _, f := range frames {
			buf, _ = appendFrame(buf, f)
		}
		if _, err := s.Write(buf); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("%s: not within 2 minutes", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	msgs := open()
	send(msgs, &frame{Type: frameHello, From: "a", Kind: streamMessages}, &frame{Type: frameMessage, Body: []byte("one")})
	var got []streamEvent
	waitFor("the first message", func() bool { got = append(got, rec.take()...); return len(got) == 1 })

	silent := open() // nothing is sent on it: the next stream opens it at b
	call := open()
	send(call, &frame{Type: frameHello, From: "a", Kind: streamCall}, &frame{Type: frameRequest, Body: []byte("ping")})
	call.Close()
	answer, err := readFrame(call, DefaultMaxFrame)
	if err != nil || answer.Type != frameResponse || string(answer.Body) != "ok:ping" {
		t.Fatalf("the call beside the silent stream: %+v %v", answer, err)
	}
	if e := rec.take(); len(e) != 1 || e[0].kind != "call" {
		t.Fatalf("the call delivered %+v", e)
	}

	_, err = silent.Read(make([]byte, 1))
	var se *quic.StreamError
	if !errors.As(err, &se) || !se.Remote {
		t.Fatalf("the silent stream's read: %v, want a reset from b", err)
	}
	// b's refusal to read (STOP_SENDING) is a frame of its own: it may
	// come after the reset (RESET_STREAM, the same packet or the next),
	// and the connection may handle it after the read above returned. A
	// write before it is buffered, and succeeds (1 run of about 400 at
	// load 20): write until the refusal has come.
	waitFor("b's refusal to read the silent stream", func() bool {
		_, err := silent.Write([]byte("late"))
		if err != nil && (!errors.As(err, &se) || !se.Remote) {
			t.Fatalf("the silent stream's write: %v, want b's refusal to read it", err)
		}
		return err != nil
	})
	if !strings.Contains(logs.String(), "no hello within") {
		t.Fatalf("the silent stream was not logged:\n%s", logs)
	}

	// The message stream read its hello long before: its deadline is
	// gone, and it still delivers.
	time.Sleep(3 * helloTimeout)
	send(msgs, &frame{Type: frameMessage, Body: []byte("two")})
	waitFor("the second message", func() bool { got = append(got, rec.take()...); return len(got) == 2 })
	if string(got[0].body) != "one" || string(got[1].body) != "two" {
		t.Fatalf("messages delivered: %+v", got)
	}
	msgs.Close()
	io.Copy(io.Discard, msgs)
	waitFor("the streams' goroutines to end", func() bool { return streamsServed() == 0 })
}

// helloTimeoutPair starts an endpoint a and an endpoint b whose
// HelloTimeout is helloTimeout, whose handler is rec and whose log is
// logs, and a's connection to b; ctx bounds the test's waits (2 min).
// The endpoints close when the test ends.
func helloTimeoutPair(t *testing.T, helloTimeout time.Duration, rec *eventRecorder) (a *QUIC, c *quic.Conn, logs *syncBuffer, ctx context.Context) {
	t.Helper()
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a = fuzzEndpoint(t, ca, "a", &eventRecorder{}, 0)
	t.Cleanup(func() { a.Close() })
	cert, key, err := ca.Issue("b", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	logs = &syncBuffer{}
	b, err := NewQUIC(&QUICConfig{Name: "b", CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: rec,
		HelloTimeout: helloTimeout, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a.SetPeer("b", b.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	c, err = a.conn(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	return a, c, logs, ctx
}
