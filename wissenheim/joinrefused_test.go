package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A cluster that refuses the player's node for good may have refused its
// certificate (another cluster's CA: Start then fails with
// oss.ErrJoinRefused too), not only its name: the status says both.
func TestJoinFailureNamesAnotherClustersCerts(t *testing.T) {
	err := fmt.Errorf("%w: the handshake with 127.0.0.1:7401 failed", oss.ErrJoinRefused)
	why := joinFailure("alice", "127.0.0.1:7401", err)
	if !strings.Contains(why, `refused node "alice"`) || !strings.Contains(why, "another cluster's") {
		t.Errorf("a refused handshake: %q", why)
	}
}
