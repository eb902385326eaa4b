package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// A second node started on one machine with the first one's --listen (or
// both on the default) failed with "run: oss: transport: listen: listen
// udp 127.0.0.1:7400: bind: address already in use", naming no flag; an
// --http in use named its flag but not what to do. Both now name the
// flag and the address and say to give each node its own port.
func TestRunNamesTheFlagOfAnAddressInUse(t *testing.T) {
	dir := caDir(t)
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1"}); err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	taken := udp.LocalAddr().String()
	err = dispatch([]string{"run", "--name", "n1", "--certs", dir, "--listen", taken, "--http", "",
		"--data-dir", filepath.Join(t.TempDir(), "n1"), "--gossip", "loopback"})
	for _, want := range []string{"--listen " + taken, "in use", "its own --listen port"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("run with --listen %s in use: %v, want an error saying %q", taken, err, want)
		}
	}
	taken = tcp.Addr().String()
	err = dispatch([]string{"run", "--name", "n1", "--certs", dir, "--listen", "127.0.0.1:0", "--http", taken,
		"--data-dir", filepath.Join(t.TempDir(), "n1"), "--gossip", "loopback"})
	for _, want := range []string{"--http " + taken, "in use", "its own --http port"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("run with --http %s in use: %v, want an error saying %q", taken, err, want)
		}
	}
}
