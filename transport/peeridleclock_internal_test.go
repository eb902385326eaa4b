package transport

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
)

// A peer's and an address entry's last use were Unix nanoseconds, and
// the sweep compared them with the wall clock: a forward step of it past
// peerIdle made every peer with empty queues look idle at once. A step
// of the wall clock cannot be made in a test without moving the
// monotonic one too; what is checked is that the uses and the sweep read
// one clock, idleClock, and that it counts from a monotonic reading. A
// peer (or entry) just used must outlive a sweep, which it does not if
// the sweep's now and its used are on different clocks, and must be
// forgotten by one at idleClock plus peerIdle.
func TestIdleClockIsMonotonic(t *testing.T) {
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue("a", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// peerIdle an hour: reapIdle's own sweeps (every half hour) stay out
	// of the way.
	a, err := NewQUIC(&QUICConfig{Name: "a", CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: &eventRecorder{},
		peerIdle: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// time.Time.String ends with "m=±<value>" when the time has a
	// monotonic clock reading.
	if !strings.Contains(a.start.String(), " m=") {
		t.Fatalf("the idle clock's start %v has no monotonic reading", a.start)
	}

	const addr = "127.0.0.1:9" // never dialled
	a.SetPeer("b", addr)
	p, err := a.peer("b")
	if err != nil {
		t.Fatal(err)
	}
	ap, err := a.addrPeer(addr)
	if err != nil {
		t.Fatal(err)
	}
	a.sweepIdle()
	a.mu.Lock()
	kept, keptAddr := a.peers["b"] == p, a.byAddr[addr] == ap
	used := ap.used
	a.mu.Unlock()
	if !kept || !keptAddr {
		t.Fatalf("a sweep just after their use forgot the peer (kept %v) or the address entry (kept %v)", kept, keptAddr)
	}

	idle := int64(time.Hour)
	a.forgetIdlePeers(p.used.Load() + idle - 1)
	a.forgetIdleAddrs(used + idle - 1)
	a.mu.Lock()
	kept, keptAddr = a.peers["b"] == p, a.byAddr[addr] == ap
	a.mu.Unlock()
	if !kept || !keptAddr {
		t.Fatalf("a sweep less than peerIdle after their use forgot the peer (kept %v) or the address entry (kept %v)", kept, keptAddr)
	}

	now := a.idleClock() + idle
	a.forgetIdlePeers(now)
	a.forgetIdleAddrs(now)
	a.mu.Lock()
	_, kept = a.peers["b"]
	_, keptAddr = a.byAddr[addr]
	a.mu.Unlock()
	if kept || keptAddr {
		t.Fatalf("a sweep peerIdle after idleClock's now kept the peer (%v) or the address entry (%v)", kept, keptAddr)
	}
	select {
	case <-p.forgotten:
	default:
		t.Fatal("the forgotten peer's sendLoops were not told to end")
	}
}
