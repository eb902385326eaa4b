package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

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
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
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
	return decodeFrame(buf)
}

func decodeFrame(buf []byte) (*frame, error) {
	f := new(frame)
	if err := frameDec.Unmarshal(buf, f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedFrame, err)
	}
	if f.Type < frameHello || f.Type > frameError {
		return nil, fmt.Errorf("%w: unknown type %d", ErrMalformedFrame, f.Type)
	}
	return f, nil
}
