package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A node run on a client certificate without --role client (the default
// is server) was told "Role is "server" but this node's certificate
// ("alice") carries the role "client": run it as "client"", naming the
// library's field, not the flag that does it.
func TestRunOfAnotherRoleNamesTheFlag(t *testing.T) {
	dir := caDir(t)
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "alice", "--role", "client"}); err != nil {
		t.Fatal(err)
	}
	err := dispatch([]string{"run", "--name", "alice", "--certs", dir, "--listen", "127.0.0.1:0", "--http", "",
		"--data-dir", filepath.Join(t.TempDir(), "alice"), "--gossip", "loopback"})
	if err == nil || !strings.Contains(err.Error(), "--role client") {
		t.Fatalf("run of a client certificate as a server: %v, want an error saying --role client", err)
	}
}
