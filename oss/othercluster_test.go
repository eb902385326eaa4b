package oss_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// A node of one cluster that joins another is refused at Start with an
// error matching ErrJoinRefused and ErrOtherCluster, the sentinel whose
// doc names the cause: it matched ErrJoinRefused alone, and its text was
// all that said "another cluster".
func TestJoiningAnotherClusterMatchesErrOtherCluster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	caCert, caKey, err := pki.NewCA("probe", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := func(name string) *oss.Config {
		cert, key, err := pki.IssueCert(caCert, caKey, name, pki.RoleServer, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return &oss.Config{Name: name, Listen: "127.0.0.1:0", Gossip: oss.GossipLoopback,
			DataDir: filepath.Join(dir, name), Logger: quietLogger(),
			TLS: &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: caCert}}
	}
	a, err := oss.Start(ctx, config("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	b, err := oss.Start(ctx, config("b")) // a cluster of its own
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := config("b")
	cfg.Join = []string{a.Addr()}
	b, err = oss.Start(ctx, cfg)
	if err == nil {
		b.Close(ctx)
		t.Fatal("a node of another cluster joined")
	}
	if !errors.Is(err, oss.ErrJoinRefused) || !errors.Is(err, oss.ErrOtherCluster) {
		t.Errorf("a node of another cluster joining: %v; want an error matching ErrJoinRefused and ErrOtherCluster", err)
	}
}
