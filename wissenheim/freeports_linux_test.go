package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// The ports freePorts hands out lie below the kernel's ephemeral range,
// where no socket bound at :0 and no outgoing connection takes one
// between its test's pick and its nodes' bind.
func TestFreePortsAreBelowTheEphemeralRange(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	first, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		base := freePorts(t, 3)
		if base+3 > first {
			t.Fatalf("ports %d to %d handed out; the ephemeral range starts at %d", base, base+2, first)
		}
	}
}
