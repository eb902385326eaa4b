package oss

import (
	"bytes"
	"reflect"
	"testing"
	"unsafe"

	"go.etcd.io/raft/v3/raftpb"
)

// sameRaftDecoding fails the test unless decodeRaft and raftpb agree on
// b: both refuse it, or both give the same message.
func sameRaftDecoding(t testing.TB, b []byte) *raftpb.Message {
	t.Helper()
	got, gerr := decodeRaft(b)
	var want raftpb.Message
	werr := want.Unmarshal(b)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("% x: decodeRaft %v, raftpb %v", b[:min(len(b), 40)], gerr, werr)
	}
	if gerr != nil {
		return nil
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("% x: decodeRaft %+v, raftpb %+v", b[:min(len(b), 40)], *got, want)
	}
	return got
}

// raftMessages are messages of the shapes raft sends in replication,
// with 0 to 20 entries of empty, short and longer data.
func raftMessages() []raftpb.Message {
	var ms []raftpb.Message
	for _, n := range []int{0, 1, 2, 4, 5, 16, 17, 20} {
		var es []raftpb.Entry
		for i := range n {
			e := raftpb.Entry{Term: 7, Index: uint64(1000 + i), Type: raftpb.EntryNormal}
			switch i % 4 {
			case 1:
				e.Data = bytes.Repeat([]byte{byte(i)}, 150)
			case 2:
				e.Data = []byte{}
			case 3:
				e.Type, e.Data = raftpb.EntryConfChangeV2, bytes.Repeat([]byte{9}, 300)
			}
			es = append(es, e)
		}
		ms = append(ms,
			raftpb.Message{Type: raftpb.MsgApp, To: 2, From: 1, Term: 7, LogTerm: 7, Index: 999, Entries: es, Commit: 990},
			raftpb.Message{Type: raftpb.MsgProp, To: 1, From: 3, Entries: es},
		)
	}
	return append(ms,
		raftpb.Message{Type: raftpb.MsgAppResp, To: 1, From: 2, Term: 7, Index: 1004},
		raftpb.Message{Type: raftpb.MsgAppResp, To: 1, From: 2, Term: 7, Index: 900, Reject: true, RejectHint: 850, LogTerm: 6},
		raftpb.Message{Type: raftpb.MsgHeartbeat, To: 2, From: 1, Term: 7, Commit: 1 << 40, Context: []byte("read")},
		raftpb.Message{Type: raftpb.MsgHeartbeatResp, To: 1, From: 2, Term: 7, Context: []byte{}},
		raftpb.Message{Type: raftpb.MsgVote, To: 2, From: 1, Term: 8, LogTerm: 7, Index: 1004, Vote: 1},
		raftpb.Message{Type: raftpb.MsgReadIndex, To: 1, From: 2, Entries: []raftpb.Entry{{Data: []byte("ctx")}}},
		raftpb.Message{Type: raftpb.MessageType(-1), To: 1 << 63, From: ^uint64(0)},
	)
}

// Every message of the shapes raft sends in replication decodes to what
// raftpb decodes it to, on decodeRaft's own path: each entry's data is
// the bytes of the encoding, not a copy.
func TestDecodeRaftMatchesRaftpb(t *testing.T) {
	for _, m := range raftMessages() {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		n, ok := countEntries(b)
		if !ok || n != len(m.Entries) {
			t.Fatalf("%v with %d entries: counted %d, %v", m.Type, len(m.Entries), n, ok)
		}
		got := sameRaftDecoding(t, b)
		for i, e := range got.Entries {
			if len(e.Data) > 0 && !within(e.Data, b) {
				t.Fatalf("%v: entry %d's data is a copy", m.Type, i)
			}
		}
	}
}

