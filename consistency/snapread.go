package consistency

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/google/uuid"
)

// DecodedSnapshot is a heap's state decoded from a snapshot as it arrived
// (ReadSnapshot), ready for a replica to take without decoding it again
// (Replica.OfferSnapshot).
type DecodedSnapshot struct {
	index   uint64
	shape   uint64
	objects *btree[objItem]
	roots   *btree[rootItem]
	seen    map[uuid.UUID]uint64
	dec     decisionLog
}

// Index is the applied index the state is at.
func (d *DecodedSnapshot) Index() uint64 { return d.index }

// Len is the number of objects in the state.
func (d *DecodedSnapshot) Len() int { return d.objects.Len() }

// snapReadBuffer is the buffer a snapshot is read through, and valuePiece
// the most of one value read ahead of the bytes that arrived: a value is
// allocated as it arrives, so a length that claims more than arrives costs
// nothing.
const (
	snapReadBuffer = 64 << 10
	valuePiece     = 1 << 20
)

// ReadSnapshot decodes the snapshot encoding of a state at index from r
// as it arrives. Each object goes into the state as soon as it is read, so
// the encoding is never whole in memory: r is read through a buffer of
// 64 KiB, a value in pieces of at most 1 MiB. Indefinite lengths, tags,
// unknown or repeated fields and bytes after the encoding are refused. An
// error of r itself is returned wrapped, so errors.Is finds it.
func ReadSnapshot(r io.Reader, index uint64) (*DecodedSnapshot, error) {
	s := &snapDecoder{r: bufio.NewReaderSize(r, snapReadBuffer)}
	d, err := s.snapshot()
	switch {
	case err != nil && s.rerr != nil:
		return nil, fmt.Errorf("consistency: reading the snapshot at %d: %w", index, err)
	case err != nil:
		return nil, fmt.Errorf("consistency: snapshot at %d does not decode: %w", index, err)
	case d.index != index:
		return nil, fmt.Errorf("consistency: snapshot holds state at %d, raft says %d", d.index, index)
	}
	return d, nil
}

// snapDecoder reads the CBOR of a snapshot from a stream, one data item at
// a time.
type snapDecoder struct {
	r    *bufio.Reader
	rerr error // the reader's own error, if it failed

	// While recording, what is read is also appended to raw: a whole
	// item, for decMode to decode.
	recording bool
	raw       []byte
}

// errEnded is a snapshot that ends in the middle.
var errEnded = errors.New("the snapshot ends early")

type malformedError string

func (e malformedError) Error() string { return string(e) }

func (s *snapDecoder) fail(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errEnded
	}
	s.rerr = err
	return err
}

func (s *snapDecoder) readByte() (byte, error) {
	b, err := s.r.ReadByte()
	if err != nil {
		return 0, s.fail(err)
	}
	if s.recording {
		s.raw = append(s.raw, b)
	}
	return b, nil
}

func (s *snapDecoder) readFull(p []byte) error {
	if _, err := io.ReadFull(s.r, p); err != nil {
		return s.fail(err)
	}
	if s.recording {
		s.raw = append(s.raw, p...)
	}
	return nil
}

// head reads a data item's head: its major type and argument.
func (s *snapDecoder) head() (major byte, arg uint64, err error) {
	b, err := s.readByte()
	if err != nil {
		return 0, 0, err
	}
	major, info := b>>5, b&0x1f
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info <= 27:
		var buf [8]byte
		n := 1 << (info - 24)
		if err := s.readFull(buf[8-n:]); err != nil {
			return 0, 0, err
		}
		return major, binary.BigEndian.Uint64(buf[:]), nil
	}
	return 0, 0, malformedError("indefinite length or reserved head " + strconv.Itoa(int(b)))
}

const (
	majorUint  = 0
	majorBytes = 2
	majorArray = 4
	majorMap   = 5
	majorTag   = 6
	majorOther = 7
	simpleNull = 22
)

func (s *snapDecoder) uint() (uint64, error) {
	major, v, err := s.head()
	if err == nil && major != majorUint {
		err = malformedError("an unsigned integer expected")
	}
	return v, err
}

