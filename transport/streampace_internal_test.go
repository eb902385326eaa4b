package transport

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/quic-go/quic-go"
)

// A member could open streams as fast as its connection carried them: an
// outside probe's client certificate made 11,000 to 15,000 calls a second
// to an ossd and cut the puts an operator made through it from 200-250
// to 14-23 a second. The streams a client opens are now paced
// (StreamBurst at once, StreamRate a second since): the node takes no
// stream of a client past its pace, and QUIC holds the client back,
// while other peers are served; servers are not paced.
func TestStreamsOfAPeerArePaced(t *testing.T) {
	const burst, calls = 5, 8
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue("a", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := NewQUIC(&QUICConfig{Name: "a", CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: &eventRecorder{},
		StreamRate: 1e-9, StreamBurst: burst, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := fuzzEndpoint(t, ca, "b", &eventRecorder{}, 0)
	defer b.Close()
	b.SetPeer("a", a.Addr().String())

	rcert, rkey, err := ca.Issue("rogue", pki.RoleClient, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(rcert, rkey)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := quic.DialAddr(ctx, a.Addr().String(), &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, NextProtos: []string{ALPN}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	var answered atomic.Int64
	for range calls {
		go func() {
			s, err := conn.OpenStreamSync(ctx)
			if err != nil {
				return
			}
			buf, _ := appendFrame(nil, &frame{Type: frameHello, From: "rogue", Kind: streamCall})
			buf, _ = appendFrame(buf, &frame{Type: frameRequest, Body: []byte("x")})
			if _, err := s.Write(buf); err != nil {
				return
			}
			s.Close()
			if f, err := readFrame(s, DefaultMaxFrame); err == nil && f.Type == frameResponse {
				answered.Add(1)
			}
		}()
	}
	// The serving loop takes one stream at a time: once the burst is
	// answered, the next stream waits for the peer's pace.
	for answered.Load() < burst || a.pacing.Load() != 1 {
		if ctx.Err() != nil {
			t.Fatalf("%d calls answered, %d streams waiting for their pace", answered.Load(), a.pacing.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// b is a server: not paced, past the burst too.
	for i := range burst + 3 {
		if resp, err := b.Call(ctx, "a", []byte("still")); err != nil || string(resp) != "ok:still" {
			t.Fatalf("call %d of a server beside the paced client: %q %v", i, resp, err)
		}
	}
	if n := answered.Load(); n != burst {
		t.Fatalf("%d calls of a peer allowed %d at once answered", n, burst)
	}
	if !strings.Contains(logs.String(), "faster than the node takes them") {
		t.Fatalf("the pacing is not logged:\n%s", logs.String())
	}
	conn.CloseWithError(0, "")
	for a.pacing.Load() != 0 {
		if ctx.Err() != nil {
			t.Fatal("a stream still waits for its pace after its connection closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
