package oss

import (
	"testing"
)

// The announce of a cluster ID taken (announceCluster) and a start's
// hand-over as it failed (setLeaving) both gossiped the node's metadata
// again with memberlist's UpdateNode, which is not safe run twice at
// once: the race detector caught them in CI (a start refused after its
// membership ran). They take turns now (updateNode).
func TestMetadataUpdatesTakeTurns(t *testing.T) {
	c := newQUICClusterWith(t, 0, nil, "a")
	m := c.nodes["a"].members
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			if err := m.updateNode(); err != nil {
				t.Errorf("update: %v", err)
				return
			}
		}
	}()
	for range 50 {
		select {
		case m.announce <- struct{}{}:
		default:
		}
		m.setLeaving()
	}
	<-done
}