// array reads an array's head; null is an empty array.
func (s *snapDecoder) array() (uint64, error) {
	major, n, err := s.head()
	switch {
	case err != nil:
		return 0, err
	case major == majorOther && n == simpleNull:
		return 0, nil
	case major != majorArray:
		return 0, malformedError("an array expected")
	}
	return n, nil
}

// bytes reads n bytes in pieces, allocating as they arrive.
func (s *snapDecoder) bytes(n uint64) ([]byte, error) {
	b := make([]byte, 0, min(n, valuePiece))
	for uint64(len(b)) < n {
		k := int(min(n-uint64(len(b)), valuePiece))
		if cap(b)-len(b) < k {
			nb := make([]byte, len(b), min(n, uint64(max(2*cap(b), len(b)+k))))
			copy(nb, b)
			b = nb
		}
		if err := s.readFull(b[len(b) : len(b)+k]); err != nil {
			return nil, err
		}
		b = b[:len(b)+k]
	}
	return b, nil
}

// skip reads n bytes that only the recording keeps.
func (s *snapDecoder) skip(n uint64) error {
	var buf [4096]byte
	for n > 0 {
		k := min(n, uint64(len(buf)))
		if err := s.readFull(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// item reads one whole data item (recorded by the caller).
func (s *snapDecoder) item(depth int) error {
	if depth > maxNestedLevels {
		return malformedError("nested too deep")
	}
	major, n, err := s.head()
	if err != nil {
		return err
	}
	switch major {
	case majorBytes, 3:
		return s.skip(n)
	case majorArray:
		for range n {
			if err := s.item(depth + 1); err != nil {
				return err
			}
		}
	case majorMap:
		for range n {
			if err := s.item(depth + 1); err != nil {
				return err
			}
			if err := s.item(depth + 1); err != nil {
				return err
			}
		}
	case majorTag:
		return malformedError("tags are forbidden")
	}
	return nil
}

// decodeItem reads one data item and decodes it into v with decMode.
func (s *snapDecoder) decodeItem(v any) error {
	s.raw, s.recording = s.raw[:0], true
	err := s.item(1)
	s.recording = false
	if err != nil {
		return err
	}
	return decMode.Unmarshal(s.raw, v)
}

// snapshot reads the map snapshotData encodes to, field by field.
func (s *snapDecoder) snapshot() (*DecodedSnapshot, error) {
	major, n, err := s.head()
	if err != nil {
		return nil, err
	}
	if major != majorMap {
		return nil, malformedError("a map expected")
	}
	d := &DecodedSnapshot{objects: newObjTree(), roots: newRootTree(), seen: map[uuid.UUID]uint64{}}
	var have [6]bool
	for range n {
		key, err := s.uint()
		if err != nil {
			return nil, err
		}
		if key < 1 || key > 5 || have[key] {
			return nil, malformedError(fmt.Sprintf("field %d unknown or repeated", key))
		}
		have[key] = true
		switch key {
		case 1:
			d.index, err = s.uint()
		case 2:
			d.shape, err = s.uint()
		case 3:
			err = s.objects(d)
		case 4:
			err = s.roots(d)
		case 5:
			err = s.decisions(d)
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := s.r.ReadByte(); err == nil {
		return nil, malformedError("data after the snapshot")
	} else if err != io.EOF {
		return nil, s.fail(err)
	}
	return d, nil
}

// objects reads the objects, each into the state as it arrives.
func (s *snapDecoder) objects(d *DecodedSnapshot) error {
	n, err := s.array()
	if err != nil {
		return err
	}
	// A replica's state streams in ID order, and the tree takes each
	// object at its end; a checkpoint's streams in stripe order.
	sorted, last := true, uuid.Nil
	for i := range n {
		var o Object
		if major, k, err := s.head(); err != nil {
			return err
		} else if major != majorArray || k != 3 {
			return malformedError("an object is an array of 3")
		}
		if major, k, err := s.head(); err != nil {
			return err
		} else if major != majorBytes || k != 16 {
			return malformedError("an object ID is 16 bytes")
		}
		if err := s.readFull(o.ID[:]); err != nil {
			return err
		}
		if o.Version, err = s.uint(); err != nil {
			return err
		}
		major, k, err := s.head()
		switch {
		case err != nil:
			return err
		case major == majorBytes:
			if o.Value, err = s.bytes(k); err != nil {
				return err
			}
		case major != majorOther || k != simpleNull:
			return malformedError("a value is a byte string")
		}
		if sorted = sorted && (i == 0 || bytes.Compare(last[:], o.ID[:]) < 0); sorted {
			d.objects.Load(newObjItem(o.ID, o.Value, o.Version))
		} else {
			d.objects.Set(newObjItem(o.ID, o.Value, o.Version))
		}
		last = o.ID
	}
	return nil
}

func (s *snapDecoder) roots(d *DecodedSnapshot) error {
	n, err := s.array()
	if err != nil {
		return err
	}
	for range n {
		var r snapRoot
		if err := s.decodeItem(&r); err != nil {
			return err
		}
		d.roots.Set(rootItem{name: r.Name, root: &Root{Name: r.Name, ID: r.ID, Version: r.Version}})
	}
	return nil
}

func (s *snapDecoder) decisions(d *DecodedSnapshot) error {
	n, err := s.array()
	if err != nil {
		return err
	}
	for range n {
		var x snapDecision
		if err := s.decodeItem(&x); err != nil {
			return err
		}
		d.seen[x.TxID] = x.Index
		d.dec.push(x.result())
	}
	return nil
}

// install replaces the machine's state with a decoded one.
func (m *machine) install(d *DecodedSnapshot) {
	m.objects, m.roots, m.seen, m.dec = d.objects, d.roots, d.seen, d.dec
	m.index, m.shape, m.dirty = d.index, d.shape, true
	m.publish()
}

// offerMarker begins the Data that stands for a state offered apart.
var offerMarker = []byte("consistency: snapshot state decoded apart #")

// DecodedApart reports whether a snapshot's Data stands for a state that
// was decoded apart and offered to the replica (OfferSnapshot), rather
// than holding the state: the replica's State after the Ready that
// carries it is that state.
func DecodedApart(data []byte) bool { return bytes.HasPrefix(data, offerMarker) }

// OfferSnapshot keeps st, a leader's snapshot decoded apart (ReadSnapshot),
// for the Ready that restores it, and returns what stands for the state in
// the snapshot message's Data; the owner then steps the message as any
// other. It is safe to call from any goroutine. An offer whose message
// raft refuses is let go once the replica has applied its index;
// WithdrawSnapshot lets go of one whose message is not stepped.
func (r *Replica) OfferSnapshot(st *DecodedSnapshot) []byte {
	r.offerMu.Lock()
	defer r.offerMu.Unlock()
	r.offerSeq++
	if r.offers == nil {
		r.offers = map[uint64]*DecodedSnapshot{}
	}
	r.offers[r.offerSeq] = st
	r.offered.Store(int32(len(r.offers)))
	return binary.BigEndian.AppendUint64(bytes.Clone(offerMarker), r.offerSeq)
}

// WithdrawSnapshot lets go of an offer whose message will not be stepped.
func (r *Replica) WithdrawSnapshot(data []byte) { r.takeOffer(data) }

// takeOffer returns and forgets the offer data stands for, or nil.
func (r *Replica) takeOffer(data []byte) *DecodedSnapshot {
	if !DecodedApart(data) || len(data) != len(offerMarker)+8 {
		return nil
	}
	seq := binary.BigEndian.Uint64(data[len(offerMarker):])
	r.offerMu.Lock()
	defer r.offerMu.Unlock()
	st := r.offers[seq]
	delete(r.offers, seq)
	r.offered.Store(int32(len(r.offers)))
	return st
}

// pruneOffers lets go of offers at or below the applied index: raft
// refuses their messages.
func (r *Replica) pruneOffers() {
	if r.offered.Load() == 0 {
		return
	}
	r.offerMu.Lock()
	defer r.offerMu.Unlock()
	for seq, st := range r.offers {
		if st.index <= r.m.index {
			delete(r.offers, seq)
		}
	}
	r.offered.Store(int32(len(r.offers)))
}
