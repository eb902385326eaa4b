package transport

import "testing"

// BenchmarkAppendFrame encodes the frames a node sends most: a message of
// a few hundred bytes (heads of one and two bytes), and a hello (a text
// string).
func BenchmarkAppendFrame(b *testing.B) {
	for _, c := range []struct {
		name string
		f    frame
	}{
		{"message", frame{Type: frameMessage, Body: make([]byte, 300)}},
		{"hello", frame{Type: frameHello, From: "node-7.example:4242", Kind: streamMessages}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var dst []byte
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = appendFrame(dst[:0], &c.f)
			}
		})
	}
}
