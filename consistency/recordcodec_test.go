package consistency

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// libDecode decodes data as UnmarshalRecord did before it had a decoder
// of its own: with the library's decMode only.
func libDecode(data []byte) (*Record, error) {
	r := new(Record)
	if err := decMode.Unmarshal(data, r); err != nil {
		return nil, err
	}
	if r.TxID == uuid.Nil {
		return nil, errors.New("no transaction ID")
	}
	return r, nil
}

// checkDecode decodes data with UnmarshalRecord and with the library
// alone, and fails unless both accept it with equal records or both
// refuse it. What the fast path accepts must be exactly what Marshal
// writes for its result.
func checkDecode(t testing.TB, data []byte) {
	t.Helper()
	// The record must not share the input: it is overwritten before
	// the comparison.
	in := bytes.Clone(data)
	got, err := UnmarshalRecord(in)
	for i := range in {
		in[i] = 0xaa
	}
	want, werr := libDecode(data)
	if (err == nil) != (werr == nil) {
		t.Fatalf("decoding %s: error %v, the library's %v", short(data), err, werr)
	}
	if err != nil {
		if !errors.Is(err, ErrMalformedRecord) {
			t.Fatalf("decoding %s: %v, want ErrMalformedRecord", short(data), err)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoding %s:\n%#v\nthe library's\n%#v", short(data), got, want)
	}
	for i, w := range got.Writes {
		if cap(w.Value) != len(w.Value) {
			t.Fatalf("decoding %s: write %d's value has room to grow into another's", short(data), i)
		}
	}
	// apply's decoding, whose values share data, decodes the same.
	if shared, err := unmarshalRecord(data, false); err != nil || !reflect.DeepEqual(shared, want) {
		t.Fatalf("decoding %s for apply: %v\n%#v\nthe library's\n%#v", short(data), err, shared, want)
	}
	if fast, ok := decodeRecord(data, true); ok {
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("fast path decoded %s to\n%#v\nthe library's\n%#v", short(data), fast, want)
		}
		if enc := mustMarshal(t, fast); !bytes.Equal(enc, data) {
			t.Fatalf("fast path accepted %s, which is not what Marshal writes (%x)", short(data), enc)
		}
	}
	checkEncode(t, got)
}

// short renders data for a failure message, at most its first 64 bytes.
func short(data []byte) string {
	if len(data) <= 64 {
		return fmt.Sprintf("% x", data)
	}
	return fmt.Sprintf("% x … (%d bytes)", data[:64], len(data))
}

// checkEncode fails unless Marshal writes what the library writes.
func checkEncode(t testing.TB, r *Record) {
	t.Helper()
	want, err := encMode.Marshal(r)
	if err != nil {
		t.Fatalf("library encoding: %v", err)
	}
	if got := mustMarshal(t, r); !bytes.Equal(got, want) {
		t.Fatalf("Marshal(%#v) =\n% x\nthe library writes\n% x", r, got, want)
	}
}

// randUint returns integers of every head size, boundaries often.
func randUint(rng *rand.Rand) uint64 {
	edges := []uint64{0, 1, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<64 - 1}
	switch rng.IntN(3) {
	case 0:
		return edges[rng.IntN(len(edges))]
	case 1:
		return rng.Uint64() >> rng.IntN(64)
	}
	return uint64(rng.IntN(30))
}

func randID(rng *rand.Rand) uuid.UUID {
	var u uuid.UUID
	if rng.IntN(8) != 0 {
		for i := range u {
			u[i] = byte(rng.Uint32())
		}
	}
	return u
}

