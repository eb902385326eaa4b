package oss

import (
	"context"
	"strings"
	"testing"

	"github.com/objectsharing/oss/internal/codec"
)

// A call or a stream that reaches a node while its endpoint serves and
// its membership is not yet started is refused for now, with an error
// that says so, and touches nothing of the node: serving it read the
// membership startNetwork was writing (the race detector caught the
// cluster check of a join, TestAJoinAcrossClustersIsRefused in a full
// run).
func TestCallWhileTheNodeStartsIsRefusedForNow(t *testing.T) {
	n := &Node{cfg: &Config{Name: "n1"}}
	n.starting.Store(true)
	h := nodeHandler{n}
	req, err := codec.Marshal(callRequest{Op: opStatus})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.HandleCall(context.Background(), "peer", req); err == nil || !strings.Contains(err.Error(), "starting; try again") {
		t.Fatalf("a call while the node starts: %v, want a refusal for now", err)
	}
	if err := h.HandleStream(context.Background(), "peer", nil, strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "starting; try again") {
		t.Fatalf("a stream while the node starts: %v, want a refusal for now", err)
	}
}
