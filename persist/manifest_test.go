package persist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The manifest written in pieces is the library's encoding of it, byte for
// byte, where the library's is one (at most one space: it writes a map's
// keys in Go's map order); with more spaces it decodes to the manifest.
// Either way its checksum is over what precedes it.
func TestManifestPartsMatchLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		m := randomManifest(rng)
		var file []byte
		parts, err := manifestParts(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			file = append(file, p...)
		}
		body, sum := file[:len(file)-4], binary.LittleEndian.Uint32(file[len(file)-4:])
		if got := crc32.Checksum(body, castagnoli); got != sum {
			t.Fatalf("manifest %d: checksum %08x, body's %08x", i, sum, got)
		}
		if len(m.Spaces) <= 1 {
			want, err := cbor.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, want) {
				t.Fatalf("manifest %d (%d spaces):\n got %x\nwant %x", i, len(m.Spaces), body, want)
			}
		}
		var back Manifest
		if err := cbor.Unmarshal(body, &back); err != nil {
			t.Fatalf("manifest %d: %v", i, err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("manifest %d: decodes to %+v, want %+v", i, back, m)
		}
	}
}

func randomManifest(rng *rand.Rand) Manifest {
	var m Manifest
	if rng.IntN(4) > 0 {
		m.Stripes = make([][]SegmentEnd, rng.IntN(4))
		for i := range m.Stripes {
			for range rng.IntN(3) {
				m.Stripes[i] = append(m.Stripes[i], SegmentEnd{Name: stripeSegment(rng.Uint64N(1 << 20)), Size: rng.Int64N(1 << 40)})
			}
		}
	}
	if rng.IntN(6) > 0 {
		m.Spaces = map[string][]byte{}
		for range rng.IntN(4) {
			// Sizes on both sides of every head length and of the
			// size written as a piece of its own.
			sizes := []int{0, 1, 23, 24, 255, 256, 4095, 4096, 65535, 65536, 70000}
			v := make([]byte, sizes[rng.IntN(len(sizes))])
			if rng.IntN(10) == 0 {
				v = nil // what a checkpoint passes to remove a space
			}
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			m.Spaces[fmt.Sprintf("heap-%d\x00%016x\x00%d", rng.IntN(1000), rng.Uint64(), rng.IntN(30))] = v
		}
	}
	m.Gen = []uint64{0, 23, 24, 1 << 16, 1 << 33, rng.Uint64()}[rng.IntN(6)]
	return m
}
