package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := []*frame{
		{Type: frameHello, From: "node-1", Kind: streamMessages},
		{Type: frameMessage, Body: []byte("raft")},
		{Type: frameResponse},
	}
	for _, f := range in {
		if err := writeFrame(&buf, f, DefaultMaxFrame); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(&buf)
	for _, want := range in {
		got, err := readFrame(r, DefaultMaxFrame)
		if err != nil || got.Type != want.Type || got.From != want.From || got.Kind != want.Kind || !bytes.Equal(got.Body, want.Body) {
			t.Fatalf("read %+v %v, want %+v", got, err, want)
		}
	}
}

func TestFrameLimits(t *testing.T) {
	if err := writeFrame(&bytes.Buffer{}, &frame{Type: frameMessage, Body: make([]byte, 100)}, 50); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized write: %v", err)
	}
	for name, c := range map[string]struct {
		data []byte
		want error
	}{
		"oversized prefix": {[]byte{0x7f, 0xff, 0xff, 0xff}, ErrTooLarge},
		"truncated":        {[]byte{0, 0, 0, 9, 0x84, 0x02}, ErrMalformedFrame},
		"unknown type":     {[]byte{0, 0, 0, 5, 0x84, 0x09, 0x60, 0x00, 0x40}, ErrMalformedFrame},
		"deep nesting":     {[]byte{0, 0, 0, 6, 0x81, 0x81, 0x81, 0x81, 0x81, 0x80}, ErrMalformedFrame},
		"indefinite":       {[]byte{0, 0, 0, 2, 0x9f, 0xff}, ErrMalformedFrame},
		"tag":              {[]byte{0, 0, 0, 3, 0xc1, 0x81, 0x02}, ErrMalformedFrame},
		"not an array":     {[]byte{0, 0, 0, 1, 0x02}, ErrMalformedFrame},
	} {
		_, err := readFrame(bufio.NewReader(bytes.NewReader(c.data)), 1024)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// FuzzReadFrame: no input panics or allocates beyond the frame cap, and a
// frame that decodes encodes back to bytes that decode the same.
func FuzzReadFrame(f *testing.F) {
	for _, fr := range []*frame{
		{Type: frameHello, From: "a", Kind: streamCall},
		{Type: frameRequest, Body: []byte("req")},
		{Type: frameError, Body: []byte("no")},
	} {
		b, _ := appendFrame(nil, fr)
		f.Add(b)
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := readFrame(bufio.NewReader(bytes.NewReader(data)), 4096)
		if err != nil {
			return
		}
		b, err := appendFrame(nil, fr)
		if err != nil {
			t.Fatal(err)
		}
		if want := libFrame(t, fr); !bytes.Equal(b, want) {
			t.Fatalf("appendFrame wrote % x, the library % x", b, want)
		}
		again, err := readFrame(bufio.NewReader(bytes.NewReader(b)), 4096)
		if err != nil || again.Type != fr.Type || again.From != fr.From || !bytes.Equal(again.Body, fr.Body) {
			t.Fatalf("re-encoded frame differs: %+v %v", again, err)
		}
	})
}

// libFrame is what appendFrame wrote before it had an encoder of its own:
// the library's encoding, after its length.
func libFrame(t testing.TB, f *frame) []byte {
	t.Helper()
	body, err := frameEnc.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// TestAppendFrameMatchesLibrary: for frames of every type and head size,
// nil and empty bodies, and senders that are not UTF-8, appendFrame
// writes what the library writes, after what dst already holds.
func TestAppendFrameMatchesLibrary(t *testing.T) {
	sizes := []int{0, 1, 23, 24, 255, 256, 65535, 65536}
	var bodies [][]byte
	bodies = append(bodies, nil)
	for _, n := range sizes {
		bodies = append(bodies, bytes.Repeat([]byte{0xa5}, n))
	}
	froms := []string{"", "node-1", "\xff\xfe", strings.Repeat("n", 24), strings.Repeat("n", 256)}
	for _, typ := range []uint8{0, frameHello, frameMessage, frameError, 23, 24, 255} {
		for _, kind := range []uint8{0, streamMessages, streamBulk, 24, 255} {
			for _, from := range froms {
				for _, body := range bodies {
					f := &frame{Type: typ, From: from, Kind: kind, Body: body}
					got, err := appendFrame([]byte("dst"), f)
					if err != nil {
						t.Fatal(err)
					}
					if want := append([]byte("dst"), libFrame(t, f)...); !bytes.Equal(got, want) {
						t.Fatalf("frame %d %q %d with a body of %d: % x, the library % x", typ, from, kind, len(body), got[:min(len(got), 40)], want[:min(len(want), 40)])
					}
				}
			}
		}
	}
}
