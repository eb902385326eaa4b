package consistency

import (
	"sync"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Every replica decodes every commit record it applies, and decoding
// one by reflection (the CBOR library's decMode) was among the largest
// costs of applying a commit. So the record has a codec of its own, as
// the avatar has in wissenheim/scene/codec.go: Marshal writes, byte for
// byte, what the library's deterministic encMode writes for a Record,
// and decodeRecord reads exactly that encoding and nothing else. Any
// other input, from a key out of order to a non-shortest integer, goes
// to the library's decoder, which accepts or refuses it as it always
// did; so the two never disagree (FuzzRecordCodec checks both ways).
//
// The encoding (RFC 8949 core deterministic): a map of integer keys 1
// to 8 in order, keys 1 (TxID) and 2 (Snapshot) always, the others left
// out when empty or false; IDs are 16-byte strings; Read, RootRead,
// Write and RootWrite are arrays of their fields; a nil Value is null.

// CBOR major types and the simple values a record uses.
const (
	cborUint  = 0
	cborBytes = 2
	cborText  = 3
	cborArray = 4
	cborMap   = 5
	cborFalse = 0xf4
	cborTrue  = 0xf5
	cborNull  = 0xf6
)

// headLen is the length of the shortest head for argument n.
func headLen(n uint64) int {
	switch {
	case n < 24:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	}
	return 9
}

// appendHead appends the shortest head of major type major, argument n:
// the one CBOR head encoder of the package's hand-written encodings (records,
// state metadata, snapshots). A head of one byte, the most common, is
// appended inline.
func appendHead(b []byte, major byte, n uint64) []byte {
	if n < 24 {
		return append(b, major<<5|byte(n))
	}
	return appendLongHead(b, major<<5, n)
}

// appendLongHead appends the head of initial byte m (the major type in its
// top three bits) and argument n, 24 or more.
func appendLongHead(b []byte, m byte, n uint64) []byte {
	switch {
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return append(b, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// idLen is the encoded length of an ID: a head and 16 bytes.
const idLen = 1 + len(uuid.UUID{})

func appendID(b []byte, id uuid.UUID) []byte {
	return append(append(b, cborBytes<<5|16), id[:]...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, cborTrue)
	}
	return append(b, cborFalse)
}

func textLen(s string) int { return headLen(uint64(len(s))) + len(s) }

func appendText(b []byte, s string) []byte {
	return append(appendHead(b, cborText, uint64(len(s))), s...)
}

// valueLen is the encoded length of a Write's value: null if nil.
func valueLen(v []byte) int {
	if v == nil {
		return 1
	}
	return headLen(uint64(len(v))) + len(v)
}

func appendValue(b []byte, v []byte) []byte {
	if v == nil {
		return append(b, cborNull)
	}
	return append(appendHead(b, cborBytes, uint64(len(v))), v...)
}

// size is the length of the record's encoding.
func (r *Record) size() int {
	n := 1 + 1 + idLen + 1 + headLen(r.Snapshot)
	if len(r.Reads) > 0 {
		n += 1 + headLen(uint64(len(r.Reads)))
		for _, x := range r.Reads {
			n += 1 + idLen + headLen(x.Version)
		}
	}
	if len(r.RootReads) > 0 {
		n += 1 + headLen(uint64(len(r.RootReads)))
		for _, x := range r.RootReads {
			n += 1 + textLen(x.Name) + headLen(x.Version)
		}
	}
	if r.Scanned {
		n += 2
	}
	if len(r.Writes) > 0 {
		n += 1 + headLen(uint64(len(r.Writes)))
		for _, x := range r.Writes {
			n += 1 + idLen + 1 + valueLen(x.Value)
		}
	}
	if len(r.RootWrites) > 0 {
		n += 1 + headLen(uint64(len(r.RootWrites)))
		for _, x := range r.RootWrites {
			n += 1 + textLen(x.Name) + 1 + idLen
		}
	}
	if r.Refused {
		n += 2
	}
	return n
}

// fields is the number of the record's map entries.
func (r *Record) fields() uint64 {
	n := uint64(2)
	for _, set := range []bool{len(r.Reads) > 0, len(r.RootReads) > 0, r.Scanned, len(r.Writes) > 0, len(r.RootWrites) > 0, r.Refused} {
		if set {
			n++
		}
	}
	return n
}

// appendTo appends the record's encoding to b.
func (r *Record) appendTo(b []byte) []byte {
	b = appendHead(b, cborMap, r.fields())
	b = appendID(append(b, 1), r.TxID)
	b = appendHead(append(b, 2), cborUint, r.Snapshot)
	if len(r.Reads) > 0 {
		b = appendHead(append(b, 3), cborArray, uint64(len(r.Reads)))
		for _, x := range r.Reads {
			b = appendID(append(b, cborArray<<5|2), x.ID)
			b = appendHead(b, cborUint, x.Version)
		}
	}
	if len(r.RootReads) > 0 {
		b = appendHead(append(b, 4), cborArray, uint64(len(r.RootReads)))
		for _, x := range r.RootReads {
			b = appendText(append(b, cborArray<<5|2), x.Name)
			b = appendHead(b, cborUint, x.Version)
		}
	}
	if r.Scanned {
		b = append(b, 5, cborTrue)
	}
	if len(r.Writes) > 0 {
		b = appendHead(append(b, 6), cborArray, uint64(len(r.Writes)))
		for _, x := range r.Writes {
			b = appendID(append(b, cborArray<<5|3), x.ID)
			b = appendValue(appendBool(b, x.Delete), x.Value)
		}
	}
	if len(r.RootWrites) > 0 {
		b = appendHead(append(b, 7), cborArray, uint64(len(r.RootWrites)))
		for _, x := range r.RootWrites {
			b = appendText(append(b, cborArray<<5|3), x.Name)
			b = appendID(appendBool(b, x.Delete), x.ID)
		}
	}
	if r.Refused {
		b = append(b, 8, cborTrue)
	}
	return b
}

// recReader reads the items of a record's exact encoding. Each method
// reports false for anything else, and the record then goes to the
// library's decoder.
type recReader struct {
	b []byte
}

// head reads an item's major type and argument, which must be in its
// shortest form (no indefinite lengths, no longer head than needed).
func (r *recReader) head() (major byte, arg uint64, ok bool) {
	if len(r.b) == 0 {
		return 0, 0, false
	}
	major, ai := r.b[0]>>5, r.b[0]&0x1f
	if ai < 24 {
		r.b = r.b[1:]
		return major, uint64(ai), true
	}
	if ai > 27 {
		return 0, 0, false
	}
	n := 1 << (ai - 24)
	if len(r.b) <= n {
		return 0, 0, false
	}
	for _, c := range r.b[1 : 1+n] {
		arg = arg<<8 | uint64(c)
	}
	if headLen(arg) != 1+n {
		return 0, 0, false
	}
	r.b = r.b[1+n:]
	return major, arg, true
}

func (r *recReader) uint() (uint64, bool) {
	major, arg, ok := r.head()
	return arg, ok && major == cborUint
}

// array reads an array's head that claims n elements of at least min
// bytes each: n is at least 1 (Marshal leaves empty slices out), at
// most maxElements, and no more than the rest of the data can hold.
func (r *recReader) array(min int) (int, bool) {
	major, n, ok := r.head()
	if !ok || major != cborArray || n == 0 || n > maxElements || n > uint64(len(r.b)/min) {
		return 0, false
	}
	return int(n), true
}

// tuple reads the head of a struct's array of n fields.
func (r *recReader) tuple(n byte) bool {
	if len(r.b) == 0 || r.b[0] != cborArray<<5|n {
		return false
	}
	r.b = r.b[1:]
	return true
}

// bytes reads a string of major type major without copying it.
func (r *recReader) bytes(major byte) ([]byte, bool) {
	m, n, ok := r.head()
	if !ok || m != major || n > uint64(len(r.b)) {
		return nil, false
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s, true
}

func (r *recReader) text() (string, bool) {
	s, ok := r.bytes(cborText)
	if !ok || !utf8.Valid(s) {
		return "", false
	}
	return string(s), true
}

func (r *recReader) id(dst *uuid.UUID) bool {
	if len(r.b) < idLen || r.b[0] != cborBytes<<5|16 {
		return false
	}
	copy(dst[:], r.b[1:idLen])
	r.b = r.b[idLen:]
	return true
}

func (r *recReader) bool() (bool, bool) {
	if len(r.b) == 0 || (r.b[0] != cborFalse && r.b[0] != cborTrue) {
		return false, false
	}
	v := r.b[0] == cborTrue
	r.b = r.b[1:]
	return v, true
}

// value reads a Write's value, null or a byte string. It aliases the
// input until decodeRecord copies the record's values out.
func (r *recReader) value() ([]byte, bool) {
	if len(r.b) > 0 && r.b[0] == cborNull {
		r.b = r.b[1:]
		return nil, true
	}
	return r.bytes(cborBytes)
}

// The least bytes an element of each of the record's arrays takes.
const (
	minRead      = 1 + idLen + 1
	minRootRead  = 1 + 1 + 1
	minWrite     = 1 + idLen + 1 + 1
	minRootWrite = 1 + 1 + 1 + idLen
)

// lend returns buf[:n] when buf has room for n elements, else a new
// slice of n.
func lend[E any](buf []E, n int) []E {
	if cap(buf) < n {
		return make([]E, n)
	}
	return buf[:n]
}

// reads reads the record's reads into buf's array if it has room.
func (r *recReader) reads(buf []Read) ([]Read, bool) {
	n, ok := r.array(minRead)
	if !ok {
		return nil, false
	}
	s := lend(buf, n)
	for i := range s {
		if !r.tuple(2) || !r.id(&s[i].ID) {
			return nil, false
		}
		if s[i].Version, ok = r.uint(); !ok {
			return nil, false
		}
	}
	return s, true
}

func (r *recReader) rootReads() ([]RootRead, bool) {
	n, ok := r.array(minRootRead)
	if !ok {
		return nil, false
	}
	s := make([]RootRead, n)
	for i := range s {
		if !r.tuple(2) {
			return nil, false
		}
		if s[i].Name, ok = r.text(); !ok {
			return nil, false
		}
		if s[i].Version, ok = r.uint(); !ok {
			return nil, false
		}
	}
	return s, true
}

// writes reads the record's writes, their values aliasing the input,
// and the total length of the values, into buf's array if it has room.
func (r *recReader) writes(buf []Write) ([]Write, int, bool) {
	n, ok := r.array(minWrite)
	if !ok {
		return nil, 0, false
	}
	s := lend(buf, n)
	total := 0
	for i := range s {
		if !r.tuple(3) || !r.id(&s[i].ID) {
			return nil, 0, false
		}
		if s[i].Delete, ok = r.bool(); !ok {
			return nil, 0, false
		}
		if s[i].Value, ok = r.value(); !ok {
			return nil, 0, false
		}
		total += len(s[i].Value)
	}
	return s, total, true
}

func (r *recReader) rootWrites() ([]RootWrite, bool) {
	n, ok := r.array(minRootWrite)
	if !ok {
		return nil, false
	}
	s := make([]RootWrite, n)
	for i := range s {
		if !r.tuple(3) {
			return nil, false
		}
		if s[i].Name, ok = r.text(); !ok {
			return nil, false
		}
		if s[i].Delete, ok = r.bool(); !ok {
			return nil, false
		}
		if !r.id(&s[i].ID) {
			return nil, false
		}
	}
	return s, true
}

// decodeRecord decodes the exact encoding Marshal writes, or reports
// false for any other input. With own set the values are copied out of
// data into one allocation, so the record shares nothing with data;
// else they are slices of data.
func decodeRecord(data []byte, own bool) (*Record, bool) {
	rec := new(Record)
	if !decodeRecordTo(rec, data, own, nil) {
		return nil, false
	}
	return rec, true
}

// recBuf lends decodeRecordTo the arrays of a record's reads and
// writes: a replica decodes every record it applies, and lets go of it
// before the next (recScratch).
type recBuf struct {
	reads  []Read
	writes []Write
}

// recScratch is a record and the arrays it is decoded into, used again
// for every record its owner decodes and lets go of before the next:
// a replica's apply, and IsRefusal through scratchPool. Decoding a
// read-modify-write's record otherwise allocates three times (the
// Record, its reads, its writes), on every replica for every commit.
type recScratch struct {
	rec Record
	buf recBuf
}

// maxLent is the most reads or writes a recScratch keeps arrays for:
// a larger record's are let go of with it.
const maxLent = 64

var scratchPool = sync.Pool{New: func() any { return new(recScratch) }}

// decode decodes data as unmarshalRecord(data, false) does, into s's
// record, valid until s.release: its values alias data.
func (s *recScratch) decode(data []byte) (*Record, error) {
	if err := unmarshalRecordTo(&s.rec, data, false, &s.buf); err != nil {
		return nil, err
	}
	if c := cap(s.rec.Reads); c > cap(s.buf.reads) && c <= maxLent {
		s.buf.reads = s.rec.Reads[:0]
	}
	if c := cap(s.rec.Writes); c > cap(s.buf.writes) && c <= maxLent {
		s.buf.writes = s.rec.Writes[:0]
	}
	return &s.rec, nil
}

// release lets go of what the record decoded last refers to: its
// writes' values alias the input.
func (s *recScratch) release() {
	clear(s.rec.Writes)
	s.rec = Record{}
}

// decodeRecordTo is decodeRecord into rec, which it overwrites whole,
// its reads and writes in buf's arrays where they have room (buf may be
// nil). rec is left in no particular state when it reports false.
func decodeRecordTo(rec *Record, data []byte, own bool, buf *recBuf) bool {
	var lent recBuf
	if buf != nil {
		lent = *buf
	}
	*rec = Record{}
	r := recReader{b: data}
	major, n, ok := r.head()
	if !ok || major != cborMap || n < 2 || n > 8 {
		return false
	}
	var last uint64
	total := 0
	for i := range n {
		k, ok := r.uint()
		// Keys ascend (no duplicates), 1 and 2 come first.
		if !ok || k <= last || k > 8 || (i < 2 && k != i+1) {
			return false
		}
		last = k
		switch k {
		case 1:
			ok = r.id(&rec.TxID)
		case 2:
			rec.Snapshot, ok = r.uint()
		case 3:
			rec.Reads, ok = r.reads(lent.reads)
		case 4:
			rec.RootReads, ok = r.rootReads()
		case 5:
			// Marshal leaves a false Scanned out.
			rec.Scanned, ok = r.bool()
			ok = ok && rec.Scanned
		case 6:
			rec.Writes, total, ok = r.writes(lent.writes)
		case 7:
			rec.RootWrites, ok = r.rootWrites()
		case 8:
			// Marshal leaves a false Refused out.
			rec.Refused, ok = r.bool()
			ok = ok && rec.Refused
		}
		if !ok {
			return false
		}
	}
	if len(r.b) != 0 {
		return false
	}
	if own && rec.Writes != nil {
		copyValues(rec.Writes, total)
	}
	return true
}

// copyValues moves the writes' values into one allocation of total
// bytes, each capped at its length so that an append never writes into
// the next.
func copyValues(ws []Write, total int) {
	buf := make([]byte, total)
	for i := range ws {
		v := ws[i].Value
		if v == nil {
			continue
		}
		n := copy(buf, v)
		ws[i].Value = buf[:n:n]
		buf = buf[n:]
	}
}

// RecordTxID returns the transaction ID of an encoded commit record from
// its first bytes, without decoding the rest; ok is false for data that
// does not begin as a record does. A record's encoding is deterministic:
// a map of at most 8 entries whose first key is 1, the TxID.
func RecordTxID(data []byte) (id uuid.UUID, ok bool) {
	if len(data) < 2+idLen || data[0] < cborMap<<5|2 || data[0] > cborMap<<5|8 ||
		data[1] != 1 || data[2] != cborBytes<<5|16 {
		return id, false
	}
	copy(id[:], data[3:3+len(id)])
	return id, true
}
