package gossip

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

// A compressed stream message of a client inflated to up to 40 MiB, and
// LZW makes that of 31 KB of zeros: 8 streams of a QUIC client with a
// client certificate, 250 KB sent, took a node from 64 MB resident to
// 1.27 GB, and a connection may hold 1024 streams. A client's message
// inflates to at most maxClientInflated (a push/pull of maxPushStates
// members fits), so the bomb is refused once that much has inflated,
// and a small compressed message still passes.
func TestCompressedClientStreamIsBounded(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	g := &Transport{trusted: func(_, role string) bool { return role == "server" }}
	const n = 40<<20 - 64
	user := encodeMsg(t, msgUser, &userHeader{UserMsgLen: n})
	bomb := compress(t, append(user, make([]byte, n)...))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := g.guard(&peerConn{r: bytes.NewReader(bomb)}).Read(make([]byte, 64))
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Errorf("a compressed user message of %d bytes (%d sent) from a client was passed on", n, len(bomb))
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8*maxClientInflated {
		t.Errorf("a compressed user message of %d bytes (%d sent) made the filter allocate %d bytes", n, len(bomb), got)
	}

	small := append(encodeMsg(t, msgUser, &userHeader{UserMsgLen: 5}), "hello"...)
	b, err := io.ReadAll(g.guard(&peerConn{r: bytes.NewReader(compress(t, small))}))
	if err != nil || !bytes.Equal(b, small) {
		t.Fatalf("a small compressed user message read as %q, %v; want %q", b, err, small)
	}
}
