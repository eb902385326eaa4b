package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// stalled is a Handler whose HandleMessage and HandleCall wait until
// release is closed; it counts the bytes its calls hold at once.
type stalled struct {
	release chan struct{}
	once    sync.Once
	entered atomic.Int64 // calls in HandleCall
	holding atomic.Int64 // bytes of the requests in HandleCall
	most    atomic.Int64 // the most holding has been
	msgs    atomic.Int64
}

// unstall lets the handlers go on.
func (h *stalled) unstall() { h.once.Do(func() { close(h.release) }) }

func (h *stalled) HandleMessage(from string, msg []byte) {
	<-h.release
	h.msgs.Add(1)
}

func (h *stalled) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	now := h.holding.Add(int64(len(req)))
	for {
		most := h.most.Load()
		if now <= most || h.most.CompareAndSwap(most, now) {
			break
		}
	}
	h.entered.Add(1)
	<-h.release
	h.holding.Add(-int64(len(req)))
	return []byte("ok"), nil
}

func (h *stalled) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	return nil
}

func boundsEndpoint(t *testing.T, ca *pki.CA, name string, h Handler, maxFrame int, logs io.Writer) *QUIC {
	t.Helper()
	cert, key, err := ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQUIC(&QUICConfig{Name: name, CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: h, MaxFrame: maxFrame,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A peer's send queue is bounded in bytes, not only in messages: a node
// that floods large messages to a peer whose receiver is stalled holds at
// most QueueBytes of them (4 frames by default), drops the rest at once
// with ErrQueueFull, counts them and logs it once; the queue drains when
// the receiver reads again. Before, 4096 messages of up to a frame each
// could queue: 32 GiB with the default 8 MiB frame.
func TestSendQueueIsBoundedInBytes(t *testing.T) {
	const maxFrame = 64 << 10
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	recv := &stalled{release: make(chan struct{})}
	logs := &syncBuffer{}
	a := boundsEndpoint(t, ca, "a", &stalled{release: make(chan struct{})}, maxFrame, logs)
	b := boundsEndpoint(t, ca, "b", recv, maxFrame, io.Discard)
	defer func() {
		recv.unstall()
		a.Close()
		b.Close()
	}()
	a.SetPeer("b", b.Addr().String())
	limit := a.cfg.QueueBytes
	if limit != 4*maxFrame {
		t.Fatalf("QueueBytes is %d by default, want 4 frames", limit)
	}
	msg := make([]byte, a.maxBody())
	p, err := a.peer("b")
	if err != nil {
		t.Fatal(err)
	}
	q := &p.bulk
	sent, refused := 0, 0
	for range 200 {
		err := a.Send(context.Background(), "b", msg)
		switch {
		case err == nil:
			sent++
		case errors.Is(err, ErrQueueFull):
			refused++
		default:
			t.Fatal(err)
		}
		if n := int64(len(q.queue)) * int64(len(msg)); n > limit {
			t.Fatalf("%d bytes queued for the peer, limit %d", n, limit)
		}
		if n := q.bytes.Load(); n > limit {
			t.Fatalf("%d bytes counted for the peer, limit %d", n, limit)
		}
	}
	if refused == 0 || q.dropped.Load() != uint64(refused) {
		t.Fatalf("%d messages refused, %d counted: the receiver reads nothing, 200 frames cannot all be queued", refused, q.dropped.Load())
	}
	if n := strings.Count(logs.String(), "messages dropped"); n != 1 {
		t.Fatalf("%d log lines about %d dropped messages, want 1:\n%s", n, refused, logs)
	}
	// The control queue has bounds of its own: the full message queue
	// does not refuse a control message. It is bounded the same way.
	if err := a.SendControl(context.Background(), "b", []byte("heartbeat")); err != nil {
		t.Fatalf("a control message refused while the message queue is full: %v", err)
	}
	ctl := &p.control
	ctlRefused := 0
	for range 200 {
		err := a.SendControl(context.Background(), "b", msg)
		if errors.Is(err, ErrQueueFull) {
			ctlRefused++
		} else if err != nil {
			t.Fatal(err)
		}
		if n := ctl.bytes.Load(); n > limit {
			t.Fatalf("%d bytes counted for the peer's control queue, limit %d", n, limit)
		}
	}
	if ctlRefused == 0 || ctl.dropped.Load() != uint64(ctlRefused) || q.dropped.Load() != uint64(refused) {
		t.Fatalf("%d control messages refused, %d counted (%d messages, %d counted)", ctlRefused, ctl.dropped.Load(), refused, q.dropped.Load())
	}
	if n := strings.Count(logs.String(), "messages dropped"); n != 2 || !strings.Contains(logs.String(), "queue=control") {
		t.Fatalf("%d log lines about dropped messages, want one per queue:\n%s", n, logs)
	}
	// The receiver reads again: the queue drains, and the peer takes
	// messages again.
	recv.unstall()
	await.Until(t, "the receive queues to drain", func() bool { return q.bytes.Load() == 0 && ctl.bytes.Load() == 0 })
	if err := a.Send(context.Background(), "b", msg); err != nil {
		t.Fatal(err)
	}
	await.Until(t, "every message taken to be handled", func() bool { return recv.msgs.Load() == int64(sent+1+1+200-ctlRefused) })
}

// What a peer's calls pin is bounded in bytes per connection: requests
// being read and handled take at most InboundBytes (4 frames by default),
// and the streams beyond it wait, unread, until handlers return. Before,
// every stream read its request whole (allocated as soon as its length
// arrived) and held it through its handler: up to 1024 streams of a frame
// each, 8 GiB per connection.
func TestInboundFramesAreBoundedPerConnection(t *testing.T) {
	// All the calls' requests fit in the connection's initial receive
	// window (2 MiB): a stream waiting for room has not read its body,
	// which holds the connection's window, and a call whose first bytes
	// the window kept back would reach neither its handler nor the
	// queue until the handlers go on.
	const maxFrame = 32 << 10
	const calls = 32
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	recv := &stalled{release: make(chan struct{})}
	a := boundsEndpoint(t, ca, "a", &stalled{release: make(chan struct{})}, maxFrame, io.Discard)
	b := boundsEndpoint(t, ca, "b", recv, maxFrame, io.Discard)
	defer func() {
		recv.unstall()
		a.Close()
		b.Close()
	}()
	a.SetPeer("b", b.Addr().String())
	limit := b.cfg.InboundBytes
	if limit != 4*maxFrame {
		t.Fatalf("InboundBytes is %d by default, want 4 frames", limit)
	}
	req := make([]byte, a.maxBody())
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := a.Call(context.Background(), "b", req)
			errs <- err
		}()
	}
	// Every call is either in its handler or waiting for room.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		waiting := 0
		b.mu.Lock()
		for _, in := range b.conns {
			_, w := in.state()
			waiting += w
		}
		b.mu.Unlock()
		if recv.entered.Load()+int64(waiting) == calls {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes %d calls are in their handler and %d wait for room, of %d", recv.entered.Load(), waiting, calls)
		}
		select {
		case err := <-errs: // no call can end while the handlers stall
			t.Fatalf("a call ended while the handlers stalled: %v", err)
		default:
		}
		time.Sleep(time.Millisecond)
	}
	if most := recv.most.Load(); most > limit {
		t.Fatalf("the handlers held %d bytes of requests at once, limit %d", most, limit)
	}
	recv.unstall()
	for range calls {
		if err := await.Recv(t, errs, "the stalled calls to return"); err != nil {
			t.Fatal(err)
		}
	}
	if most := recv.most.Load(); most > limit {
		t.Fatalf("the handlers held %d bytes of requests at once, limit %d", most, limit)
	}
	// A stream gives its bytes back when its handler has returned, which
	// may be just after the caller has read the answer: every call's bytes
	// come back, and no stream is left waiting.
	for {
		used, waiting := 0, 0
		b.mu.Lock()
		for _, in := range b.conns {
			u, w := in.state()
			used, waiting = used+int(u), waiting+w
		}
		b.mu.Unlock()
		if waiting != 0 {
			t.Fatalf("after every call: %d streams waiting", waiting)
		}
		if used == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of requests still counted after every call ended", used)
		}
		time.Sleep(time.Millisecond)
	}
}

// A budget grants in order, and a waiter whose context ends leaves the
// queue without taking anything.
func TestBudget(t *testing.T) {
	b := newBudget(10)
	ctx := context.Background()
	if err := b.acquire(ctx, 6); err != nil {
		t.Fatal(err)
	}
	big, small := make(chan error, 1), make(chan error, 1)
	go func() { big <- b.acquire(ctx, 8) }()
	await.Until(t, "the big acquire to wait", func() bool { _, w := b.state(); return w == 1 })
	// 2 bytes would fit, but the larger waiter is first.
	cctx, cancel := context.WithCancel(ctx)
	go func() { small <- b.acquire(cctx, 2) }()
	await.Until(t, "the small acquire to wait", func() bool { _, w := b.state(); return w == 2 })
	cancel()
	if err := await.Recv(t, small, "the cancelled wait for the budget to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v", err)
	}
	b.release(6)
	if err := await.Recv(t, big, "the big wait for the budget to return"); err != nil {
		t.Fatal(err)
	}
	if used, w := b.state(); used != 8 || w != 0 {
		t.Fatalf("%d bytes used, %d waiting; want 8 and none", used, w)
	}
	b.release(8)
}
