package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// ossd acl grants, lists and revokes through a node's admin interface.
func TestACLCommand(t *testing.T) {
	n, err := oss.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	addr := srv.Addr()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := aclTo(&out, append(args, "--http", addr, "--http-insecure"))
		return out.String(), err
	}
	if out, err := run("grant", "--to", "ann", "--heap", "game-*", "--perm", "write"); err != nil || out != "granted ann write on game-*\n" {
		t.Fatalf("grant: %q, %v", out, err)
	}
	if err := n.Authorize("ann", "client", "game-1", oss.PermWrite); err != nil {
		t.Fatalf("the node does not allow what was granted: %v", err)
	}
	out, err := run("list")
	if err != nil || !strings.Contains(out, "NAME") || !strings.Contains(out, "ann") || !strings.Contains(out, "game-*") {
		t.Fatalf("list: %q, %v", out, err)
	}
	if _, err := run("grant", "--to", "ann", "--heap", "x", "--perm", "own"); err == nil || !strings.Contains(err.Error(), "own") {
		t.Fatalf("an unknown permission: %v", err)
	}
	if _, err := run("grant", "--to", "ann"); err == nil {
		t.Fatal("a grant without heap and permission")
	}
	if out, err := run("revoke", "--to", "ann", "--heap", "game-*", "--perm", "write"); err != nil || out != "revoked ann write on game-*\n" {
		t.Fatalf("revoke: %q, %v", out, err)
	}
	if _, err := run("revoke", "--to", "ann", "--heap", "game-*", "--perm", "write"); !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := run("own"); err == nil {
		t.Fatal("an unknown subcommand")
	}
	if err := dispatch([]string{"acl"}); err == nil {
		t.Fatal("acl without a subcommand")
	}
}
