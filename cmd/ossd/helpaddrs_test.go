package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// Every command that talks to a node takes several admin addresses
// (--http A,B,C), and its synopsis says so: "ossd help" showed status
// with "[--http HOST:PORT]" and "ossd hot --help" likewise, as if they
// took one.
func TestClientSynopsesTakeSeveralAddresses(t *testing.T) {
	for _, line := range strings.Split(usage, "\n") {
		if strings.Contains(line, "--http HOST:PORT") {
			t.Errorf("ossd help: %q names one admin address; the command takes several (--http ADDR,...)", strings.TrimSpace(line))
		}
	}
	if !strings.Contains(usage, "ossd status      [--http ADDR,...] [--json]") {
		t.Errorf("ossd help does not show status taking --http ADDR,...:\n%s", usage)
	}
	out, err := captureStderr(t, func() error {
		t.Setenv("OSS_HTTP", "127.0.0.1:1")
		return dispatch([]string{"hot", "--help"})
	})
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("ossd hot --help: %v, want flag.ErrHelp\n%s", err, out)
	}
	if !strings.Contains(out, "Usage: ossd hot HEAP [--http ADDR,...] [--json]") {
		t.Errorf("ossd hot --help said:\n%s\nwant its synopsis to take --http ADDR,...", out)
	}
}
