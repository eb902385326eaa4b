package transport

import (
	"bufio"
	"bytes"
	"testing"
)

// frameStream is frames as a stream carries them, each with its length
// prefix: fast-path frames, one only the library decodes (a type in a
// longer head, with a sender), then fast-path frames again.
func frameStream(t testing.TB) ([]byte, []frame) {
	fs := []frame{
		{Type: frameHello, From: "node-1", Kind: streamMessages},
		{Type: frameMessage, Body: []byte("first")},
		{Type: frameMessage, Body: nil},
		{Type: frameMessage, Body: []byte{}},
		{Type: frameResponse, From: "other", Kind: streamCall, Body: []byte("by the library")},
		{Type: frameMessage, Body: bytes.Repeat([]byte{7}, 300)},
	}
	var stream []byte
	for i := range fs {
		b, _ := appendFrame(nil, &fs[i])
		if fs[i].Type == frameResponse {
			// The type in a two-byte head: fastFrame refuses it, the
			// library decodes it.
			body := append([]byte{0x84, 0x18, frameResponse}, b[6:]...)
			var f frame
			if fastFrame(body, &f) {
				t.Fatal("the longer head took the fast path")
			}
			b = append([]byte{0, 0, 0, byte(len(body))}, body...)
		}
		stream = append(stream, b...)
	}
	return stream, fs
}

// Frames read one after the other into one frameIn are the frames
// readFrame reads one by one: whatever path decoded the one before, no
// field of it is left in the next (a library-decoded frame with a sender
// and kind, then message frames without).
func TestFrameInReadsEachFrameWhole(t *testing.T) {
	stream, want := frameStream(t)
	r := bufio.NewReader(bytes.NewReader(stream))
	one := bytes.NewReader(stream)
	var fi frameIn
	for i, w := range want {
		got, err := fi.read(r, DefaultMaxFrame, nil)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		alone, err := readFrame(one, DefaultMaxFrame)
		if err != nil {
			t.Fatalf("frame %d alone: %v", i, err)
		}
		for _, f := range []*frame{got, alone} {
			if f.Type != w.Type || f.From != w.From || f.Kind != w.Kind ||
				!bytes.Equal(f.Body, w.Body) || (f.Body == nil) != (w.Body == nil) {
				t.Fatalf("frame %d: read %+v, want %+v", i, f, w)
			}
		}
	}
	if _, err := fi.read(r, DefaultMaxFrame, nil); err == nil {
		t.Fatal("a read past the last frame did not fail")
	}
}

// A stream's message frames read into one frameIn allocate their buffer
// and nothing else: the length prefix and the frame were one allocation
// each a frame before.
func TestFrameInAllocatesOnlyTheBuffer(t *testing.T) {
	b, _ := appendFrame(nil, &frame{Type: frameMessage, Body: bytes.Repeat([]byte{1}, 300)})
	src := bytes.NewReader(b)
	r := bufio.NewReader(src)
	fi := new(frameIn)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(b)
		r.Reset(src)
		if _, err := fi.read(r, DefaultMaxFrame, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Errorf("reading a message frame: %v allocations, want 1", allocs)
	}
}

// BenchmarkReadMessageFrame reads a message frame of 300 bytes as a
// message stream does (serveMessages: one frameIn for the stream) and as
// a lone read does (readFrame).
func BenchmarkReadMessageFrame(b *testing.B) {
	buf, _ := appendFrame(nil, &frame{Type: frameMessage, Body: make([]byte, 300)})
	src := bytes.NewReader(buf)
	r := bufio.NewReader(src)
	b.Run("stream", func(b *testing.B) {
		var fi frameIn
		b.ReportAllocs()
		for b.Loop() {
			src.Reset(buf)
			r.Reset(src)
			if _, err := fi.read(r, DefaultMaxFrame, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("alone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			src.Reset(buf)
			r.Reset(src)
			if _, err := readFrame(r, DefaultMaxFrame); err != nil {
				b.Fatal(err)
			}
		}
	})
}
