package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// A caller that found the endpoint open, and then Close ran before it
// started its dial, started the dial all the same: a goroutine counted
// in the endpoint's WaitGroup after Close had waited for it. memberlist's
// probe, which outlives its Shutdown, sends its datagrams while the node
// closes the endpoint; under the race detector the WaitGroup's Add raced
// Close's Wait (TestQUICClusterOfFiveGracefulLeave, 1 run in 53 at load
// 9), and the dial ran on a closed endpoint. The caller is held between
// addrPeer's check and the dial (by the address's lock, which it takes
// next) while Close runs: it gets ErrClosed, and no dial starts.
func TestNoDialStartsOnceTheEndpointHasClosed(t *testing.T) {
	a := loneEndpoint(t, "a")
	const addr = "127.0.0.1:9" // nothing is dialled
	p, err := a.addrPeer(addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	errc := make(chan error, 1)
	go func() {
		_, err := a.connAt(context.Background(), addr, "")
		errc <- err
	}()
	await.Until(t, "connAt to wait for the address's lock", connAtWaitsForAnAddress)
	a.Close()
	p.mu.Unlock()
	err = await.Recv(t, errc, "connAt's answer")
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("connAt held while the endpoint closed: %v; want ErrClosed, and no dial", err)
	}
	p.mu.Lock()
	dialing, derr := p.dialing, p.err
	p.mu.Unlock()
	if dialing != nil || derr != nil {
		t.Fatalf("a dial began after Close: dialing %v, its error %v", dialing != nil, derr)
	}
}

// connAtWaitsForAnAddress reports whether a goroutine waits in connAt for
// a lock past addrPeer's: an address's.
func connAtWaitsForAnAddress() bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, ".(*QUIC).connAt(") && strings.Contains(g, "sync.(*Mutex).Lock") && !strings.Contains(g, ".(*QUIC).addrPeer(") {
			return true
		}
	}
	return false
}

// loneEndpoint returns an endpoint of a CA of its own, closed when the
// test ends.
func loneEndpoint(t *testing.T, name string) *QUIC {
	t.Helper()
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQUIC(&QUICConfig{Name: name, Listen: "127.0.0.1:0", CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM,
		Handler: discardHandler{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}