// randBytes returns nil, empty, or bytes of a length around a head's
// size boundary.
func randBytes(rng *rand.Rand) []byte {
	lens := []int{0, 1, 23, 24, 60, 102, 255, 256, 300}
	n := lens[rng.IntN(len(lens))]
	switch rng.IntN(30) {
	case 0, 1, 2, 3:
		return nil
	case 4, 5, 6, 7:
		return []byte{}
	case 8:
		n = 65535
	}
	b := make([]byte, n+rng.IntN(2))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// randName returns a root name: usually text, sometimes invalid UTF-8.
func randName(rng *rand.Rand) string {
	switch rng.IntN(10) {
	case 0:
		return ""
	case 1:
		return "\xff\xfe"
	case 2:
		return "wörld ☃"
	}
	return strings.Repeat("r", []int{1, 23, 24, 255, 256}[rng.IntN(5)])
}

// randRecord returns a record with each field absent, empty or filled.
func randRecord(rng *rand.Rand) *Record {
	r := &Record{TxID: randID(rng), Snapshot: randUint(rng), Scanned: rng.IntN(2) == 0}
	n := func() int { return []int{-1, 0, 1, 2, 3, 24}[rng.IntN(6)] }
	if k := n(); k >= 0 {
		r.Reads = make([]Read, k)
		for i := range r.Reads {
			r.Reads[i] = Read{ID: randID(rng), Version: randUint(rng)}
		}
	}
	if k := n(); k >= 0 {
		r.RootReads = make([]RootRead, k)
		for i := range r.RootReads {
			r.RootReads[i] = RootRead{Name: randName(rng), Version: randUint(rng)}
		}
	}
	if k := n(); k >= 0 {
		r.Writes = make([]Write, k)
		for i := range r.Writes {
			r.Writes[i] = Write{ID: randID(rng), Delete: rng.IntN(4) == 0, Value: randBytes(rng)}
		}
	}
	if k := n(); k >= 0 {
		r.RootWrites = make([]RootWrite, k)
		for i := range r.RootWrites {
			r.RootWrites[i] = RootWrite{Name: randName(rng), Delete: rng.IntN(2) == 0, ID: randID(rng)}
		}
	}
	return r
}

// validNames reports whether the record's root names are UTF-8, as
// CBOR text must be.
func validNames(r *Record) bool {
	for _, x := range r.RootReads {
		if !utf8.ValidString(x.Name) {
			return false
		}
	}
	for _, x := range r.RootWrites {
		if !utf8.ValidString(x.Name) {
			return false
		}
	}
	return true
}

// TestRecordCodecMatchesLibrary: on random records, Marshal writes what
// the library writes, and UnmarshalRecord decodes it as the library
// does; so do they on the encoding with a byte changed or cut off.
func TestRecordCodecMatchesLibrary(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	checkEncode(t, nil)
	for i := range 1000 {
		r := randRecord(rng)
		checkEncode(t, r)
		data := mustMarshal(t, r)
		checkDecode(t, data)
		if _, ok := decodeRecord(data, true); !ok && validNames(r) {
			t.Fatalf("seed %d, record %d: the fast path refused Marshal's encoding % x", seed, i, data)
		}
		if len(data) > 4096 {
			continue
		}
		mutated := bytes.Clone(data)
		for k := 0; k < 4; k++ {
			at := rng.IntN(len(data))
			mutated[at] = byte(rng.Uint32())
			checkDecode(t, mutated)
			checkDecode(t, data[:rng.IntN(len(data))])
			copy(mutated, data)
		}
	}
}

// cat concatenates bytes and byte slices into an encoding.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b = append(b, byte(p))
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, p...)
		}
	}
	return b
}

// idItem is the encoding of id(n).
func idItem(n byte) []byte { u := id(n); return cat(0x50, u[:]) }

// txItem is the encoding of tx(n).
func txItem(n byte) []byte { u := tx(n); return cat(0x50, u[:]) }

