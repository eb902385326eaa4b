package consistency

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/uuid"
)

func TestRecordRoundTrip(t *testing.T) {
	r := &Record{
		TxID:       tx(1),
		Snapshot:   42,
		Reads:      []Read{{ID: id(1), Version: 7}, {ID: id(2)}},
		RootReads:  []RootRead{{Name: "world", Version: 3}},
		Scanned:    true,
		Writes:     []Write{put(1, "x"), {ID: id(3), Delete: true}},
		RootWrites: []RootWrite{{Name: "world", ID: id(1)}, {Name: "old", Delete: true}},
	}
	data := mustMarshal(t, r)
	got, err := UnmarshalRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustMarshal(t, got), data) {
		t.Fatalf("round trip changed the record: %+v", got)
	}
}

func TestUnmarshalRecordRejects(t *testing.T) {
	valid := mustMarshal(t, &Record{TxID: tx(1), Snapshot: 1, Writes: []Write{put(1, "x")}})
	deep := bytes.Repeat([]byte{0x81}, 100) // 100 nested arrays
	for name, data := range map[string][]byte{
		"empty":          nil,
		"truncated":      valid[:len(valid)-2],
		"trailing bytes": append(append([]byte{}, valid...), 0x00),
		"not a map":      {0x01},
		"no txid":        mustMarshal(t, &Record{Snapshot: 1}),
		"unknown field":  {0xa2, 0x01, 0x50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x18, 0x63, 0x00},
		"short uuid":     {0xa1, 0x01, 0x43, 1, 2, 3},
		"deep nesting":   append([]byte{0xa1, 0x03}, deep...),
		"huge array":     {0xa1, 0x03, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"indefinite":     {0xa1, 0x03, 0x9f, 0xff},
		"tagged":         {0xa1, 0x02, 0xc1, 0x01},
		"duplicate key":  {0xa2, 0x02, 0x01, 0x02, 0x01},
	} {
		if _, err := UnmarshalRecord(data); !errors.Is(err, ErrMalformedRecord) {
			t.Errorf("%s: %v, want ErrMalformedRecord", name, err)
		}
	}
}

// FuzzUnmarshalRecord feeds arbitrary bytes to the record decoder and to
// apply: neither may panic, a decoded record must re-encode to something
// that decodes to the same record, and a rejected entry changes nothing.
func FuzzUnmarshalRecord(f *testing.F) {
	f.Add(mustMarshal(f, &Record{TxID: tx(1), Snapshot: 1, Reads: []Read{{ID: id(1), Version: 1}}, Writes: []Write{put(1, "x")}}))
	f.Add(mustMarshal(f, &Record{TxID: tx(2), Snapshot: 0, Scanned: true, RootWrites: []RootWrite{{Name: "r", ID: id(2)}}}))
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := UnmarshalRecord(data)
		m := newMachine(0)
		res, cs := m.apply(5, data)
		if err != nil {
			if res.Outcome != Malformed || cs != nil || m.publish().Len() != 0 {
				t.Fatalf("undecodable entry applied: %v", res.Outcome)
			}
			return
		}
		again, err := UnmarshalRecord(mustMarshal(t, r))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if again.TxID != r.TxID || again.Snapshot != r.Snapshot || len(again.Writes) != len(r.Writes) {
			t.Fatalf("re-encoding changed the record")
		}
		if r.TxID == uuid.Nil {
			t.Fatal("record without a transaction ID accepted")
		}
		if id, ok := RecordTxID(data); !ok || id != r.TxID {
			t.Fatalf("RecordTxID = %v, %v; the record's is %v", id, ok, r.TxID)
		}
	})
}

// RecordTxID reads the ID of every record Marshal writes, and of nothing
// that does not begin as a record.
func TestRecordTxID(t *testing.T) {
	for _, r := range []*Record{
		{TxID: tx(1), Snapshot: 0},
		{TxID: tx(2), Snapshot: 1 << 40, Scanned: true},
		{TxID: tx(3), Snapshot: 9, Reads: []Read{{ID: id(1), Version: 1}}, RootReads: []RootRead{{Name: "w", Version: 2}},
			Scanned: true, Writes: []Write{put(1, "x")}, RootWrites: []RootWrite{{Name: "w", ID: id(1)}}, Refused: true},
	} {
		if got, ok := RecordTxID(mustMarshal(t, r)); !ok || got != r.TxID {
			t.Errorf("RecordTxID = %v, %v; want %v", got, ok, r.TxID)
		}
	}
	for name, data := range map[string][]byte{
		"empty":       nil,
		"short":       mustMarshal(t, &Record{TxID: tx(1)})[:18],
		"not a map":   append([]byte{0x82, 0x01, 0x50}, make([]byte, 18)...),
		"first key 2": append([]byte{0xa2, 0x02, 0x50}, make([]byte, 18)...),
		"id not 16":   append([]byte{0xa2, 0x01, 0x4f}, make([]byte, 18)...),
		"9-entry map": append([]byte{0xa9, 0x01, 0x50}, make([]byte, 18)...),
		"conf change": {0x08, 0x01, 0x10, 0x02},
	} {
		if id, ok := RecordTxID(data); ok {
			t.Errorf("%s: RecordTxID = %v, want not a record", name, id)
		}
	}
}
