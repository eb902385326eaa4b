package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// A --listen that resolves but names no address of this machine (here
// 192.0.2.1, kept for documentation) is refused at start, naming the
// flag, as the README says. Without --join no node of the local cluster
// listens there, and the start went on as if the flag were right.
func TestListenOnAnotherMachinesAddressIsRefused(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // where a local cluster started by mistake would keep its certificates
	certs := certDir(t, "ada", "ada", pki.RoleClient)
	for _, args := range [][]string{
		{"--headless", "--listen", "192.0.2.1:0"},
		{"--listen", "192.0.2.1:7000"},
		{"--join", "127.0.0.1:7401", "--certs", certs, "--name", "ada", "--headless", "--bots", "1", "--listen", "192.0.2.1:0"},
	} {
		done := make(chan error, 1)
		go func() { done <- run(args, io.Discard) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), `--listen "192.0.2.1:`) || !strings.Contains(err.Error(), "no address of this machine") {
				t.Errorf("wissenheim %s: %v, want an error saying --listen names no address of this machine", strings.Join(args, " "), err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("wissenheim %s did not return", strings.Join(args, " "))
		}
	}
}
