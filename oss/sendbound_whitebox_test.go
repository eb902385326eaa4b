package oss

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A batch's bound (sendBound) is a context that ends sendTimeout after
// the batch starts, or with its parent, and makes nothing while no
// send waits for room: a loop starts one for nearly every Ready.
func TestSendBoundEndsAtItsDeadlineOrWithItsParent(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	defer cancel()
	var b sendBound
	before := time.Now()
	ctx := b.start(parent)
	if d, ok := ctx.Deadline(); !ok || d.Before(before.Add(sendTimeout)) || d.After(time.Now().Add(sendTimeout)) {
		t.Errorf("deadline %v, %v: want sendTimeout from the start", d, ok)
	}
	if ctx.Err() != nil || ctx.Value(key{}) != "v" {
		t.Errorf("a fresh bound: Err %v, Value %v", ctx.Err(), ctx.Value(key{}))
	}
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("after its deadline: %v", ctx.Err())
	}
	b.release()

	ctx = b.start(parent)
	done := ctx.Done()
	cancel()
	<-done
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("after its parent ended: %v", ctx.Err())
	}
	b.release()
	if ctx = b.start(parent); !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("started under an ended parent: %v", ctx.Err())
	}
	b.release()

	if n := testing.AllocsPerRun(100, func() {
		ctx := b.start(context.Background())
		_ = ctx.Err()
		b.release()
	}); n != 0 {
		t.Errorf("a batch no send waited in allocated %v times, want 0", n)
	}
}

// A node routes a raft message by the heap name in its envelope
// without making a string of it (decodeName), and reads what decode
// reads.
func TestEnvelopeNameDecodesWithoutAllocating(t *testing.T) {
	e := raftEnvelope{Heap: "bank", Group: 42, Msg: []byte{8, 3, 16, 1}}
	data := e.appendTo(nil)
	var got raftEnvelope
	name, err := got.decodeName(data)
	if err != nil || string(name) != "bank" || got.Group != 42 || string(got.Msg) != string(e.Msg) {
		t.Fatalf("decodeName: %q %d %v, %v", name, got.Group, got.Msg, err)
	}
	if cap(name) != len(name) {
		t.Errorf("the name's slice has room past it: an append would write over the group")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = got.decodeName(data) }); n != 0 {
		t.Errorf("decodeName allocated %v times, want 0", n)
	}
}
