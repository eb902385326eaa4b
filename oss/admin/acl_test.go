package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
	"go.uber.org/goleak"
)

func startACL(t *testing.T, cfg *oss.Config) *Client {
	t.Helper()
	n, err := oss.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(n, &Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(srv.Addr(), &ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		srv.Close(context.Background())
		n.Close(context.Background())
	})
	return c
}

// The access control endpoints grant, list and revoke; a grant is checked
// before it is written, and a revocation of what was not granted is 404.
func TestACLEndpoints(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	c := startACL(t, nil)
	gs, err := c.Grants(ctx)
	if err != nil || len(gs) != 0 {
		t.Fatalf("no grants yet: %v, %v", gs, err)
	}
	want := []oss.Grant{
		{Who: "ann", Heap: "game-*", Perm: oss.PermAdmin},
		{Who: "bob", Heap: "scores", Perm: oss.PermRead},
	}
	for _, g := range want {
		if err := c.Grant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	if gs, err := c.Grants(ctx); err != nil || !slices.Equal(gs, want) {
		t.Fatalf("grants %v, %v; want %v", gs, err, want)
	}
	var se *StatusError
	if err := c.Grant(ctx, oss.Grant{Who: "bob", Heap: "oss:catalog", Perm: oss.PermRead}); !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		t.Fatalf("a grant on a system heap: %v", err)
	}
	if err := c.Grant(ctx, oss.Grant{Who: "bob", Heap: "x", Perm: "own"}); !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		t.Fatalf("an unknown permission: %v", err)
	}
	if err := c.Do(ctx, "POST", "/v1/acl", map[string]string{"Who": "bob", "Heap": "x", "Perm": "read", "Extra": "1"}, nil); !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		t.Fatalf("an unknown field: %v", err)
	}
	if err := c.RevokeGrant(ctx, want[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeGrant(ctx, want[0]); !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	if gs, err := c.Grants(ctx); err != nil || !slices.Equal(gs, want[1:]) {
		t.Fatalf("grants %v, %v; want %v", gs, err, want[1:])
	}
}

// A node that may not change grants (a client node) answers 403, which
// the client matches with oss.ErrPermission.
func TestACLEndpointsRefuseWithoutPermission(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startACL(t, &oss.Config{Name: "app", Role: pki.RoleClient})
	err := c.Grant(context.Background(), oss.Grant{Who: "app", Heap: "*", Perm: oss.PermAdmin})
	if !errors.Is(err, oss.ErrPermission) {
		t.Fatalf("a grant on a client node: %v", err)
	}
}