// TestRecordCodecMalformed: on malformed and non-canonical variants of
// a record's encoding, UnmarshalRecord decides as the library does.
func TestRecordCodecMalformed(t *testing.T) {
	base := mustMarshal(t, &Record{
		TxID: tx(1), Snapshot: 300,
		Reads:      []Read{{ID: id(1), Version: 7}},
		RootReads:  []RootRead{{Name: "a", Version: 1}},
		Scanned:    true,
		Writes:     []Write{{ID: id(2), Value: []byte("xy")}, {ID: id(3), Delete: true}, {ID: id(4), Value: []byte{}}},
		RootWrites: []RootWrite{{Name: "b", ID: id(4)}},
	})
	checkDecode(t, base)
	for n := range len(base) {
		checkDecode(t, base[:n])
	}
	checkDecode(t, cat(base, 0x00))
	// Every byte replaced by heads of each type, simple values, tags,
	// breaks and its neighbours.
	subst := []byte{0x00, 0x17, 0x18, 0x1b, 0x1f, 0x20, 0x40, 0x4f, 0x51, 0x5f, 0x60, 0x61, 0x7f,
		0x80, 0x82, 0x83, 0x9f, 0xa0, 0xa8, 0xbf, 0xc0, 0xc1, 0xd8, 0xf4, 0xf5, 0xf6, 0xf7, 0xf9, 0xff}
	mutated := bytes.Clone(base)
	for i, c := range base {
		for _, s := range append(subst, c-1, c+1) {
			mutated[i] = s
			checkDecode(t, mutated)
		}
		mutated[i] = c
	}
	deep := bytes.Repeat([]byte{0x81}, 20)
	tx1 := tx(1)
	for name, data := range map[string][]byte{
		"minimal":                  cat(0xa2, 0x01, txItem(1), 0x02, 0x00),
		"no txid":                  cat(0xa1, 0x02, 0x00),
		"nil txid":                 cat(0xa2, 0x01, 0x50, make([]byte, 16), 0x02, 0x00),
		"no snapshot":              cat(0xa1, 0x01, txItem(1)),
		"no snapshot, reads":       cat(0xa2, 0x01, txItem(1), 0x03, 0x81, 0x82, idItem(1), 0x01),
		"no txid, reads":           cat(0xa2, 0x02, 0x00, 0x03, 0x81, 0x82, idItem(1), 0x01),
		"keys out of order":        cat(0xa2, 0x02, 0x00, 0x01, txItem(1)),
		"duplicate key":            cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x02, 0x01),
		"duplicate txid":           cat(0xa3, 0x01, txItem(1), 0x01, txItem(2), 0x02, 0x00),
		"unknown key 8":            cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x08, 0x00),
		"unknown key 0":            cat(0xa3, 0x00, 0x00, 0x01, txItem(1), 0x02, 0x00),
		"negative key":             cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x20, 0x00),
		"text key":                 cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x61, "x", 0x00),
		"eight pairs":              cat(0xa8, 0x01, txItem(1), 0x02, 0x00),
		"map header not shortest":  cat(0xb8, 0x02, 0x01, txItem(1), 0x02, 0x00),
		"key not shortest":         cat(0xa2, 0x18, 0x01, txItem(1), 0x02, 0x00),
		"snapshot not shortest":    cat(0xa2, 0x01, txItem(1), 0x02, 0x18, 0x05),
		"snapshot 8 bytes":         cat(0xa2, 0x01, txItem(1), 0x02, 0x1b, 0, 0, 0, 0, 0, 0, 1, 0),
		"snapshot negative":        cat(0xa2, 0x01, txItem(1), 0x02, 0x20),
		"snapshot float":           cat(0xa2, 0x01, txItem(1), 0x02, 0xf9, 0x3c, 0x00),
		"snapshot tagged":          cat(0xa2, 0x01, txItem(1), 0x02, 0xc1, 0x00),
		"self-described tag":       cat(0xd9, 0xd9, 0xf7, 0xa2, 0x01, txItem(1), 0x02, 0x00),
		"txid length not shortest": cat(0xa2, 0x01, 0x58, 0x10, tx1[:], 0x02, 0x00),
		"txid indefinite":          cat(0xa2, 0x01, 0x5f, 0x50, tx1[:], 0xff, 0x02, 0x00),
		"txid 15 bytes":            cat(0xa2, 0x01, 0x4f, tx1[:15], 0x02, 0x00),
		"txid 17 bytes":            cat(0xa2, 0x01, 0x51, tx1[:], 0x00, 0x02, 0x00),
		"txid as text":             cat(0xa2, 0x01, 0x70, "0123456789abcdef", 0x02, 0x00),
		"txid as array":            cat(0xa2, 0x01, 0x90, tx1[:], 0x02, 0x00),
		"scanned false":            cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x05, 0xf4),
		"scanned null":             cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x05, 0xf6),
		"scanned 1":                cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x05, 0x01),
		"reads empty":              cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x80),
		"reads null":               cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0xf6),
		"reads indefinite":         cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x9f, 0x82, idItem(1), 0x01, 0xff),
		"reads count not shortest": cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x98, 0x01, 0x82, idItem(1), 0x01),
		"read of 3 fields":         cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x81, 0x83, idItem(1), 0x01, 0x01),
		"read of 1 field":          cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x81, 0x81, idItem(1)),
		"read as map":              cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x81, 0xa1, 0x01, 0x01),
		"read version negative":    cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x81, 0x82, idItem(1), 0x21),
		"reads over the limit":     cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x9a, 0x01, 0x00, 0x00, 0x01),
		"reads at the limit":       cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x9a, 0x01, 0x00, 0x00, 0x00),
		"reads beyond the data":    cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"reads one too many":       cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x82, 0x82, idItem(1), 0x01),
		"deep nesting":             cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, deep),
		"root name invalid":        cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x04, 0x81, 0x82, 0x61, 0xff, 0x01),
		"root name as bytes":       cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x04, 0x81, 0x82, 0x41, "a", 0x01),
		"root name indefinite":     cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x04, 0x81, 0x82, 0x7f, 0x61, "a", 0xff, 0x01),
		"root name beyond data":    cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x04, 0x81, 0x82, 0x7a, 0xff, 0xff, 0xff, 0xff, 0x01),
		"write value null":         cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x83, idItem(1), 0xf4, 0xf6),
		"write value empty":        cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x83, idItem(1), 0xf4, 0x40),
		"write value as text":      cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x83, idItem(1), 0xf4, 0x61, "a"),
		"write value indefinite":   cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x83, idItem(1), 0xf4, 0x5f, 0x41, "a", 0xff),
		"write value huge":         cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x83, idItem(1), 0xf4, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"write value tagged":       cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x83, idItem(1), 0xf4, 0xd8, 0x18, 0x41, 0x00),
		"write delete null":        cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x83, idItem(1), 0xf6, 0xf6),
		"write delete 1":           cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x83, idItem(1), 0x01, 0xf6),
		"write of 2 fields":        cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x82, idItem(1), 0xf4),
		"write of 4 fields":        cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x84, idItem(1), 0xf4, 0xf6, 0xf6),
		"write id null":            cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x83, 0xf6, 0xf4, 0xf6),
		"root write id short":      cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x07, 0x81, 0x83, 0x61, "a", 0xf4, 0x41, 0x01),
		"root write ok":            cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x07, 0x81, 0x83, 0x61, "a", 0xf5, idItem(1)),
		"undefined":                cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0xf7),
		"not a map":                cat(0x82, txItem(1), 0x00),
		"break":                    cat(0xff),
		"empty":                    nil,
	} {
		t.Run(name, func(t *testing.T) { checkDecode(t, data) })
	}
}

