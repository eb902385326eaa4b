package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
)

type discardHandler struct{}

func (discardHandler) HandleMessage(string, []byte) {}
func (discardHandler) HandleCall(context.Context, string, []byte) ([]byte, error) {
	return nil, errors.New("no calls")
}
func (discardHandler) HandleStream(context.Context, string, []byte, io.Reader) error { return nil }

// A call to a peer whose message queue is dialling it (a peer that is
// down: the dial lasts its whole timeout) ends with its own context, not
// with the queue's dial. It used to wait for the peer's mutex, held by the
// queue across the dial, for up to 5 s whatever its context said: a node
// closing meanwhile waited for its rejoin call, and so for the dial.
func TestCallDoesNotWaitOutTheQueuesDial(t *testing.T) {
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue("a", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQUIC(&QUICConfig{Name: "a", Listen: "127.0.0.1:0", CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM,
		Handler: discardHandler{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // takes the handshake's packets, answers none
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	addr := silent.LocalAddr().String()
	q.SetPeer("down", addr)
	if err := q.Send(context.Background(), "down", []byte("x")); err != nil {
		t.Fatal(err)
	}
	dialling := func() bool {
		ap, err := q.addrPeer(addr)
		if err != nil {
			t.Fatal(err)
		}
		ap.mu.Lock()
		defer ap.mu.Unlock()
		return ap.dialing != nil
	}
	await.Until(t, "the queue's loop to take the message and dial", dialling)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Call(ctx, "down", []byte("req")); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Call: %v, want ErrUnreachable", err)
	}
	if !dialling() {
		t.Fatal("the call returned only once the queue's dial had ended")
	}
}
