package transport_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
)

// A peer that closes its endpoint (a node stopping) ends its streams
// without a warning on the other side: each stop of a node logged "stream
// closed ... Application error 0x0 (remote): closing" as a warning on
// every peer, which reads as a fault.
func TestPeerCloseIsNoWarning(t *testing.T) {
	ca := newCA(t)
	logs := map[string]*logBuffer{}
	nodes := map[string]*transport.QUIC{}
	rec := newRecorder()
	for _, name := range []string{"a", "b"} {
		cert, key, err := ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		logs[name] = &logBuffer{}
		q, err := transport.NewQUIC(&transport.QUICConfig{
			Name: name, CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: rec,
			Logger: slog.New(slog.NewTextHandler(logs[name], &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		nodes[name] = q
	}
	nodes["a"].SetPeer("b", nodes["b"].Addr().String())
	nodes["b"].SetPeer("a", nodes["a"].Addr().String())
	ctx := ctxT(t)
	if err := nodes["a"].Send(ctx, "b", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for rec.count("a") == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	nodes["a"].Close()
	ended := func() bool {
		s := logs["b"].String()
		return strings.Contains(s, "stream closed") || strings.Contains(s, "stream ended")
	}
	for !ended() && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if s := logs["b"].String(); !strings.Contains(s, "stream ended") || strings.Contains(s, "level=WARN") {
		t.Errorf("b's log when a closed:\n%s", s)
	}
}
