package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/wissenheim/scene"
)

// A --room the world does not have ends the start, naming the flag. The
// window said "cannot reach the cluster" and tried again every two
// seconds for ever; headless, the bots could not start and the process
// ran on without them until interrupted.
func TestRoomTheWorldLacksEndsTheStart(t *testing.T) {
	c := &config{room: "nowhere"}
	err := fmt.Errorf("scene: join: %w: %q", scene.ErrNoRoom, "nowhere")
	if perr := c.permanent(err, false); perr == nil || !strings.Contains(perr.Error(), "--room") {
		t.Errorf("permanent(%v) = %v, want the start ended, naming --room", err, perr)
	}

	done := make(chan error, 1)
	go func() {
		done <- run([]string{"--headless", "--nodes", "1", "--bots", "1", "--room", "nowhere"}, io.Discard)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "--room") || !strings.Contains(err.Error(), "nowhere") {
			t.Fatalf("wissenheim --headless --room nowhere: %v, want an error naming --room", err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("wissenheim --headless --room nowhere ran on with no bots, as if it had started")
	}
}
