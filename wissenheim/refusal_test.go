package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/wissenheim/scene"
)

// A --name the world refuses (longer than scene.MaxName, which a node's
// name may be) is refused at start, naming the flag: the window used to
// start its cluster, then say "cannot reach the cluster" every two
// seconds for ever while the world refused the name.
func TestNameTooLongForTheWorldIsRefusedAtOnce(t *testing.T) {
	name := strings.Repeat("a", scene.MaxName+1)
	done := make(chan error, 1)
	go func() { done <- run([]string{"--headless", "--name", name}, io.Discard) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "--name") {
			t.Fatalf("wissenheim --name %s: %v, want an error naming --name", name, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("wissenheim --name %s did not return", name)
	}
}

// A join the world refuses by its rules is not reported as a cluster out
// of reach: an invalid argument ends the start, a place that is not free
// is named.
func TestWorldRefusalsAreNotUnreachableClusters(t *testing.T) {
	c := &config{}
	invalid := fmt.Errorf("scene: join: %w: name", scene.ErrInvalid)
	if err := c.permanent(invalid, false); err == nil || !strings.Contains(err.Error(), "refuses") {
		t.Errorf("permanent(%v) = %v, want the start ended saying the world refuses", invalid, err)
	}
	blocked := fmt.Errorf("scene: join: %w: at {900 900}", scene.ErrBlocked)
	if why := joinFailure("ada", "127.0.0.1:7401", blocked); strings.Contains(why, "cannot reach") || !strings.Contains(why, "--at") {
		t.Errorf("joinFailure(%v) = %q, want the place named, not the cluster out of reach", blocked, why)
	}
}

// The command a window prints for another window names a certificate
// that is not the player's: with --name player2 it named player2, and
// the second window was refused as a node of a name in use.
func TestGuestNamesAreNotThePlayers(t *testing.T) {
	for _, player := range []string{"player1", "player2", "player3", "ada"} {
		g := guestNames(player)
		if len(g) != 3 || g[0] != player || g[1] == player || g[2] == player || g[1] == g[2] {
			t.Errorf("guestNames(%q) = %q", player, g)
		}
	}
}
