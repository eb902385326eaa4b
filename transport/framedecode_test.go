package transport

import (
	"bytes"
	"strings"
	"testing"
)

// libDecode is what decodeFrame did before it had a decoder of its own:
// the library's decoding, then the check of the type.
func libDecode(buf []byte) (*frame, error) {
	f := new(frame)
	if err := frameDec.Unmarshal(buf, f); err != nil {
		return nil, err
	}
	if f.Type < frameHello || f.Type > frameError {
		return nil, ErrMalformedFrame
	}
	return f, nil
}

// sameDecoding fails the test unless decodeFrame and the library agree on
// buf: both refuse it, or both give the same frame, a nil body as nil and
// an empty one as empty.
func sameDecoding(t *testing.T, buf []byte) {
	t.Helper()
	got, gerr := decodeFrame(buf)
	want, werr := libDecode(buf)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("% x: decodeFrame %v, the library %v", buf[:min(len(buf), 40)], gerr, werr)
	}
	if gerr != nil {
		return
	}
	if got.Type != want.Type || got.From != want.From || got.Kind != want.Kind ||
		!bytes.Equal(got.Body, want.Body) || (got.Body == nil) != (want.Body == nil) {
		t.Fatalf("% x: decodeFrame %+v, the library %+v", buf[:min(len(buf), 40)], got, want)
	}
}

// Every frame appendFrame writes, of every type, sender and body size,
// decodes to what the library decodes it to; a frame with a valid UTF-8
// sender takes the decoder's own path (fastFrame), not the library's.
func TestDecodeFrameMatchesLibrary(t *testing.T) {
	var bodies [][]byte
	bodies = append(bodies, nil)
	for _, n := range []int{0, 1, 23, 24, 255, 256, 65535, 65536} {
		bodies = append(bodies, bytes.Repeat([]byte{0x5a}, n))
	}
	froms := []string{"", "node-1", "\xff\xfe", "é", strings.Repeat("n", 24), strings.Repeat("n", 256)}
	for _, typ := range []uint8{0, frameHello, frameMessage, frameError, 6, 24, 255} {
		for _, kind := range []uint8{0, streamMessages, streamBulk, 24, 255} {
			for _, from := range froms {
				for _, body := range bodies {
					b, _ := appendFrame(nil, &frame{Type: typ, From: from, Kind: kind, Body: body})
					buf := b[4:]
					sameDecoding(t, buf)
					var f frame
					if fast := fastFrame(buf, &f); fast != (from != "\xff\xfe") {
						t.Fatalf("frame %d %q %d with a body of %d: fastFrame %v", typ, from, kind, len(body), fast)
					}
				}
			}
		}
	}
}

// Encodings appendFrame never writes (longer heads than needed, other
// item types, other lengths, data after the frame, indefinite lengths)
// are the library's to decode or refuse, as before.
func TestDecodeFrameOfOtherEncodings(t *testing.T) {
	for _, buf := range [][]byte{
		{0x84, 0x18, 0x02, 0x60, 0x00, 0x41, 0x61},             // type in a longer head
		{0x84, 0x02, 0x60, 0x00, 0x58, 0x01, 0x61},             // body length in a longer head
		{0x84, 0x02, 0x60, 0x00, 0x41, 0x61, 0x00},             // a byte after the frame
		{0x84, 0x02, 0x60, 0x00, 0xf6, 0x00},                   // a byte after a null body
		{0x83, 0x02, 0x60, 0x00},                               // three items
		{0x85, 0x02, 0x60, 0x00, 0xf6, 0x00},                   // five items
		{0x84, 0x02, 0x60, 0x00, 0x61, 0x61},                   // body as text
		{0x84, 0x02, 0x40, 0x00, 0xf6},                         // sender as bytes
		{0x84, 0x22, 0x60, 0x00, 0xf6},                         // a negative type
		{0x84, 0x19, 0x01, 0x02, 0x60, 0x00, 0xf6},             // type over 255
		{0x84, 0x02, 0x60, 0x19, 0x01, 0x00, 0xf6},             // kind over 255
		{0x84, 0x02, 0x60, 0x00, 0x5f, 0x41, 0x61, 0xff},       // indefinite body
		{0x84, 0x02, 0x60, 0x00, 0x42, 0x61},                   // body shorter than its head
		{0x84, 0x02, 0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // sender past the end
		{0x84, 0x02, 0x60, 0x00, 0xf7},                         // undefined body
		{0x9f, 0x02, 0x60, 0x00, 0xf6, 0xff},                   // indefinite array
		{0x84, 0x02, 0x60, 0x00},                               // no body
		{},
	} {
		sameDecoding(t, buf)
	}
}

// A message frame decodes with one allocation, the frame: its body is the
// bytes it was read into, not a copy (the library made two and copied
// the body).
func TestDecodeFrameAllocatesOnlyTheFrame(t *testing.T) {
	b, _ := appendFrame(nil, &frame{Type: frameMessage, Body: bytes.Repeat([]byte{1}, 300)})
	buf := b[4:]
	var f *frame
	allocs := testing.AllocsPerRun(100, func() { f, _ = decodeFrame(buf) })
	if allocs != 1 {
		t.Errorf("decoding a message frame: %v allocations, want 1", allocs)
	}
	if &f.Body[0] != &buf[len(buf)-300] {
		t.Error("the body is a copy of the frame's bytes")
	}
}

// FuzzDecodeFrame: on any bytes, decodeFrame and the library agree.
func FuzzDecodeFrame(f *testing.F) {
	for _, fr := range []*frame{
		{Type: frameHello, From: "a", Kind: streamCall},
		{Type: frameMessage, Body: []byte("m")},
		{Type: frameError, Body: []byte{}},
	} {
		b, _ := appendFrame(nil, fr)
		f.Add(b[4:])
	}
	f.Fuzz(func(t *testing.T, buf []byte) { sameDecoding(t, buf) })
}
