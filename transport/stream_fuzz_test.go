package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
)

// streamEvent is what a stream delivered to the endpoint's user.
type streamEvent struct {
	kind string // "message", "call", "stream" or "raw"
	body []byte // the message, the request, the stream's header
	rest []byte // what followed, for "stream" and "raw"
}

func (e streamEvent) equal(o streamEvent) bool {
	return e.kind == o.kind && bytes.Equal(e.body, o.body) && bytes.Equal(e.rest, o.rest)
}

// eventRecorder is a Handler that records what it is handed.
type eventRecorder struct {
	mu     sync.Mutex
	events []streamEvent
}

func (r *eventRecorder) add(e streamEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *eventRecorder) take() []streamEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

func (r *eventRecorder) HandleMessage(from string, msg []byte) {
	r.add(streamEvent{kind: "message", body: msg})
}

func (r *eventRecorder) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	r.add(streamEvent{kind: "call", body: req})
	if string(req) == "fail" {
		return nil, errors.New("as asked")
	}
	return append([]byte("ok:"), req...), nil
}

func (r *eventRecorder) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	rest, err := io.ReadAll(body)
	r.add(streamEvent{kind: "stream", body: header, rest: rest})
	if err != nil {
		return err
	}
	if string(header) == "fail" {
		return errors.New("as asked")
	}
	return nil
}

// expectStream says what the endpoint must deliver of a stream opened by
// peer from that carries data, and what it must answer on it.
func expectStream(data []byte, from string, max int) ([]streamEvent, []byte) {
	r := bytes.NewReader(data)
	rest := func() []byte { b, _ := io.ReadAll(r); return b }
	answer := func(f *frame) []byte { b, _ := appendFrame(nil, f); return b }
	hello, err := readFrame(r, helloLimit(max))
	if err != nil || hello.Type != frameHello || hello.From != from {
		return nil, nil
	}
	switch hello.Kind {
	case streamRaw:
		return []streamEvent{{kind: "raw", rest: rest()}}, nil
	case streamMessages:
		var out []streamEvent
		for {
			f, err := readFrame(r, max)
			if err != nil || f.Type != frameMessage {
				return out, nil
			}
			out = append(out, streamEvent{kind: "message", body: f.Body})
		}
	case streamCall:
		f, err := readFrame(r, max)
		if err != nil || f.Type != frameRequest {
			return nil, nil
		}
		if string(f.Body) == "fail" {
			return []streamEvent{{kind: "call", body: f.Body}}, answer(&frame{Type: frameError, Body: []byte("as asked")})
		}
		return []streamEvent{{kind: "call", body: f.Body}}, answer(&frame{Type: frameResponse, Body: append([]byte("ok:"), f.Body...)})
	case streamBulk:
		f, err := readFrame(r, max)
		if err != nil || f.Type != frameRequest {
			return nil, nil
		}
		if string(f.Body) == "fail" {
			return []streamEvent{{kind: "stream", body: f.Body, rest: rest()}}, answer(&frame{Type: frameError, Body: []byte("as asked")})
		}
		return []streamEvent{{kind: "stream", body: f.Body, rest: rest()}}, answer(&frame{Type: frameResponse})
	}
	return nil, nil
}

