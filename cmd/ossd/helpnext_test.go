package main

import (
	"strings"
	"testing"
)

// ossd help says when the CLI goes on to the next node of --http, as the
// README does: past a node that does not answer or says it is starting,
// damaged, closing or too busy. It named starting and damaged alone.
func TestHelpSaysWhenTheNextNodeIsAsked(t *testing.T) {
	if !strings.Contains(usage, "starting, damaged, closing or too busy") {
		t.Errorf("ossd help does not say which answers send a request to the next node of --http:\n%s", usage)
	}
}
