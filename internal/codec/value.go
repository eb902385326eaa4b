package codec

import (
	"encoding"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// ErrTooDeep is the error of MarshalValue for a value that nests deeper
// than Unmarshal accepts, a cyclic value included.
var ErrTooDeep = fmt.Errorf("value nests deeper than %d levels of arrays, maps and structs, the most a stored value may (is it cyclic?)", MaxNestedLevels)

// maxHops bounds the pointers and interfaces followed in a row without
// entering an array, map or struct: only a cycle of them goes further.
const maxHops = 64

// ErrInvalidText is the error of MarshalValue for a string that is not
// UTF-8: CBOR's text strings must be, and Unmarshal refuses one that is
// not.
var ErrInvalidText = errors.New("a string is not valid UTF-8, as a CBOR text string must be (keep such bytes in a []byte)")

// MarshalValue encodes v as Marshal does (but a time.Time as RFC 3339
// text, to the nanosecond), and refuses what Unmarshal
// would refuse to decode into a T: a value nested deeper than
// MaxNestedLevels, an array or map of more than MaxElements, a map whose
// keys encode alike (int(1) and int64(1) in a map[any]T), a string that
// is not UTF-8, and what a T cannot hold as decoded (a map keyed by
// arrays held in an interface, which decodes as map[any]any; anything
// put as an error). A stored value is thus always readable by the type it
// was written as. What a type's own MarshalCBOR method writes is checked
// for well-formedness and UTF-8, not decoded. A cyclic value, which the encoder would follow until
// the stack overflows, fails with ErrTooDeep before it is encoded.
func MarshalValue[T any](v T) ([]byte, error) {
	av := any(v)
	info := typeInfoOf(reflect.TypeOf(av))
	if info.walk {
		if err := checkNesting(reflect.ValueOf(av), 0, 0); err != nil {
			return nil, err
		}
	}
	data, err := valueEnc.Marshal(av)
	if err != nil {
		return nil, err
	}
	if err := dec.Wellformed(data); err != nil {
		return nil, fmt.Errorf("encoded, it would not decode: %w", err)
	}
	read := info // T, unless T is an interface: v's type then
	if reflect.TypeFor[T]().Kind() == reflect.Interface {
		read = valueType{text: true, decode: true}
	}
	if read.text || read.decode {
		if err := checkText(data); err != nil {
			return nil, err
		}
	}
	if read.decode {
		// What the value holds is not known from its type (an
		// interface) or its keys may collide: decode it as Get will.
		var out T
		if err := dec.Unmarshal(data, &out); err != nil {
			return nil, fmt.Errorf("encoded, it would not decode: %w", err)
		}
	}
	return data, nil
}

// RawLen returns the length of v if it is a string or a slice of bytes,
// of any named type the encoder writes as a CBOR string (one without a
// marshaling method of its own): a lower bound of its encoding, known
// without encoding it. It returns 0 for any other value.
func RawLen(v any) int {
	switch x := v.(type) {
	case []byte:
		return len(x)
	case string:
		return len(x)
	case nil:
		return 0
	}
	rv := reflect.ValueOf(v)
	t := rv.Type()
	switch {
	case leaf(t):
		return 0
	case t.Kind() == reflect.String, t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return rv.Len()
	}
	return 0
}

// checkText returns ErrInvalidText if a text string in data, well formed
// and of definite lengths, is not UTF-8. Items follow each other in
// order, an array's, map's or tag's contents after its head, so a scan
// of the heads in a row visits every string.
func checkText(data []byte) error {
	for off := 0; off < len(data); {
		major, ai := data[off]>>5, data[off]&0x1f
		off++
		var n uint64
		switch {
		case ai < 24:
			n = uint64(ai)
		case ai <= 27:
			k := 1 << (ai - 24)
			if off+k > len(data) {
				return io.ErrUnexpectedEOF
			}
			for _, b := range data[off : off+k] {
				n = n<<8 | uint64(b)
			}
			off += k
		default:
			return fmt.Errorf("cbor: additional information %d is not allowed here", ai)
		}
		if major != 2 && major != 3 {
			continue
		}
		if n > uint64(len(data)-off) {
			return io.ErrUnexpectedEOF
		}
		if major == 3 && !utf8.Valid(data[off:off+int(n)]) {
			return ErrInvalidText
		}
		off += int(n)
	}
	return nil
}

// valueType says how much checking a type's values need before and
// after they are encoded.
type valueType struct {
	// walk: a value may nest deeper than MaxNestedLevels, or be cyclic
	// (the type is recursive, or holds an interface).
	walk bool
	// text: a value may hold a text string (a string, or what a
	// MarshalCBOR method writes).
	text bool
	// decode: a value must be decoded to be known readable as the type:
	// the type is or holds an interface, or a map whose keys are.
	decode bool
}

var valueTypes sync.Map // reflect.Type -> valueType

func typeInfoOf(t reflect.Type) valueType {
	if t == nil {
		return valueType{}
	}
	if vt, ok := valueTypes.Load(t); ok {
		return vt.(valueType)
	}
	s := typeScan{seen: map[reflect.Type]bool{}}
	depth := s.depth(t)
	vt := valueType{walk: depth > MaxNestedLevels, text: s.text, decode: s.decode}
	valueTypes.Store(t, vt)
	return vt
}

// typeScan bounds the nesting of a type's values from the type alone.
type typeScan struct {
	seen   map[reflect.Type]bool // types on the path being scanned
	text   bool
	decode bool
}

// unbounded is the depth of a type whose values may nest without bound.
const unbounded = MaxNestedLevels + 1

var (
	typeMarshaler       = reflect.TypeFor[cbor.Marshaler]()
	typeBinaryMarshaler = reflect.TypeFor[encoding.BinaryMarshaler]()
)

// leaf reports whether the encoder hands values of t to their own
// marshaling method, whose output it checks itself.
func leaf(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(typeMarshaler) || p.Implements(typeBinaryMarshaler)
}

// depth returns an upper bound of the arrays, maps and structs that
// nest in a value of t, unbounded for a recursive type or an interface.
func (s *typeScan) depth(t reflect.Type) int {
	if s.seen[t] {
		return unbounded
	}
	if leaf(t) {
		if reflect.PointerTo(t).Implements(typeMarshaler) {
			s.text = true
		}
		return 0
	}
	s.seen[t] = true
	defer delete(s.seen, t)
	d := 0
	switch t.Kind() {
	case reflect.Interface:
		s.decode = true
		return unbounded
	case reflect.String:
		s.text = true
		return 0
	case reflect.Pointer:
		return s.depth(t.Elem())
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return 0
		}
		d = s.depth(t.Elem())
	case reflect.Map:
		if t.Key().Kind() == reflect.Interface {
			s.decode = true
		}
		d = max(s.depth(t.Key()), s.depth(t.Elem()))
	case reflect.Struct:
		for i := range t.NumField() {
			d = max(d, s.depth(t.Field(i).Type))
		}
	default:
		return 0
	}
	return min(d+1, unbounded)
}

