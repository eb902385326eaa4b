package oss_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// A member restarted with Join while none of the members it names (nor
// any it knew) answers, without JoinRetry, fails Start: one node rebooted
// while the others are down, as the README's "Nodes on a network" starts
// it. The error used to ask only whether an OSS node listens at the
// address ("is an OSS node listening there?"), as if the address were
// wrong; it now says the node is a member and what to do. A node that is
// no member yet is not told so.
func TestRestartedMemberNoneAnswersSaysWhatToDo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	caCert, caKey, err := pki.NewCA("hint", time.Hour)
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
	nobody := pc.LocalAddr().String() // nothing listens there once closed
	pc.Close()
	cfg := func(dir string, join ...string) *oss.Config {
		return &oss.Config{Name: "a", DataDir: dir, Listen: "127.0.0.1:0", Join: join, Logger: quietLogger(),
			TLS: &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: caCert}}
	}
	dir := filepath.Join(t.TempDir(), "a")
	n, err := oss.Start(ctx, cfg(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}

	_, err = oss.Start(ctx, cfg(dir, nobody))
	if err == nil || errors.Is(err, oss.ErrJoinRefused) {
		t.Fatalf("a member restarted with Join naming nobody: %v", err)
	}
	for _, want := range []string{"no member answered", "member already", "JoinRetry"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("a member restarted with Join naming nobody: %v\nwant %q in it", err, want)
		}
	}

	_, err = oss.Start(ctx, cfg(filepath.Join(t.TempDir(), "fresh"), nobody))
	if err == nil || !strings.Contains(err.Error(), "no member answered") || strings.Contains(err.Error(), "member already") {
		t.Errorf("a new node with Join naming nobody: %v", err)
	}
}
