package transport_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
)

// rawFrame is a frame as the wire carries it: a 4-byte length, then the
// CBOR array [type, from, kind, body].
func rawFrame(t *testing.T, typ uint8, from string, kind uint8, body []byte) []byte {
	t.Helper()
	b, err := cbor.Marshal([]any{typ, from, kind, body})
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// rawCall makes a call on conn as from and returns the answer's body.
func rawCall(ctx context.Context, t *testing.T, conn *quic.Conn, from string, req []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	s.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Write(append(rawFrame(t, 1, from, 2, nil), rawFrame(t, 3, "", 0, req)...)); err != nil {
		return nil, err
	}
	s.Close()
	var n [4]byte
	if _, err := io.ReadFull(s, n[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(n[:]))
	if _, err := io.ReadFull(s, buf); err != nil {
		return nil, err
	}
	var f []any
	if err := cbor.Unmarshal(buf, &f); err != nil || len(f) != 4 {
		return nil, errors.New("answer does not decode")
	}
	body, _ := f[3].([]byte)
	return body, nil
}

// A member opened as many connections as it liked from one UDP socket
// (a second connection from the same address is no second holder of its
// name), and each could pin InboundBytes of frames it announced and
// never finished: an outside probe held 16 connections of one client
// certificate with 4 streams of 8 MiB frames each and took an ossd from
// 97 MB resident to 641 MB, and nothing stopped it at 160. A peer now
// keeps at most MaxConnsPerPeer connections to a node; one more is
// closed with a reason it reads, and the node serves the others.
func TestOnePeerCannotOpenConnectionsWithoutEnd(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxT(t)
	pair, tr := rawEndpoint(t, c, "rogue", pki.RoleClient)
	addr := c.nodes["a"].Addr().(*net.UDPAddr)
	tc := &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}
	const conns = transport.MaxConnsPerPeer + 4
	served, refused := 0, 0
	var why error
	for range conns {
		conn, err := tr.Dial(ctx, addr, tc, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseWithError(0, "")
		if resp, err := rawCall(ctx, t, conn, "rogue", []byte("x")); err == nil && string(resp) == "rogue:x" {
			served++
		} else {
			refused++
			why = err
		}
	}
	if served != transport.MaxConnsPerPeer || refused != conns-served {
		t.Fatalf("a peer's %d connections from one socket: %d served, %d refused (%v); want %d served",
			conns, served, refused, why, transport.MaxConnsPerPeer)
	}
	if why == nil || !strings.Contains(why.Error(), "connections") {
		t.Fatalf("the refusal does not say why: %v", why)
	}
	if resp, err := c.nodes["b"].Call(ctx, "a", []byte("still")); err != nil || string(resp) != "b:still" {
		t.Fatalf("another peer is not served: %q %v", resp, err)
	}
}
