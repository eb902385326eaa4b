package admin

import (
	"context"
	"strings"
	"testing"
)

// A client pointed where nothing listens (a node's QUIC --listen address
// given as --http, or a node that is down) says so and names the slip;
// it said only "connection refused".
func TestNoNodeAnswersNamesTheAdminAddress(t *testing.T) {
	closed := func() string { return ClosedAddr(t) }
	for _, addrs := range []string{closed(), closed() + "," + closed()} {
		c, err := NewClient(addrs, &ClientOptions{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Status(context.Background())
		c.Close()
		if err == nil || !strings.Contains(err.Error(), "no node answers") || !strings.Contains(err.Error(), "ossd run's --http, not its --listen") {
			t.Errorf("status of %s: %v", addrs, err)
		}
	}
}
