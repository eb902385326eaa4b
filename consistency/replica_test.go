package consistency

import (
	"bytes"
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"
)

// A follower forwards a batch of proposals to the leader in messages that
// each hold entries of at most MaxSizePerMsg bytes, or one larger entry
// alone, as raft's appends do; all of them commit, in order.
func TestForwardedProposalsFitAMessage(t *testing.T) {
	const maxMsg = 4096
	c := newSimClusterWith(t, 1, 3, func(cfg *Config) { cfg.MaxSizePerMsg = maxMsg })
	follower := c.nodes[2]
	var batch [][]byte
	var ids []uuid.UUID
	for i, size := range []int{1000, 1000, 1000, 1000, 1000, 10000, 100, 100, 1000, 5000, 3000, 3000} {
		rec := &Record{TxID: uuid.UUID{0: 2, 15: byte(i)}, Snapshot: follower.r.State().Index(),
			Writes: []Write{{ID: id(byte(i + 1)), Value: bytes.Repeat([]byte{'x'}, size)}}}
		batch = append(batch, mustMarshal(t, rec))
		ids = append(ids, rec.TxID)
	}
	if err := follower.r.Propose(batch...); err != nil {
		t.Fatal(err)
	}
	rd := follower.r.Ready()
	var forwarded [][]byte
	for _, m := range rd.Messages {
		if m.Type != raftpb.MsgProp {
			continue
		}
		size := 0
		for _, e := range m.Entries {
			size += e.Size()
			forwarded = append(forwarded, e.Data)
		}
		if len(m.Entries) > 1 && size > maxMsg {
			t.Errorf("a proposal message holds %d entries of %d bytes together, over MaxSizePerMsg %d", len(m.Entries), size, maxMsg)
		}
	}
	if len(forwarded) != len(batch) {
		t.Fatalf("%d records forwarded, want %d", len(forwarded), len(batch))
	}
	for i := range batch {
		if !bytes.Equal(forwarded[i], batch[i]) {
			t.Fatalf("record %d forwarded out of order", i)
		}
	}
	c.inbox = append(c.inbox, rd.Messages...)
	follower.r.Advance(rd)
	c.settle()
	for i, txid := range ids {
		if r, ok := c.results[txid]; !ok || r.Outcome != Committed {
			t.Fatalf("record %d: %+v, want committed", i, r)
		}
	}
}