func fuzzEndpoint(t testing.TB, ca *pki.CA, name string, h Handler, maxFrame int) *QUIC {
	cert, key, err := ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQUIC(&QUICConfig{Name: name, CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: h, MaxFrame: maxFrame,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// FuzzServeStream opens a stream from an authenticated peer and writes
// arbitrary bytes on it: the hello, the frames of every stream kind, the
// bytes of raw and bulk streams. The endpoint hands over exactly what the
// frames that decode say, in order, answers as its handler asks, refuses
// the rest by resetting the stream, never crashes, and keeps serving the
// connection.
func FuzzServeStream(f *testing.F) {
	const maxFrame = 4096
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	rec := &eventRecorder{}
	a := fuzzEndpoint(f, ca, "a", &eventRecorder{}, maxFrame)
	b := fuzzEndpoint(f, ca, "b", rec, maxFrame)
	a.SetPeer("b", b.Addr().String())
	done := make(chan struct{})
	var drained sync.WaitGroup
	drained.Go(func() {
		for {
			select {
			case c := <-b.RawStreams():
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				rest, _ := io.ReadAll(c)
				rec.add(streamEvent{kind: "raw", rest: rest})
				c.Close()
			case <-done:
				return
			}
		}
	})
	f.Cleanup(func() {
		a.Close()
		b.Close()
		close(done)
		drained.Wait()
	})

	seed := func(frames ...*frame) []byte {
		var b []byte
		for _, fr := range frames {
			b, _ = appendFrame(b, fr)
		}
		return b
	}
	hello := func(kind uint8) *frame { return &frame{Type: frameHello, From: "a", Kind: kind} }
	f.Add(seed(hello(streamMessages), &frame{Type: frameMessage, Body: []byte("one")}, &frame{Type: frameMessage, Body: []byte("two")}))
	f.Add(seed(hello(streamMessages), &frame{Type: frameMessage, Body: []byte("one")}, &frame{Type: frameRequest, Body: []byte("not here")}))
	f.Add(seed(hello(streamCall), &frame{Type: frameRequest, Body: []byte("ping")}))
	f.Add(seed(hello(streamCall), &frame{Type: frameRequest, Body: []byte("fail")}))
	f.Add(seed(hello(streamCall), &frame{Type: frameMessage, Body: []byte("ping")}))
	f.Add(append(seed(hello(streamBulk), &frame{Type: frameRequest, Body: []byte("snapshot")}), "the body of the stream"...))
	f.Add(seed(hello(streamBulk), &frame{Type: frameRequest, Body: []byte("fail")}))
	f.Add(append(seed(hello(streamRaw)), "gossip bytes"...))
	f.Add(seed(hello(9)))
	f.Add(seed(&frame{Type: frameHello, From: "b", Kind: streamCall}, &frame{Type: frameRequest, Body: []byte("forged")}))
	f.Add(seed(&frame{Type: frameMessage, Body: []byte("no hello")}))
	f.Add([]byte{0, 0, 0x10, 0x01, 0x84})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte(nil))

	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := a.conn(ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.SetDeadline(time.Now().Add(5 * time.Second))
		s.Write(data) // the endpoint may refuse the stream before it has read it all
		s.Close()
		answer, rerr := io.ReadAll(s)
		s.CancelRead(0)
		var ne net.Error
		if errors.As(rerr, &ne) && ne.Timeout() {
			t.Fatalf("the stream was neither answered nor reset: %v", rerr)
		}
		wantEvents, wantAnswer := expectStream(data, "a", maxFrame)
		got := rec.take()
		if len(got) != len(wantEvents) {
			t.Fatalf("delivered %d items, want %d: %+v, want %+v", len(got), len(wantEvents), got, wantEvents)
		}
		for i := range got {
			if !got[i].equal(wantEvents[i]) {
				t.Fatalf("delivered %+v at %d, want %+v", got[i], i, wantEvents[i])
			}
		}
		if wantAnswer != nil && (rerr != nil || !bytes.Equal(answer, wantAnswer)) {
			t.Fatalf("answered %x (%v), want %x", answer, rerr, wantAnswer)
		}
		if wantAnswer == nil && len(answer) > 0 {
			t.Fatalf("answered %x on a stream that asks nothing", answer)
		}
		// The connection still serves.
		resp, err := a.Call(ctx, "b", []byte("ping"))
		if err != nil || string(resp) != "ok:ping" {
			t.Fatalf("a call after the stream: %q %v", resp, err)
		}
		if e := rec.take(); len(e) != 1 || e[0].kind != "call" {
			t.Fatalf("the call delivered %+v", e)
		}
	})
}
