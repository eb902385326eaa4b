package gossip

import (
	"bytes"
	"compress/lzw"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/objectsharing/oss/transport"
)

// memberlist's stream message types, beyond the packet ones.
const (
	msgPushPull = 6
	msgErr      = 13
)

// maxStreamInflated caps what a compressed stream message may inflate
// to: memberlist's own limit (twice its 20 MiB of push/pull state).
const maxStreamInflated = 40 << 20

// maxClientInflated caps what a compressed stream message of a peer not
// trusted with others' state may inflate to. Such a peer's push/pull
// carries at most maxPushStates member states of under 1 KiB each and no
// user state (the node keeps none), and its user messages are a few
// bytes; LZW inflates a run of zeros some 1,300 times, so the 40 MiB that
// memberlist allows came of 31 KB sent.
const maxClientInflated = 8 << 20

// maxPushStates caps the member states a push/pull of a peer not
// trusted with others' state may announce.
const maxPushStates = 5000

// maxServerPushStates caps those of a trusted peer's push/pull:
// memberlist's own limit. The filter holds the states that came, not
// the count announced.
const maxServerPushStates = 1 << 20

// pushPullHeader and pushNodeState are memberlist's, field for field, so
// that a state kept is encoded again as memberlist reads it.
type pushPullHeader struct {
	Nodes        int
	UserStateLen int
	Join         bool
}

type pushNodeState struct {
	Name        string
	Addr        []byte
	Port        uint16
	Meta        []byte
	Incarnation uint32
	State       int
	Vsn         []uint8
}

// guard wraps a gossip stream with a peer not trusted with others'
// state: its first message, the one memberlist reads from it, is
// filtered (ownStream). A trusted peer's first message is read the same
// way and kept whole: memberlist allocates what a header claims before
// it reads the body (a push/pull of 2^20 states is 112 MiB), and the
// filter holds only what came. Streams of endpoints that say nothing of
// their peer are returned as they are.
func (g *Transport) guard(c net.Conn) net.Conn {
	p, ok := c.(transport.RawPeer)
	if !ok || g.trusted == nil {
		return c
	}
	name, role := p.Peer()
	return &ownStream{Conn: c, from: name, role: role, g: g, whole: g.trusted(name, role)}
}

// ownStream is a gossip stream whose first message keeps only what its
// peer may say: a push/pull keeps the peer's own state, and drops the
// states of other members it holds (dead or suspect at any incarnation,
// alive at any address); a user message passes if userOK lets it;
// probes, answers and errors pass.
type ownStream struct {
	net.Conn
	from, role string
	g          *Transport
	r          io.Reader // set at the first Read
	// whole: the peer is trusted with others' state, and its message is
	// kept whole, only read before memberlist reads it.
	whole bool
}

