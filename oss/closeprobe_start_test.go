package oss_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
	"github.com/objectsharing/oss/oss/pki"
)

// Probes of a Start cut short by its ctx, at points through the join
// (asking the cluster, catching the catalog up, opening replicas), with
// peers in reach and not: Start must return with ctx's error (or a node,
// if it was done first, which then closes), leave no goroutine behind,
// and leave its data directory to start again.

// cancelPoints are the delays after which the probes cancel Start's ctx.
func cancelPoints() []time.Duration {
	points := []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 80 * time.Millisecond, 300 * time.Millisecond}
	if os.Getenv("OSS_LONG") != "" {
		for d := 2 * time.Millisecond; d < 400*time.Millisecond; d += 7 * time.Millisecond {
			points = append(points, d)
		}
	}
	return points
}

func startCut(t *testing.T, cfg *oss.Config, after time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(after, cancel)
	defer timer.Stop()
	defer cancel()
	var n *oss.Node
	var err error
	within(t, fmt.Sprintf("Start cancelled after %v", after), func() { n, err = oss.Start(ctx, cfg) })
	if err == nil {
		within(t, "Close of a node started", func() { err = n.Close(context.Background()) })
		if err != nil {
			t.Errorf("Close of the node Start returned (cancel after %v): %v", after, err)
		}
		return
	}
	if ctx.Err() == nil {
		t.Logf("Start failed without its ctx ended (cancel after %v): %v", after, err)
		return
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Start cancelled after %v: %v, want an error matching context.Canceled", after, err)
	}
}

// TestStartCancelledWhileJoining: a node joining a cluster of three on
// the in-memory network, reachable, then partitioned away.
func TestStartCancelledWhileJoining(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, &osstest.Options{Durable: true})
	c.Heap("n1", "test")
	for _, cut := range []bool{false, true} {
		if cut {
			c.Partition([]string{"n1", "n2", "n3"})
		}
		for i, after := range cancelPoints() {
			dir := filepath.Join(t.TempDir(), "n4")
			cfg := func() *oss.Config {
				return &oss.Config{Name: fmt.Sprintf("j%d", i), DataDir: dir, Transport: c.Net, Join: []string{"n1", "n2"},
					TickInterval: 10 * time.Millisecond, ReplaceAfter: 300 * time.Millisecond, Logger: quietLogger()}
			}
			startCut(t, cfg(), after)
			if !cut {
				// The directory starts again, the join under way or not.
				n, err := oss.Start(context.Background(), cfg())
				if err != nil {
					t.Fatalf("start again on the directory of a Start cancelled after %v: %v", after, err)
				}
				if err := n.Close(context.Background()); err != nil {
					t.Errorf("close: %v", err)
				}
			}
		}
	}
	c.Heal()
}

// TestStartCancelledPeersUnreachable: a QUIC node whose Join names an
// address nothing answers at.
func TestStartCancelledPeersUnreachable(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	caCert, caKey, err := pki.NewCA("probe", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.IssueCert(caCert, caKey, "a", pki.RoleServer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String() // nothing reads it: packets sent there are lost
	defer pc.Close()
	for _, after := range cancelPoints() {
		cfg := &oss.Config{Name: "a", Listen: "127.0.0.1:0", Gossip: oss.GossipLoopback, Join: []string{dead},
			TLS: &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: caCert}, DataDir: t.TempDir(), Logger: quietLogger()}
		startCut(t, cfg, after)
	}
}
