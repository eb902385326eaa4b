package oss

import (
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// A member can send raft messages that do not decode as fast as its
// connection carries them, and the node logged a warning for each: a
// client certificate (any Wissenheim player holds one) wrote 2,000 lines
// to a server's log in a second with 2,000 messages of 3 bytes. The
// node logs the first of a peer's at once and the next ones of that
// peer at most once a minute, with the count it did not log; another
// peer's first is logged all the same.
func TestMalformedRaftMessagesAreLoggedOncePerPeer(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 11)
	log := &syncBuffer{}
	n := c.add("a", false, func(cfg *Config) { cfg.Logger = slog.New(slog.NewTextHandler(log, nil)) })
	badMsg := (&raftEnvelope{Heap: "bank", Group: 1, Msg: []byte{0xff, 0xff, 0xff}}).appendTo(nil)
	for i := range 500 {
		n.receive("x", []byte{0x82, 0x01, byte(i)}) // no envelope
		n.receive("x", badMsg)                      // an envelope, no raft message in it
	}
	n.receive("y", badMsg)
	lines := map[string]int{}
	for _, line := range strings.Split(log.String(), "\n") {
		if !strings.Contains(line, `msg="malformed raft`) {
			continue
		}
		for _, peer := range []string{"x", "y"} {
			if strings.Contains(line, "peer="+peer+" ") {
				lines[peer]++
			}
		}
	}
	if lines["x"] != 1 || lines["y"] != 1 {
		t.Fatalf("1,000 malformed raft messages of x and one of y were logged in %d and %d lines, want 1 each:\n%s",
			lines["x"], lines["y"], log.String())
	}
}
