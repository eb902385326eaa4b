package main

import (
	"context"
	"net"
	"testing"
)

// An --advertise name (compose's service name, a host's DNS name) is
// resolved to an IP at start: the gossip layer takes only IPs, and
// without this "--advertise n1:7400" failed with "invalid IPAddr <nil>".
func TestResolveAdvertise(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ in, want string }{
		{"10.0.0.7:7400", "10.0.0.7:7400"},
		{"[::1]:7400", "[::1]:7400"},
		{"localhost:7400", "127.0.0.1:7400"},
	} {
		got, err := resolveAdvertise(ctx, net.DefaultResolver, c.in)
		if err != nil || got != c.want {
			t.Errorf("resolveAdvertise(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"n1", ":7400", "no-such-host.invalid:7400"} {
		if got, err := resolveAdvertise(ctx, net.DefaultResolver, bad); err == nil {
			t.Errorf("resolveAdvertise(%q) = %q, want an error", bad, got)
		}
	}
}
