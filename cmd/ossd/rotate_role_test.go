package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/objectsharing/oss/oss/pki"
)

// The README's rotation, "ossd cert issue --name N --force", names no
// role: the new certificate keeps the one of the certificate it replaces
// (a client node's, an operator's), and --role still gives another. It
// issued a server's certificate whatever the old one was, so a client
// node refused the rotated certificate at SIGHUP, and one restarted as
// a server would have voted.
func TestCertIssueForceKeepsTheRole(t *testing.T) {
	dir := caDir(t)
	roleOf := func(name string) pki.Role {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name+".crt"))
		if err != nil {
			t.Fatal(err)
		}
		info, err := pki.Inspect(b)
		if err != nil {
			t.Fatal(err)
		}
		return info.Role
	}
	for _, role := range []string{"client", "admin", "server"} {
		name := "x-" + role
		if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", name, "--role", role}); err != nil {
			t.Fatal(err)
		}
		if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", name, "--force"}); err != nil {
			t.Fatal(err)
		}
		if got := roleOf(name); got != pki.Role(role) {
			t.Fatalf("%s's certificate rotated with --force alone carries the role %q; want %q, the one it replaced", name, got, role)
		}
	}
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "x-client", "--force", "--role", "server"}); err != nil {
		t.Fatal(err)
	}
	if got := roleOf("x-client"); got != pki.RoleServer {
		t.Fatalf("--force --role server gave the role %q", got)
	}
}
