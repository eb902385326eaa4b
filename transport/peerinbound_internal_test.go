package transport

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/quic-go/quic-go"
)

// InboundBytes was each connection's: a member that opened several
// connections from one socket, with streams that announce full frames
// and never finish them, pinned InboundBytes on each (an outside probe:
// 16 connections, 512 MiB). The connections of one peer now share it.
func TestPeerConnectionsShareInboundBytes(t *testing.T) {
	const maxFrame = 64 << 10
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a := boundsEndpoint(t, ca, "a", &eventRecorder{}, maxFrame, io.Discard)
	defer a.Close()
	cert, key, err := ca.Issue("rogue", pki.RoleClient, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: pc}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tc := &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, NextProtos: []string{ALPN}}
	const conns, streams = 3, 4
	for range conns {
		c, err := tr.Dial(ctx, a.Addr().(*net.UDPAddr), tc, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseWithError(0, "")
		for range streams {
			s, err := c.OpenStreamSync(ctx)
			if err != nil {
				t.Fatal(err)
			}
			buf, _ := appendFrame(nil, &frame{Type: frameHello, From: "rogue", Kind: streamMessages})
			buf = binary.BigEndian.AppendUint32(buf, maxFrame)
			buf = append(buf, make([]byte, maxFrame-1)...) // all but the frame's last byte
			go s.Write(buf)
		}
	}
	// Every stream either holds its frame or waits for room.
	var used int64
	for {
		var waiting int
		used, waiting = 0, 0
		seen := map[*peerInbound]bool{}
		a.mu.Lock()
		for _, b := range a.conns {
			if !seen[b] {
				seen[b] = true
				u, w := b.state()
				used, waiting = used+u, waiting+w
			}
		}
		a.mu.Unlock()
		if used/maxFrame+int64(waiting) == conns*streams {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("streams holding or waiting: %d of %d", used/maxFrame+int64(waiting), conns*streams)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if used > a.cfg.InboundBytes {
		t.Fatalf("one peer's %d connections hold %d bytes of unfinished frames, its InboundBytes is %d", conns, used, a.cfg.InboundBytes)
	}
}