// checkNesting walks v as the encoder will, and fails with ErrTooDeep
// once it is deeper than MaxNestedLevels or follows more than maxHops
// pointers in a row. depth is the arrays, maps and structs around v.
// It never counts more levels than the encoder writes: MarshalValue
// checks the encoded value exactly afterwards.
func checkNesting(v reflect.Value, depth, hops int) error {
	if hops > maxHops {
		return ErrTooDeep
	}
	if !v.IsValid() || leaf(v.Type()) {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkNesting(v.Elem(), depth, hops+1)
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Struct:
	default:
		return nil
	}
	if depth >= MaxNestedLevels {
		return ErrTooDeep
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i := range v.Len() {
			if err := checkNesting(v.Index(i), depth+1, 0); err != nil {
				return err
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if err := checkNesting(it.Key(), depth+1, 0); err != nil {
				return err
			}
			if err := checkNesting(it.Value(), depth+1, 0); err != nil {
				return err
			}
		}
	case reflect.Struct:
		return checkFields(v, depth, map[reflect.Type]bool{})
	}
	return nil
}

// checkFields walks the fields of the struct v that the encoder writes.
// An embedded struct's fields are written among v's own, at v's level,
// except those of a struct type already flattened into v (the encoder
// does not follow an embedded pointer to itself). flat holds those.
func checkFields(v reflect.Value, depth int, flat map[reflect.Type]bool) error {
	t := v.Type()
	flat[t] = true
	defer delete(flat, t)
	for i := range t.NumField() {
		f := t.Field(i)
		if skipField(f) {
			continue
		}
		fv := v.Field(i)
		if flattened(f) {
			for fv.Kind() == reflect.Pointer && !fv.IsNil() && !leaf(fv.Type()) {
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct && !leaf(fv.Type()) {
				if flat[fv.Type()] {
					continue
				}
				if err := checkFields(fv, depth, flat); err != nil {
					return err
				}
				continue
			}
		}
		if err := checkNesting(fv, depth+1, 0); err != nil {
			return err
		}
	}
	return nil
}

// fieldTag is f's tag as the encoder reads it: cbor's, else json's.
func fieldTag(f reflect.StructField) string {
	if tag := f.Tag.Get("cbor"); tag != "" {
		return tag
	}
	return f.Tag.Get("json")
}

// skipField reports whether the encoder leaves f out: a field tagged
// "-", or an unexported one that is not embedded (the exported fields of
// an embedded one are written).
func skipField(f reflect.StructField) bool {
	return fieldTag(f) == "-" || !f.Anonymous && !f.IsExported()
}

// flattened reports whether the encoder writes the fields of the
// embedded field f among those of the struct around it: an embedded
// struct, or pointer to one, that its tag gives no name.
func flattened(f reflect.StructField) bool {
	name, _, _ := strings.Cut(fieldTag(f), ",")
	return f.Anonymous && name == ""
}