// within reports whether s lies in b's array.
func within(s, b []byte) bool {
	p, q := uintptr(unsafe.Pointer(unsafe.SliceData(s))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= q && p < q+uintptr(len(b))
}

// Encodings raft never writes (a snapshot, responses, unknown fields,
// wrong wire types, varints of eleven bytes, lengths past the end, an
// entry of unknown fields, bits past a field's type) are raftpb's to
// decode or refuse, as before.
func TestDecodeRaftOfOtherEncodings(t *testing.T) {
	app, _ := (&raftpb.Message{Type: raftpb.MsgApp, To: 2, Entries: []raftpb.Entry{{Index: 1, Data: []byte("x")}}}).Marshal()
	snap, _ := (&raftpb.Message{Type: raftpb.MsgSnap, Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 5}}}).Marshal()
	resp, _ := (&raftpb.Message{Type: raftpb.MsgStorageAppend, Responses: []raftpb.Message{{Type: raftpb.MsgAppResp}}}).Marshal()
	for _, b := range [][]byte{
		snap,
		resp,
		append(append([]byte(nil), app...), 0x78, 0x01), // field 15, a varint
		append(append([]byte(nil), app...), 0x08),       // a tag without its value
		{0x0a, 0x01, 0x00},                              // Type as bytes
		{0x38, 0x01},                                    // Entries as a varint
		{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},       // ten bytes, bits past 64
		{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // eleven bytes
		{0x08, 0x80, 0x80, 0x80, 0x80, 0x10},                                     // Type past 32 bits
		{0x50, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},       // Reject of bit 63 alone
		{0x3a, 0x05, 0x08, 0x01},                                                 // an entry past the end
		{0x3a, 0x02, 0x28, 0x01},                                                 // an entry of field 5
		{0x3a, 0x02, 0x22, 0x01},                                                 // an entry's data past its end
		{0x3a, 0x02, 0x0a, 0x00},                                                 // an entry's Type as bytes
		{0x3a, 0x04, 0x22, 0x01, 0x61, 0x22},                                     // an entry's data twice, cut short
		{0x3a, 0x06, 0x22, 0x01, 0x61, 0x22, 0x01, 0x62},                         // an entry's data twice
		{0x62, 0x00, 0x62, 0x01, 0x63},                                           // Context twice
		{0x3a, 0x00},                                                             // an empty entry
		{0x00},                                                                   // field 0
		{0x0c},                                                                   // end group
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x08, 0x01},                               // a field number past 32 bits
		{},
	} {
		sameRaftDecoding(t, b)
	}
}

// An append of four entries decodes in one allocation: the message with
// room for its entries; raftpb made seven (each entry's data, the
// entries' slice as it grew).
func TestDecodeRaftOfAnAppendAllocatesOnce(t *testing.T) {
	b := appendOf(4)
	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := decodeRaft(b); err != nil {
			t.Fatal(err)
		}
	}); allocs != 1 {
		t.Errorf("decoding an append of four entries: %v allocations, want 1", allocs)
	}
}

// appendOf is an append of n entries of 150 bytes, as the peer
// benchmark's read-modify-writes are.
func appendOf(n int) []byte {
	var es []raftpb.Entry
	for i := range n {
		es = append(es, raftpb.Entry{Term: 7, Index: uint64(1000 + i), Data: bytes.Repeat([]byte{1}, 150)})
	}
	b, _ := (&raftpb.Message{Type: raftpb.MsgApp, To: 2, From: 1, Term: 7, LogTerm: 7, Index: 999, Entries: es, Commit: 990}).Marshal()
	return b
}

// FuzzDecodeRaft: on any bytes, decodeRaft and raftpb agree.
func FuzzDecodeRaft(f *testing.F) {
	for _, m := range raftMessages() {
		b, _ := m.Marshal()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameRaftDecoding(t, b) })
}

// BenchmarkDecodeRaft decodes the messages of replication: an append of
// four entries of 150 bytes, its acknowledgement, and a forward of
// seven proposals; raftpb's Unmarshal beside it.
func BenchmarkDecodeRaft(b *testing.B) {
	ack, _ := (&raftpb.Message{Type: raftpb.MsgAppResp, To: 1, From: 2, Term: 7, Index: 1004}).Marshal()
	for _, c := range []struct {
		name string
		b    []byte
	}{{"append4", appendOf(4)}, {"ack", ack}, {"forward7", appendOf(7)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeRaft(c.b); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"-raftpb", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m := new(raftpb.Message)
				if err := m.Unmarshal(c.b); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
