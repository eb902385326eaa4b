package oss

import "go.etcd.io/raft/v3/raftpb"

// decodeRaft decodes a raft message received from a peer: what
// raftpb's Unmarshal decodes b to, or its error. A message of the
// fields raft sends in replication (all but a snapshot, responses and
// fields raftpb does not know) is decoded by hand (fastRaft) into one
// allocation with its entries, and each entry's data is b's own bytes,
// not a copy: b is the buffer the transport read the message into,
// handed to the node with the message (transport.Handler: msg is owned
// by the handler), and nothing writes into an entry's data (raft keeps
// entries, the log encodes them, the replica decodes them). Raft's
// Unmarshal copied each entry's data and grew the entries one by one,
// about seven allocations for an append of four entries where this is
// one. An entry kept in raft's log keeps all of b alive with it: about
// what the copy took when raft keeps the message's entries, more when it
// keeps some and drops others (an append that overlaps what the follower
// holds, a forward whose large records engine.dropCopies removes), until
// the log is compacted; the log's byte bounds count entries' data only.
// Anything else
// goes to raftpb, which decodes or refuses it, so what is accepted is
// unchanged (TestDecodeRaftMatchesRaftpb, FuzzDecodeRaft).
func decodeRaft(b []byte) (*raftpb.Message, error) {
	if n, ok := countEntries(b); ok {
		m := newMessage(n)
		if fastRaft(b, m) {
			return m, nil
		}
	}
	m := new(raftpb.Message)
	if err := m.Unmarshal(b); err != nil {
		return nil, err
	}
	return m, nil
}

// newMessage returns a message with room for n entries, in one
// allocation for up to 16 of them.
func newMessage(n int) *raftpb.Message {
	switch {
	case n == 0:
		return new(raftpb.Message)
	case n <= 4:
		x := new(struct {
			m raftpb.Message
			e [4]raftpb.Entry
		})
		x.m.Entries = x.e[:0:n]
		return &x.m
	case n <= 16:
		x := new(struct {
			m raftpb.Message
			e [16]raftpb.Entry
		})
		x.m.Entries = x.e[:0:n]
		return &x.m
	}
	m := new(raftpb.Message)
	m.Entries = make([]raftpb.Entry, 0, n)
	return m
}

// pbReader reads protocol buffer fields as raftpb's generated code does.
type pbReader struct {
	b []byte
	i int
}

// uvarint reads a varint of up to ten bytes, the bits past 64 dropped,
// as raftpb does; false where raftpb fails (too long, cut short).
func (r *pbReader) uvarint() (uint64, bool) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if r.i >= len(r.b) {
			return 0, false
		}
		c := r.b[r.i]
		r.i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, true
		}
	}
	return 0, false
}

// tag reads a field's number and wire type as raftpb does.
func (r *pbReader) tag() (field int32, wire int, ok bool) {
	v, ok := r.uvarint()
	return int32(v >> 3), int(v & 7), ok
}

// bytes reads a length and the bytes it counts, as b's own bytes.
func (r *pbReader) bytes() ([]byte, bool) {
	n, ok := r.uvarint()
	if !ok || n > uint64(len(r.b)-r.i) {
		return nil, false
	}
	s := r.b[r.i : r.i+int(n) : r.i+int(n)]
	r.i += int(n)
	return s, true
}

// msgVarint reports whether field is one of Message's varint fields that
// fastRaft decodes.
func msgVarint(field int32) bool {
	switch field {
	case 1, 2, 3, 4, 5, 6, 8, 10, 11, 13:
		return true
	}
	return false
}

// countEntries returns the number of entries in the message b encodes,
// and false if b is not a message of the fields fastRaft decodes, each
// with its wire type, every length within b.
func countEntries(b []byte) (int, bool) {
	r := pbReader{b: b}
	n := 0
	for r.i < len(r.b) {
		field, wire, ok := r.tag()
		switch {
		case !ok:
			return 0, false
		case wire == 0 && msgVarint(field):
			if _, ok := r.uvarint(); !ok {
				return 0, false
			}
		case wire == 2 && (field == 7 || field == 12):
			if _, ok := r.bytes(); !ok {
				return 0, false
			}
			if field == 7 {
				n++
			}
		default:
			return 0, false
		}
	}
	return n, true
}

// fastRaft decodes b into m, which holds nothing but room for b's
// entries, and reports whether it could: false for anything
// countEntries would refuse and for an entry of other fields than raft's
// four or a field of the wrong wire type.
func fastRaft(b []byte, m *raftpb.Message) bool {
	r := pbReader{b: b}
	for r.i < len(r.b) {
		field, wire, ok := r.tag()
		if !ok {
			return false
		}
		if wire == 2 && (field == 7 || field == 12) {
			s, ok := r.bytes()
			if !ok {
				return false
			}
			if field == 12 {
				m.Context = nonNil(s)
				continue
			}
			var e raftpb.Entry
			if !fastEntry(s, &e) {
				return false
			}
			m.Entries = append(m.Entries, e)
			continue
		}
		if wire != 0 || !msgVarint(field) {
			return false
		}
		v, ok := r.uvarint()
		if !ok {
			return false
		}
		setMsgVarint(m, field, v)
	}
	return true
}

// setMsgVarint sets m's varint field to v as raftpb does: an enum or a
// bool of its low bits.
func setMsgVarint(m *raftpb.Message, field int32, v uint64) {
	switch field {
	case 1:
		m.Type = raftpb.MessageType(v)
	case 2:
		m.To = v
	case 3:
		m.From = v
	case 4:
		m.Term = v
	case 5:
		m.LogTerm = v
	case 6:
		m.Index = v
	case 8:
		m.Commit = v
	case 10:
		m.Reject = v != 0
	case 11:
		m.RejectHint = v
	case 13:
		m.Vote = v
	}
}

// fastEntry decodes an entry of raft's four fields into e, its data
// b's own bytes.
func fastEntry(b []byte, e *raftpb.Entry) bool {
	r := pbReader{b: b}
	for r.i < len(r.b) {
		field, wire, ok := r.tag()
		if !ok {
			return false
		}
		if field == 4 && wire == 2 {
			s, ok := r.bytes()
			if !ok {
				return false
			}
			e.Data = nonNil(s)
			continue
		}
		if wire != 0 || field < 1 || field > 3 {
			return false
		}
		v, ok := r.uvarint()
		if !ok {
			return false
		}
		switch field {
		case 1:
			e.Type = raftpb.EntryType(v)
		case 2:
			e.Term = v
		case 3:
			e.Index = v
		}
	}
	return true
}

// nonNil is s, or an empty slice if s is empty: raftpb decodes a field of
// bytes that is present as a slice that is not nil.
func nonNil(s []byte) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	return s
}