func (s *ownStream) Read(b []byte) (int, error) {
	if s.r == nil {
		first, err := s.first()
		if err != nil {
			s.r = errReader{err}
		} else {
			s.r = io.MultiReader(bytes.NewReader(first), s.Conn)
		}
	}
	return s.r.Read(b)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// first reads the stream's first message and returns it filtered.
func (s *ownStream) first() ([]byte, error) {
	var typ [1]byte
	if _, err := io.ReadFull(s.Conn, typ[:]); err != nil {
		return nil, err
	}
	switch typ[0] {
	case msgPing, msgAck, msgNack, msgErr:
		return typ[:], nil // its body follows on the stream, as it came
	case msgUser:
		return s.user(s.Conn)
	case msgPushPull:
		return s.pushPull(s.Conn)
	case msgCompress:
		var c compressed
		if err := codec.NewDecoder(s.Conn, &codec.MsgpackHandle{}).Decode(&c); err != nil || c.Algo != 0 {
			return nil, fmt.Errorf("gossip: a compressed stream message from %q that does not decode", s.from)
		}
		// One at a time: what a message inflates to is held until it has
		// been filtered, and a peer may open 1024 streams at once.
		s.g.inflating.Lock()
		defer s.g.inflating.Unlock()
		r := lzw.NewReader(bytes.NewReader(c.Buf), lzw.LSB, 8)
		defer r.Close()
		limit := maxClientInflated
		if s.whole {
			limit = maxStreamInflated
		}
		inner, ok := readUpTo(r, limit)
		if !ok || len(inner) == 0 {
			return nil, fmt.Errorf("gossip: a compressed stream message from %q that does not inflate within %d bytes", s.from, limit)
		}
		switch inner[0] {
		case msgPing, msgAck, msgNack, msgErr:
			return inner, nil
		case msgUser:
			return s.user(bytes.NewReader(inner[1:]))
		case msgPushPull:
			return s.pushPull(bytes.NewReader(inner[1:]))
		}
		return nil, fmt.Errorf("gossip: stream message of type %d from %q refused", inner[0], s.from)
	}
	return nil, fmt.Errorf("gossip: stream message of type %d from %q refused", typ[0], s.from)
}

// readUpTo reads r to its end and returns what it held, or false if it
// fails or holds more than limit bytes. Its buffer doubles with make and
// copy, so what it allocates is under twice what it holds plus one
// block; bytes.Buffer's growth allocates four times that in a build with
// the race detector, whose append of a new slice is not the one
// allocation it is otherwise.
func readUpTo(r io.Reader, limit int) ([]byte, bool) {
	b := make([]byte, 0, 4<<10)
	for {
		if len(b) == cap(b) {
			if len(b) > limit {
				return nil, false
			}
			nb := make([]byte, len(b), min(2*cap(b), limit+1))
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > limit {
			return nil, false
		}
		if err == io.EOF {
			return b, true
		}
		if err != nil {
			return nil, false
		}
	}
}

// userHeader is memberlist's header of a user message on a stream.
type userHeader struct {
	UserMsgLen int
}

// user reads a user message's body from r and returns it whole if
// userOK passes it.
func (s *ownStream) user(r io.Reader) ([]byte, error) {
	h := &codec.MsgpackHandle{}
	var head userHeader
	if err := codec.NewDecoder(r, h).Decode(&head); err != nil || head.UserMsgLen < 0 || head.UserMsgLen > maxStreamInflated {
		return nil, errors.Join(fmt.Errorf("gossip: a user message from %q that does not decode", s.from), err)
	}
	msg, err := readClaimed(r, head.UserMsgLen)
	if err != nil {
		return nil, err
	}
	if !s.whole && s.g.userOK != nil && !s.g.userOK(s.from, msg) {
		s.g.drop(s.from, s.role, 1)
		return nil, fmt.Errorf("gossip: a user message from %q refused", s.from)
	}
	out := bytes.NewBuffer([]byte{msgUser})
	if err := codec.NewEncoder(out, h).Encode(&head); err != nil {
		return nil, err
	}
	out.Write(msg)
	return out.Bytes(), nil
}

// readClaimed reads the n bytes a message's header says follow. It holds
// what has come, not what was claimed: a header is a few bytes, and a
// peer that claimed 40 MiB on each of its streams and sent nothing after
// made the node allocate 40 MiB a stream (64 streams took its heap from
// 0.85 to 2.86 GB).
func readClaimed(r io.Reader, n int) ([]byte, error) {
	var b bytes.Buffer
	if _, err := io.CopyN(&b, r, int64(n)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b.Bytes(), nil
}

// pushPull reads a push/pull's body from r and encodes it again with the
// peer's own state only.
func (s *ownStream) pushPull(r io.Reader) ([]byte, error) {
	h := &codec.MsgpackHandle{}
	dec := codec.NewDecoder(r, h)
	var head pushPullHeader
	most := maxPushStates
	if s.whole {
		most = maxServerPushStates
	}
	if err := dec.Decode(&head); err != nil || head.Nodes < 0 || head.Nodes > most || head.UserStateLen < 0 || head.UserStateLen > maxStreamInflated {
		return nil, errors.Join(fmt.Errorf("gossip: a push/pull from %q that does not decode", s.from), err)
	}
	var kept []pushNodeState
	for range head.Nodes {
		var st pushNodeState
		if err := dec.Decode(&st); err != nil {
			return nil, fmt.Errorf("gossip: a push/pull from %q that does not decode: %w", s.from, err)
		}
		if s.whole || st.Name == s.from {
			kept = append(kept, st)
		}
	}
	user, err := readClaimed(r, head.UserStateLen)
	if err != nil {
		return nil, err
	}
	if n := head.Nodes - len(kept); n > 0 {
		s.g.drop(s.from, s.role, n)
	}
	out := bytes.NewBuffer([]byte{msgPushPull})
	enc := codec.NewEncoder(out, h)
	head.Nodes = len(kept)
	if err := enc.Encode(&head); err != nil {
		return nil, err
	}
	for i := range kept {
		if err := enc.Encode(&kept[i]); err != nil {
			return nil, err
		}
	}
	out.Write(user)
	return out.Bytes(), nil
}
