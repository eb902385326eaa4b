package persist

import (
	"fmt"
	"testing"
)

// BenchmarkManifestParts encodes a manifest of 200 spaces, each with a
// few hundred bytes of metadata, as every checkpoint writes one.
func BenchmarkManifestParts(b *testing.B) {
	m := Manifest{Gen: 1 << 20, Spaces: map[string][]byte{}}
	for i := range 200 {
		m.Spaces[fmt.Sprintf("heap-%d\x00%016x\x00%d", i, i*7919, i%3)] = make([]byte, 100+i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := manifestParts(m); err != nil {
			b.Fatal(err)
		}
	}
}
