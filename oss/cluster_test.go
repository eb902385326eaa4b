package oss_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

func tlsFor(t *testing.T, caCert, caKey []byte, name string) *oss.TLSConfig {
	t.Helper()
	cert, key, err := pki.IssueCert(caCert, caKey, name, pki.RoleServer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: caCert}
}

func names(ms []oss.Member) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Name)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func TestNodesJoinAndLeave(t *testing.T) {
	t.Parallel()
	caCert, caKey, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var nodes []*oss.Node
	for _, name := range []string{"a", "b", "c"} {
		cfg := &oss.Config{Name: name, Listen: "127.0.0.1:0", TLS: tlsFor(t, caCert, caKey, name), Gossip: oss.GossipLoopback, Logger: quietLogger()}
		if len(nodes) > 0 {
			cfg.Join = []string{nodes[0].Addr()}
		}
		n, err := oss.Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close(context.Background())
		nodes = append(nodes, n)
	}
	waitUntil(t, "three members everywhere", func() bool {
		for _, n := range nodes {
			if names(n.Members()) != "a,b,c" {
				return false
			}
		}
		return true
	})
	if err := nodes[2].Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "c gone from a and b", func() bool {
		return names(nodes[0].Members()) == "a,b" && names(nodes[1].Members()) == "a,b"
	})
}

func TestStartNetworkErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := oss.Start(ctx, &oss.Config{Listen: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("Listen without TLS material: %v", err)
	}
	caCert, caKey, _ := pki.NewCA("test", time.Hour)
	_, err := oss.Start(ctx, &oss.Config{Name: "x", Listen: "127.0.0.1:0", TLS: tlsFor(t, caCert, caKey, "someone-else"), Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "someone-else") {
		t.Fatalf("certificate naming another node: %v", err)
	}
	_, err = oss.Start(ctx, &oss.Config{Name: "x", Listen: "127.0.0.1:0", TLS: tlsFor(t, caCert, caKey, "x"), Join: []string{"127.0.0.1:9"}, Gossip: oss.GossipLoopback, Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "join") {
		t.Fatalf("join to a cluster that does not answer: %v", err)
	}
	if _, _, err := pki.IssueCert([]byte("junk"), []byte("junk"), "x", pki.RoleServer, time.Hour); err == nil {
		t.Fatal("issued a certificate from a junk CA")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(await.Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
