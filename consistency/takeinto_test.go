package consistency

import (
	"reflect"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// TakeInto hands out the same Ready as Take, with the append in the
// Ready's own room rather than in a copy of its own: two replicas in
// the same state, one taken each way, give the same log write.
func TestTakeIntoHoldsTheAppendInTheReady(t *testing.T) {
	twins := make([]*Replica, 2)
	for i := range twins {
		r, err := NewReplica(&Config{ID: 1, Storage: raft.NewMemoryStorage(), AsyncStorageWrites: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
			t.Fatal(err)
		}
		if err := r.Campaign(); err != nil {
			t.Fatal(err)
		}
		twins[i] = r
	}
	taken := twins[0].Take()
	var into Ready
	into.Append = &raftpb.Message{Type: raftpb.MsgHeartbeat} // what a Ready before held
	twins[1].TakeInto(&into)
	if taken.Append == nil || into.Append == nil {
		t.Fatalf("a new voter's campaign writes nothing: Take %v, TakeInto %v", taken.Append, into.Append)
	}
	if into.Append != &into.appendMsg {
		t.Error("TakeInto's append is not in the Ready")
	}
	if !reflect.DeepEqual(*taken.Append, *into.Append) {
		t.Errorf("TakeInto's append %+v, Take's %+v", *into.Append, *taken.Append)
	}
	if !reflect.DeepEqual(taken.Messages, into.Messages) || !reflect.DeepEqual(taken.applyResp, into.applyResp) {
		t.Errorf("TakeInto's messages %v, Take's %v", into.Messages, taken.Messages)
	}
}
