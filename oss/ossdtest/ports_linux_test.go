package ossdtest

import (
	"net"
	"strconv"
	"testing"
)

// The ports handed out lie below the kernel's ephemeral range, where no
// socket bound at :0 and no outgoing connection of another test or
// process is given one between a node's kill and its restart.
func TestFreePortsAreBelowTheEphemeralRange(t *testing.T) {
	lo := ephemeralLow()
	if lo-belowEphemeral < 1024 {
		t.Fatalf("ephemeral range starting at %d: the test needs Linux's /proc/sys/net/ipv4/ip_local_port_range and room below it", lo)
	}
	for i := range 50 {
		network := []string{"udp", "tcp"}[i%2]
		addr, err := freePort(network)
		if err != nil {
			t.Fatal(err)
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := strconv.Atoi(port); n >= lo || n < lo-belowEphemeral {
			t.Fatalf("%s %s handed out: want a port in [%d, %d), below the ephemeral range", network, addr, lo-belowEphemeral, lo)
		}
	}
}
