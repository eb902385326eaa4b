package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/objectsharing/oss/internal/codec"
)

// Frame types.
const (
	frameHello    = 1 // first frame of every stream: who opens it, and why
	frameMessage  = 2 // a one-way message
	frameRequest  = 3 // a call's request
	frameResponse = 4 // a call's answer
	frameError    = 5 // a call's failure
)

// Stream kinds, announced in the hello frame.
const (
	streamMessages = 1
	streamCall     = 2
	// streamRaw (3) is in raw.go.
	streamBulk = 4
)

// frame is the unit on the wire: a 4-byte big-endian length, then the frame
// in CBOR.
type frame struct {
	_    struct{} `cbor:",toarray"`
	Type uint8
	From string // hello only
	Kind uint8  // hello only
	Body []byte
}

// DefaultMaxFrame is the largest frame accepted unless configured.
const DefaultMaxFrame = 8 << 20

// FrameOverhead is the most a message, request or answer frame adds to
// the body it carries: the CBOR array's head, the type, the empty sender,
// the kind and the body's byte-string head (up to 5 bytes; a frame's
// length is 32 bits). MaxFrame counts the frame without its 4-byte length
// prefix, so a body of up to MaxFrame-FrameOverhead bytes always fits, and
// that is the limit Send, Call and SendStream's header are held to.
const FrameOverhead = 9

var (
	frameEnc cbor.EncMode
	frameDec cbor.DecMode
)

func init() {
	var err error
	frameEnc, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	frameDec, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  4,
		MaxArrayElements: 16,
		MaxMapPairs:      16,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// ErrMalformedFrame is returned for a frame that does not decode.
var ErrMalformedFrame = errors.New("transport: malformed frame")

// appendFrame appends f's length and encoding to dst: byte for byte what
// frameEnc writes (an array of Type, From as text, Kind, and Body as a
// byte string, null when nil; every head in its shortest form), without
// reflection and without encoding it apart first, since every raft
// message a node sends is a frame (TestAppendFrameMatchesLibrary). It
// cannot fail.
func appendFrame(dst []byte, f *frame) ([]byte, error) {
	start := len(dst)
	dst = slices.Grow(dst, 4+1+2+9+len(f.From)+2+9+len(f.Body))
	dst = append(dst, 0, 0, 0, 0, 4<<5|4)
	dst = codec.AppendHead(dst, 0, uint64(f.Type))
	dst = append(codec.AppendHead(dst, 3, uint64(len(f.From))), f.From...)
	dst = codec.AppendHead(dst, 0, uint64(f.Kind))
	if f.Body == nil {
		dst = append(dst, 0xf6)
	} else {
		dst = append(codec.AppendHead(dst, 2, uint64(len(f.Body))), f.Body...)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst, nil
}

func writeFrame(w io.Writer, f *frame, max int) error {
	buf, err := appendFrame(nil, f)
	if err != nil {
		return err
	}
	if len(buf)-4 > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(buf)-4, max)
	}
	_, err = w.Write(buf)
	return err
}

// readFrame reads one frame, refusing a length over max before reading it.
func readFrame(r io.Reader, max int) (*frame, error) { return readFrameIn(r, max, nil) }

// readFrameIn is readFrame that, if admit is not nil, calls it with the
// frame's length before it allocates the frame; if admit fails, so does
// the read.
func readFrameIn(r io.Reader, max int, admit func(n int) error) (*frame, error) {
	fi := new(frameIn)
	return fi.read(r, max, admit)
}

// frameIn holds what reading a frame needs besides its buffer: the
// length prefix and the decoded frame. A stream that reads its frames
// one after the other reads them all into one (serveMessages: a node
// receives every raft message so), where each frame was three
// allocations, the prefix, the frame and its buffer; now only the
// buffer is new, and it is the caller's to keep.
type frameIn struct {
	hdr [4]byte
	f   frame
}

// read reads one frame as readFrameIn does, into fi's frame: the frame
// it returns is fi's, and the next read overwrites it (not its body).
func (fi *frameIn) read(r io.Reader, max int, admit func(n int) error) (*frame, error) {
	if _, err := io.ReadFull(r, fi.hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(fi.hdr[:])
	if n > uint32(max) {
		return nil, fmt.Errorf("%w: length prefix %d exceeds %d", ErrTooLarge, n, max)
	}
	if admit != nil {
		if err := admit(int(n)); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: truncated: %v", ErrMalformedFrame, err)
	}
	if err := decodeFrameInto(buf, &fi.f); err != nil {
		return nil, err
	}
	return &fi.f, nil
}

func decodeFrame(buf []byte) (*frame, error) {
	f := new(frame)
	if err := decodeFrameInto(buf, f); err != nil {
		return nil, err
	}
	return f, nil
}

// decodeFrameInto decodes buf into f, whatever f held before.
func decodeFrameInto(buf []byte, f *frame) error {
	if !fastFrame(buf, f) {
		*f = frame{}
		if err := frameDec.Unmarshal(buf, f); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformedFrame, err)
		}
	}
	if f.Type < frameHello || f.Type > frameError {
		return fmt.Errorf("%w: unknown type %d", ErrMalformedFrame, f.Type)
	}
	return nil
}

// fastFrame decodes buf into f if it is a frame as appendFrame writes
// it: an array of four, the type and kind as unsigned integers of up to
// a byte, the sender as valid UTF-8 text and the body as a byte string or
// null, every head in its shortest form, nothing after. It reports false
// for anything else, which frameDec then decodes or refuses. The body is
// buf's own bytes, not a copy: every frame is read into a buffer of its
// own (readFrameIn), and a node receives every raft message in one.
func fastFrame(buf []byte, f *frame) bool {
	r := frameReader{b: buf}
	if len(r.b) == 0 || r.b[0] != 4<<5|4 {
		return false
	}
	r.b = r.b[1:]
	typ, ok := r.small()
	if !ok {
		return false
	}
	from, ok := r.text()
	if !ok {
		return false
	}
	kind, ok := r.small()
	if !ok || len(r.b) == 0 {
		return false
	}
	var body []byte
	if r.b[0] != 0xf6 {
		if body, ok = r.bytes(2); !ok || len(r.b) != 0 {
			return false
		}
	} else if len(r.b) != 1 {
		return false
	}
	f.Type, f.From, f.Kind, f.Body = typ, from, kind, body
	return true
}

// frameReader reads the items of a frame's exact encoding (fastFrame).
type frameReader struct{ b []byte }

// head reads an item's major type and argument, in its shortest form.
func (r *frameReader) head() (major byte, arg uint64, ok bool) {
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

// headLen is the length of the shortest head of argument n.
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

// small reads an unsigned integer of at most 255.
func (r *frameReader) small() (uint8, bool) {
	major, arg, ok := r.head()
	return uint8(arg), ok && major == 0 && arg <= 0xff
}

// bytes reads a string of major type major (2 bytes, 3 text): the bytes
// of r's data that hold it.
func (r *frameReader) bytes(major byte) ([]byte, bool) {
	m, n, ok := r.head()
	if !ok || m != major || n > uint64(len(r.b)) {
		return nil, false
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b, true
}

// text reads a text string that is valid UTF-8.
func (r *frameReader) text() (string, bool) {
	b, ok := r.bytes(3)
	if !ok || !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}
