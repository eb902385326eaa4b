package scene

import (
	"errors"
	"math"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// The avatar is the object read most: by every move (its own), by the
// step of a bot that decides the next one, by every watch that follows
// it and by every snapshot that finds it changed. Decoding structs by
// reflection, each Ref in them by a nested call of the CBOR library, was
// a seventh of a 1,000-bot benchmark's CPU, and the avatar is the struct
// decoded most, so it has a decoder of its own for the encoding the library writes (a map of
// integer keys; text, unsigned integers, 16-byte strings, floats of 16,
// 32 or 64 bits, a Vec as a map of two floats). Anything else, from a
// key it does not know to a malformed item, goes to the library's
// decoder, which decides as it always did.

// avatarFields is avatarObj without its methods: what the CBOR library
// decodes by reflection.
type avatarFields avatarObj

// avatarDec decodes as the heap's codec does (oss/internal/codec):
// duplicate keys and indefinite lengths are errors.
var avatarDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:   cbor.DupMapKeyEnforcedAPF,
		IndefLength: cbor.IndefLengthForbidden,
		TagsMd:      cbor.TagsAllowed,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// UnmarshalCBOR decodes an avatar.
func (a *avatarObj) UnmarshalCBOR(b []byte) error {
	if decodeAvatar(b, a) == nil {
		return nil
	}
	*a = avatarObj{}
	return avatarDec.Unmarshal(b, (*avatarFields)(a))
}

var _ cbor.Unmarshaler = (*avatarObj)(nil)

// errSlowPath sends an avatar to the library's decoder.
var errSlowPath = errors.New("scene: not an avatar's usual encoding")

// cborReader reads CBOR items from a byte slice.
type cborReader struct {
	b []byte
}

// head reads an item's major type and argument.
func (r *cborReader) head() (major byte, arg uint64, err error) {
	if len(r.b) == 0 {
		return 0, 0, errSlowPath
	}
	major, ai := r.b[0]>>5, r.b[0]&0x1f
	r.b = r.b[1:]
	n := 0
	switch {
	case ai < 24:
		return major, uint64(ai), nil
	case ai == 24:
		n = 1
	case ai == 25:
		n = 2
	case ai == 26:
		n = 4
	case ai == 27:
		n = 8
	default:
		return 0, 0, errSlowPath
	}
	if len(r.b) < n {
		return 0, 0, errSlowPath
	}
	for _, c := range r.b[:n] {
		arg = arg<<8 | uint64(c)
	}
	r.b = r.b[n:]
	return major, arg, nil
}

func (r *cborReader) uint() (uint64, error) {
	major, arg, err := r.head()
	if err != nil || major != 0 {
		return 0, errSlowPath
	}
	return arg, nil
}

// bytes reads a byte or text string of the given major type.
func (r *cborReader) bytes(want byte) ([]byte, error) {
	major, n, err := r.head()
	if err != nil || major != want || n > uint64(len(r.b)) {
		return nil, errSlowPath
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s, nil
}

func (r *cborReader) text() (string, error) {
	s, err := r.bytes(3)
	if err != nil || !utf8.Valid(s) {
		return "", errSlowPath
	}
	return string(s), nil
}

func (r *cborReader) id(dst []byte) error {
	s, err := r.bytes(2)
	if err != nil || len(s) != 16 {
		return errSlowPath
	}
	copy(dst, s)
	return nil
}

func (r *cborReader) float() (float64, error) {
	if len(r.b) == 0 {
		return 0, errSlowPath
	}
	ai := r.b[0] & 0x1f
	major, arg, err := r.head()
	if err != nil || major != 7 {
		return 0, errSlowPath
	}
	switch ai {
	case 25:
		return float16(uint16(arg)), nil
	case 26:
		return float64(math.Float32frombits(uint32(arg))), nil
	case 27:
		return math.Float64frombits(arg), nil
	}
	return 0, errSlowPath
}

// float16 returns the value of an IEEE 754 half-precision float.
func float16(h uint16) float64 {
	exp, mant := int(h>>10&0x1f), float64(h&0x3ff)
	var v float64
	switch exp {
	case 0:
		v = math.Ldexp(mant, -24)
	case 0x1f:
		v = math.Inf(1)
		if mant != 0 {
			v = math.NaN()
		}
	default:
		v = math.Ldexp(mant+0x400, exp-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

func (r *cborReader) vec() (Vec, error) {
	var v Vec
	major, n, err := r.head()
	if err != nil || major != 5 || n != 2 {
		return v, errSlowPath
	}
	for i := range 2 {
		k, err := r.uint()
		if err != nil || k != uint64(i+1) {
			return v, errSlowPath
		}
		f, err := r.float()
		if err != nil {
			return v, errSlowPath
		}
		if i == 0 {
			v.X = f
		} else {
			v.Y = f
		}
	}
	return v, nil
}

// decodeAvatar decodes the usual encoding of an avatar, or returns
// errSlowPath.
func decodeAvatar(b []byte, a *avatarObj) error {
	r := cborReader{b: b}
	major, n, err := r.head()
	if err != nil || major != 5 || n > 10 {
		return errSlowPath
	}
	*a = avatarObj{}
	var seen uint16
	for range n {
		k, err := r.uint()
		if err != nil || k < 1 || k > 10 || seen&(1<<k) != 0 {
			return errSlowPath
		}
		seen |= 1 << k
		switch k {
		case 1:
			a.Name, err = r.text()
		case 2:
			var c uint64
			c, err = r.uint()
			if c > math.MaxUint32 {
				err = errSlowPath
			}
			a.Color = uint32(c)
		case 3:
			err = r.id(a.Room.ID[:])
		case 4:
			a.Pos, err = r.vec()
		case 5:
			a.Heading, err = r.float()
		case 6:
			err = r.id(a.Holding.ID[:])
		case 7:
			a.Said, err = r.text()
		case 8:
			err = r.id(a.Session[:])
		case 9:
			a.Lease, err = r.uint()
		case 10:
			a.Moves, err = r.uint()
		}
		if err != nil {
			return errSlowPath
		}
	}
	if len(r.b) != 0 {
		return errSlowPath
	}
	return nil
}
