package transport_test

import (
	"crypto/tls"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
)

// A member that opens bad streams as fast as it can gets a few log lines
// a window, not one a stream: it flooded the log before.
func TestBadStreamsOfOnePeerAreLoggedAFewAtATime(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxT(t)
	cert, key, _ := c.ca.Issue("rogue", pki.RoleServer, time.Now(), time.Hour)
	pair, _ := tls.X509KeyPair(cert, key)
	conn, err := quic.DialAddr(ctx, c.nodes["a"].Addr().String(), &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	const streams = 60
	for range streams {
		s, err := conn.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.Write([]byte("not a frame at all, and never one"))
		s.Close()
		io.ReadAll(s) // the node resets it once it has read the junk
	}
	// Every stream was read and reset, so every line that would be
	// written has been; the node still serves.
	if resp, err := c.nodes["b"].Call(ctx, "a", []byte("still")); err != nil || string(resp) != "b:still" {
		t.Fatalf("node stopped serving after bad streams: %q %v", resp, err)
	}
	logs := c.logs.String()
	n := strings.Count(logs, "stream closed")
	if n == 0 || n > 8 {
		t.Fatalf("%d of %d bad streams logged in one window, want 1 to 8:\n%s", n, streams, logs)
	}
}
