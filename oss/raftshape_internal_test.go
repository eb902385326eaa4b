package oss

import (
	"encoding/binary"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// A read-index request's context names the replica that asks (engine's
// readContext), and a leader drops a request whose context it has
// pending: a peer's request naming another replica could hold that
// replica's read back until it is asked again. route drops it.
func TestReadIndexInAnotherReplicasNameIsMalformed(t *testing.T) {
	ctx := func(id, n uint64) []byte {
		b := binary.BigEndian.AppendUint64(nil, id)
		return binary.BigEndian.AppendUint64(b, n)
	}
	for _, tc := range []struct {
		what string
		data []byte
		ok   bool
	}{
		{"its own", ctx(7, 1), true},
		{"an older node's number alone", binary.BigEndian.AppendUint64(nil, 1), true},
		{"another replica's", ctx(9, 1), false},
	} {
		m := raftpb.Message{Type: raftpb.MsgReadIndex, From: 7, Entries: []raftpb.Entry{{Data: tc.data}}}
		if err := raftShape(&m); (err == nil) != tc.ok {
			t.Errorf("a read-index request with %s context: %v, want accepted %v", tc.what, err, tc.ok)
		}
	}
}
