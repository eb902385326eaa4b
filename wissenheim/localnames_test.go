package main

import (
	"strings"
	"testing"
)

// A player of a local cluster named as one of its server nodes (node1)
// had its client certificate overwritten by the node's server one, and
// the window retried for ever, saying it could not reach the cluster; one
// named as a bot of it (node2-bot-1) took the bot's name first, and the
// bots of that node and of every node after it waited for the name for
// ever, without a word. Both are refused at start, naming the flag; with
// --join the cluster is someone else's, and its names are not the
// window's to refuse.
func TestLocalClusterNamesAreRefusedAsPlayerNames(t *testing.T) {
	for _, c := range []struct {
		args    []string
		refused bool
	}{
		{[]string{"--name", "node1"}, true},
		{[]string{"--name", "node3"}, true},
		{[]string{"--name", "node5", "--nodes", "5"}, true},
		{[]string{"--name", "node2-bot-1"}, true},
		{[]string{"--name", "node1-bot-12", "--bots", "40"}, true},
		{[]string{"--name", "node4"}, false},
		{[]string{"--name", "node01"}, false},
		{[]string{"--name", "node1-bot-"}, false},
		{[]string{"--name", "node1-bots"}, false},
		{[]string{"--name", "nodes"}, false},
		{[]string{"--name", "ada"}, false},
		{[]string{"--name", "node1", "--join", "127.0.0.1:7401", "--certs", t.TempDir()}, false},
	} {
		_, _, _, err := parseArgs(c.args)
		switch {
		case c.refused && (err == nil || !strings.Contains(err.Error(), "--name")):
			t.Errorf("wissenheim %s: %v, want it refused, naming --name", strings.Join(c.args, " "), err)
		case !c.refused && err != nil:
			t.Errorf("wissenheim %s: %v, want it taken", strings.Join(c.args, " "), err)
		}
	}
}

// A --name of 64 bytes or more was refused as "longer than 63 bytes" (the
// limit of a certificate's name), and the player who cut it to 63 was
// then told the world takes at most 32: the limit that holds is said
// first.
func TestLongNameIsToldTheWorldsLimit(t *testing.T) {
	name := strings.Repeat("a", 100)
	_, _, _, err := parseArgs([]string{"--name", name})
	if err == nil || !strings.Contains(err.Error(), "at most 32") {
		t.Errorf("wissenheim --name %s: %v, want an error saying at most 32", name, err)
	}
}