// TestRecordCodecClaimsNotAllocated: a length or count that claims more
// than the data holds is refused before anything is made for it.
func TestRecordCodecClaimsNotAllocated(t *testing.T) {
	for _, c := range []struct {
		data   []byte
		allocs float64 // the Record, and the slices of what precedes the claim
	}{
		{cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x03, 0x9a, 0x00, 0xff, 0xff, 0xff), 1},
		{cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x99, 0xff, 0xff, bytes.Repeat([]byte{0x83}, 1000)), 1},
		{cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x06, 0x81, 0x83, idItem(1), 0xf4, 0x5a, 0x7f, 0xff, 0xff, 0xff), 2},
		{cat(0xa3, 0x01, txItem(1), 0x02, 0x00, 0x07, 0x81, 0x83, 0x7b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 2},
	} {
		data := c.data
		if _, ok := decodeRecord(data, true); ok {
			t.Fatalf("decoded % x", data)
		}
		if n := testing.AllocsPerRun(10, func() { decodeRecord(data, true) }); n > c.allocs {
			t.Errorf("% x: %v allocations", data[:30], n)
		}
	}
}

// FuzzRecordCodec decodes arbitrary bytes with UnmarshalRecord and with
// the library alone: both accept with the same record or both refuse.
// What decodes, Marshal encodes as the library does.
func FuzzRecordCodec(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		r := randRecord(rng)
		if data := mustMarshal(f, r); len(data) < 2048 {
			f.Add(data)
		}
	}
	for _, r := range benchRecords() {
		f.Add(mustMarshal(f, r))
	}
	f.Add(cat(0xa2, 0x01, txItem(1), 0x02, 0x00))
	f.Add(cat(0xa3, 0x01, txItem(1), 0x02, 0x18, 0x05, 0x06, 0x81, 0x83, idItem(1), 0xf4, 0x40))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}
