package consistency

import (
	"bytes"
	"testing"
)

// A refusal decides its transaction Refused, writes nothing, and a copy of
// the transaction's own record applied after it is a duplicate of the
// refusal: a resend after a refusal never commits. A refusal applied after
// the record itself is the duplicate, and reports the record's outcome.
func TestRefusalDecidesTheTransaction(t *testing.T) {
	m := newMachine(0)
	rec := &Record{TxID: tx(1), Snapshot: 0, Writes: []Write{put(1, "x")}}
	refusal := mustMarshal(t, Refusal(rec))
	if !IsRefusal(refusal) || IsRefusal(mustMarshal(t, rec)) {
		t.Fatal("IsRefusal does not tell a refusal from its record")
	}
	if id, ok := RecordTxID(refusal); !ok || id != rec.TxID {
		t.Fatalf("RecordTxID of a refusal: %v, %v", id, ok)
	}
	res, cs := m.apply(1, refusal)
	if res.Outcome != Refused || res.TxID != rec.TxID || res.Index != 1 || cs != nil {
		t.Fatalf("the refusal decided %+v, changes %v", res, cs)
	}
	res, cs = m.apply(2, mustMarshal(t, rec))
	if res.Outcome != Refused || !res.Duplicate || res.Index != 1 || cs != nil {
		t.Fatalf("the record after its refusal decided %+v, changes %v", res, cs)
	}
	if _, ok := m.publish().Get(id(1)); ok {
		t.Fatal("a refused transaction wrote")
	}

	other := &Record{TxID: tx(2), Snapshot: 2, Writes: []Write{put(2, "y")}}
	if res, _ := m.apply(3, mustMarshal(t, other)); res.Outcome != Committed {
		t.Fatalf("a record decided %v", res.Outcome)
	}
	res, cs = m.apply(4, mustMarshal(t, Refusal(other)))
	if res.Outcome != Committed || !res.Duplicate || res.Index != 3 || cs != nil {
		t.Fatalf("a refusal after its record decided %+v, changes %v", res, cs)
	}
}

// A refusal round-trips through both decoders, and the hand-written one
// reads what the library writes.
func TestRefusalCodec(t *testing.T) {
	r := Refusal(&Record{TxID: tx(7), Snapshot: 300, Writes: []Write{put(1, "x")}})
	data := mustMarshal(t, r)
	lib, err := encMode.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, lib) {
		t.Fatalf("Marshal %x, the library %x", data, lib)
	}
	fast, ok := decodeRecord(data, true)
	if !ok || !fast.Refused || fast.TxID != r.TxID || fast.Snapshot != 300 || fast.Writes != nil {
		t.Fatalf("decoded %+v, %v", fast, ok)
	}
	var slow Record
	if err := decMode.Unmarshal(data, &slow); err != nil || !slow.Refused {
		t.Fatalf("the library decoded %+v, %v", slow, err)
	}
}
