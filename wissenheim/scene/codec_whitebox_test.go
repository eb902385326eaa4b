package scene

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// coreDet encodes as the heap's codec does: core deterministic CBOR,
// floats in their shortest exact form.
var coreDet = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

func randomAvatar(rng *rand.Rand) avatarObj {
	id := func() (u uuid.UUID) {
		if rng.IntN(4) > 0 {
			for i := range u {
				u[i] = byte(rng.UintN(256))
			}
		}
		return u
	}
	// Floats of every width the shortest form picks: halves, quarters,
	// float32s and float64s, and the odd ones.
	floats := []func() float64{
		func() float64 { return float64(rng.IntN(64)) / 4 },
		func() float64 { return float64(float32(rng.Float64() * 40)) },
		func() float64 { return rng.NormFloat64() * 20 },
		func() float64 { // halves' subnormals, and their neighbours
			return math.Ldexp(float64(rng.IntN(2048)-1024), -24-rng.IntN(3))
		},
		func() float64 { // floats' edges
			return []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), 1e-7, 65504, 65520, 6e-8,
				math.SmallestNonzeroFloat32, math.MaxFloat32, math.MaxFloat64, 1 << 15, 1 << 16, 0.1}[rng.IntN(15)]
		},
	}
	f := func() float64 { return floats[rng.IntN(len(floats))]() }
	names := []string{"", "ada", "a-bot-1234", "Zoë", "a name of thirty-two characters."}
	return avatarObj{
		Name: names[rng.IntN(len(names))], Color: rng.Uint32() >> (rng.UintN(4) * 8),
		Room: oss.RefTo[roomObj](id()), Pos: Vec{f(), f()}, Heading: f(),
		Holding: oss.RefTo[propObj](id()), Said: names[rng.IntN(len(names))], Session: id(),
		Lease: rng.Uint64() >> rng.UintN(64), Moves: rng.Uint64() >> rng.UintN(64),
	}
}

// decodeBoth decodes b as an avatar with its own decoder and with the
// CBOR library's, by reflection, and fails the test unless both fail or
// both give the same avatar.
func decodeBoth(t *testing.T, b []byte) {
	t.Helper()
	var fast avatarObj
	var slow avatarFields
	errFast := avatarDec.Unmarshal(b, &fast)
	errSlow := avatarDec.Unmarshal(b, &slow)
	if (errFast == nil) != (errSlow == nil) {
		t.Fatalf("% x: decoded with error %v, the library's decoder %v", b, errFast, errSlow)
	}
	// Without the library's pass (as DecodeAvatar calls it), it decodes
	// only what the library decodes.
	var direct avatarObj
	if decodeAvatar(b, &direct) == nil && (errSlow != nil || direct != avatarObj(slow) && !hasNaN(direct)) {
		t.Fatalf("% x: decoded %+v on its own, the library's decoder %+v, %v", b, direct, slow, errSlow)
	}
	if errFast != nil {
		return
	}
	// Compared encoded, so that NaNs compare equal.
	ef, err1 := coreDet.Marshal(fast)
	es, err2 := coreDet.Marshal(avatarObj(slow))
	if err1 != nil || err2 != nil || !bytes.Equal(ef, es) {
		t.Fatalf("% x: decoded %+v, the library's decoder %+v", b, fast, slow)
	}
}

// The avatar's decoder gives what the library's does, for the encodings
// the heap writes and for ones it does not: floats of other widths, keys
// it does not know, fields left out, duplicate keys, cut short.
func TestAvatarDecoderAgreesWithTheLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	wide, err := cbor.EncOptions{Sort: cbor.SortNone}.EncMode() // floats as float64, keys as declared
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		a := randomAvatar(rng)
		b, err := coreDet.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var got avatarObj
		if err := decodeAvatar(b, &got); err != nil {
			t.Fatalf("%+v: the usual encoding % x went to the library's decoder", a, b)
		}
		decodeBoth(t, b)
		w, err := wide.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		decodeBoth(t, w)
		switch i % 4 {
		case 0: // an extra key
			e, _ := coreDet.Marshal(map[int]any{1: a.Name, 4: a.Pos, 11: "later", 9: a.Lease})
			decodeBoth(t, e)
		case 1: // a duplicate key
			d := append([]byte{0xa3}, b[1:]...)
			d = append(d[:len(d):len(d)], 0x01, 0x60)
			decodeBoth(t, d)
		case 2: // cut short, or a byte changed
			decodeBoth(t, b[:rng.IntN(len(b))])
			c := bytes.Clone(b)
			c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
			decodeBoth(t, c)
		case 3: // a few fields
			e, _ := coreDet.Marshal(map[int]any{3: a.Room, 10: a.Moves})
			decodeBoth(t, e)
		}
	}
	for _, e := range [][]byte{{0xa0}, {0xf6}, {0x80}, {0xa1, 0x04, 0xa1, 0x01, 0x01}, {0xa1, 0x05, 0x01}, {0xa1, 0x02, 0x1b, 1, 0, 0, 0, 0, 0, 0, 0}} {
		decodeBoth(t, e)
	}
}

func hasNaN(a avatarObj) bool {
	return math.IsNaN(a.Pos.X) || math.IsNaN(a.Pos.Y) || math.IsNaN(a.Heading)
}

func FuzzAvatarDecoder(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 8 {
		b, err := coreDet.Marshal(randomAvatar(rng))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { decodeBoth(t, b) })
}

func BenchmarkDecodeAvatar(b *testing.B) {
	a := avatarObj{Name: "a-bot-17", Color: 0xff00ff80, Room: oss.RefTo[roomObj](uuid.New()), Pos: Vec{1.25, 3.3333},
		Heading: 0.5, Session: uuid.New(), Lease: 123456, Moves: 99}
	enc, err := coreDet.Marshal(avatarFields(a))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("own", func(b *testing.B) {
		for b.Loop() {
			var v avatarObj
			if err := avatarDec.Unmarshal(enc, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("own-raw", func(b *testing.B) { // as DecodeAvatar does
		for b.Loop() {
			var v avatarObj
			if err := decodeAvatar(enc, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reflection", func(b *testing.B) {
		for b.Loop() {
			var v avatarFields
			if err := avatarDec.Unmarshal(enc, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
