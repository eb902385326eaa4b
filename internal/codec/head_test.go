package codec

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// headBoundaries are the arguments at which the head's form changes, and
// either side of them.
var headBoundaries = []uint64{
	0, 1, 23, 24, 255, 256, 65535, 65536,
	math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64,
}

// materialMax is the largest length for which the test builds a whole
// string, array or map for the library to encode.
const materialMax = 65536

// libraryItem returns a value of major type major (2 to 5) and length n
// for the library to encode.
func libraryItem(major byte, n uint64) any {
	switch major {
	case 2:
		return make([]byte, n)
	case 3:
		return strings.Repeat("a", int(n))
	case 4:
		return make([]bool, n)
	case 5:
		m := make(map[uint32]bool, n)
		for i := range uint32(n) {
			m[i] = true
		}
		return m
	}
	panic(fmt.Sprint("codec: no item of major type ", major))
}

// TestAppendHeadMatchesLibrary checks AppendHead against the library's
// deterministic encoding at every boundary of the head's form: unsigned
// integers themselves; the heads of byte strings, text strings, arrays and
// maps as long as the boundary, up to 65536 (the library encodes the whole
// item, of which the head is the prefix); above that, where no item can be
// built, the library's unsigned integer of the same argument with the
// major type changed, the argument being encoded alike for every major.
func TestAppendHeadMatchesLibrary(t *testing.T) {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte{0xde, 0xad}
	for _, major := range []byte{0, 2, 3, 4, 5} {
		for _, n := range headBoundaries {
			want, err := em.Marshal(n)
			if err != nil {
				t.Fatal(err)
			}
			want[0] = major<<5 | want[0]&0x1f
			if major != 0 && n <= materialMax {
				enc, err := em.Marshal(libraryItem(major, n))
				if err != nil {
					t.Fatal(err)
				}
				want = enc[:len(want)]
			}
			got := AppendHead(bytes.Clone(prefix), major, n)
			if !bytes.Equal(got[:len(prefix)], prefix) {
				t.Fatalf("major %d, %d: prefix overwritten: % x", major, n, got)
			}
			if !bytes.Equal(got[len(prefix):], want) {
				t.Errorf("major %d, %d: head % x, library % x", major, n, got[len(prefix):], want)
			}
		}
	}
}
