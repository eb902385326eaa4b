package oss

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// revokedBookMember starts servers a, b and c on data directories under
// base, stops a once its book lists b and c, and revokes a's
// certificate through b, waiting until b and c both hold the
// revocation. It returns the configuration a restarts on: its data
// directory, its address and its revoked certificate, no Join.
func revokedBookMember(t *testing.T, ctx context.Context) (*quicCluster, *Config) {
	t.Helper()
	base := t.TempDir()
	c := newBookCluster(t, base, nil, "a", "b", "c")
	awaitBook(t, c, base, "a", "b", "c")
	a := c.nodes["a"]
	addr, tls := a.Addr(), a.cfg.TLS
	if err := a.stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	delete(c.nodes, "a")
	untilLeader(t, "revoke a's certificates", func(ctx context.Context) error {
		_, err := c.nodes["b"].RevokeCertificate(ctx, "a", nil)
		return err
	})
	waitCond(t, "b and c to hold a's certificate revoked", func() bool {
		return len(c.nodes["b"].Revocations()) == 1 && len(c.nodes["c"].Revocations()) == 1
	})
	cfg := c.serverConfig("a", addr)
	cfg.DataDir, cfg.TLS = filepath.Join(base, "a"), tls
	return c, cfg
}

// A member whose certificate was revoked, restarted without Join, fails
// its start when every server of its book refuses its certificate, with
// the refusal a start through Join gives (ErrJoinRefused, the server
// that refused named): it started and sat alone, its refusals taken for
// servers not answering yet.
func TestRevokedMemberRestartedWithoutJoinIsRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	_, cfg := revokedBookMember(t, ctx)
	n, err := Start(ctx, cfg)
	if err == nil {
		members := n.Members()
		n.stop(context.Background(), false)
		t.Fatalf("a revoked member restarted without Join, every server of its book refusing it: started, members %v; want it refused", members)
	}
	var cr *certRefusedError
	if !errors.Is(err, ErrJoinRefused) || !errors.As(err, &cr) || !strings.Contains(err.Error(), "refused this node's certificate") ||
		!strings.Contains(err.Error(), "holds it revoked") {
		t.Fatalf("a revoked member restarted without Join: %v; want ErrJoinRefused, a server refusing its certificate, as through Join", err)
	}
	t.Logf("refused: %v", err)
}

// A revoked member restarted without Join, one server of its book
// refusing it and the other down, starts as before: a server that does
// not answer may yet take it (the refusal is not final while one
// server is unheard), and the node keeps trying its book as it runs.
func TestRevokedMemberWithAServerDownStarts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	c, cfg := revokedBookMember(t, ctx)
	if err := c.nodes["c"].stop(ctx, false); err != nil {
		t.Fatal(err)
	}
	delete(c.nodes, "c")
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("a revoked member restarted without Join, one server of its book down: %v; want it started", err)
	}
	c.nodes["a"] = n
}
