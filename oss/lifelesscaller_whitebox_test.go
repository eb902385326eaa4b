package oss

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/quic-go/quic-go"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// A second process holding a live client's certificate that claims the
// live one's advertised address, and answers the leader's ping on the
// connection of its join by resetting the stream (as a build that knows
// no ping does, or a process made to: the transport counts a reset as an
// answer with no life), is refused for good by the catalog's leader as
// already live: the process at the address answered with a life, as
// every process of this build does, and one that answers without cannot
// be it. Until 2026-12-07 a caller answering without a life was "not
// known" whatever answered at the address, and a join claiming that
// address was told to try again for as long as the live one ran.
func TestCallerAnsweringWithoutALifeClaimingALiveNodesAddressIsRefused(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	p := startAdvertisedP(t, ctx, c)
	t.Cleanup(func() {
		p.n.Close(context.Background())
		p.fc.Close()
	})
	await.Until(t, "p at its advertised address in a's view", func() bool { return memberAt(c.nodes["a"], "p", p.advert) })
	leader := catalogLeaderWith(t, c, p.n)

	cert, err := tls.X509KeyPair(p.tls.CertPEM, p.tls.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	req, err := codec.Marshal(callRequest{Op: opJoin, Heap: catalogName, ID: p.n.id + 1, Addr: p.advert})
	if err != nil {
		t.Fatal(err)
	}
	relay := startJoinRelay(t, c, leader)
	// Under load the leader's ping of p's address can go unanswered in
	// time, and the join is told to try again (unansweredInTime).
	var got string
	await.Until(t, "an answer to the join that is not a ping unanswered in time", func() bool {
		got = callResettingPings(t, ctx, cert, "p", relay.Addr().String(), req)
		if unansweredInTime(got) {
			t.Logf("the join: %s; asked again", got)
			return false
		}
		return true
	})
	if !strings.HasPrefix(got, "final ") || !strings.Contains(got, ErrJoinRefused.Error()) || !strings.Contains(got, `a node named "p" is already live`) {
		t.Fatalf("a second process of p's certificate, resetting its pings, claiming p's address %s: %q; want refused for good as already live", p.advert, got)
	}
	if rec := leader.committed().recs["p"]; rec.ID != p.n.id {
		t.Fatalf("p's record names raft ID %016x, the live p runs %016x", rec.ID, p.n.id)
	}
}

// wireFrame is a frame of package transport as it is on the wire after
// its 4-byte length: a CBOR array of type, sender, kind and body.
type wireFrame struct {
	_    struct{} `cbor:",toarray"`
	Type uint8
	From string
	Kind uint8
	Body []byte
}

// The frame types and the stream kind of a call (transport/frame.go).
const (
	wireHello    = 1
	wireRequest  = 3
	wireResponse = 4
	wireCall     = 2
)

// appendWireFrame appends f's length and encoding to dst.
func appendWireFrame(t *testing.T, dst []byte, f wireFrame) []byte {
	t.Helper()
	b, err := cbor.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32(dst, uint32(len(b))), b...)
}

// callResettingPings calls the endpoint at addr, as from with cert,
// from a QUIC socket of its own that is no transport endpoint: it sends
// the call's hello and request, and resets every stream its peer opens
// once it has read the stream's hello, as a build that knows no ping
// does (transport's streamError). It returns the call's answer.
func callResettingPings(t *testing.T, ctx context.Context, cert tls.Certificate, from, addr string, req []byte) string {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: pc}
	defer pc.Close()
	defer tr.Close()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{transport.ALPN}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	conn, err := tr.Dial(ctx, ua, conf, &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer conn.CloseWithError(0, "done")
	wg.Go(func() {
		for {
			s, err := conn.AcceptStream(conn.Context())
			if err != nil {
				return
			}
			wg.Go(func() {
				io.Copy(io.Discard, s)
				s.CancelRead(1)
				s.CancelWrite(1)
			})
		}
	})
	s, err := conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := appendWireFrame(t, nil, wireFrame{Type: wireHello, From: from, Kind: wireCall})
	out = appendWireFrame(t, out, wireFrame{Type: wireRequest, Body: req})
	if _, err := s.Write(out); err != nil {
		t.Fatal(err)
	}
	s.Close()
	stop := context.AfterFunc(ctx, func() { s.CancelRead(2) })
	defer stop()
	in, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	var f wireFrame
	if len(in) < 4 || int(binary.BigEndian.Uint32(in)) != len(in)-4 {
		t.Fatalf("the call's answer is not one frame: %q", in)
	}
	if err := cbor.Unmarshal(in[4:], &f); err != nil {
		t.Fatal(err)
	}
	if f.Type != wireResponse {
		t.Fatalf("the call failed: frame type %d: %s", f.Type, f.Body)
	}
	return string(f.Body)
}
