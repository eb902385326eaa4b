package codec

import (
	"testing"

	"github.com/google/uuid"
)

type benchRef struct{ ID uuid.UUID }

func (r benchRef) MarshalCBOR() ([]byte, error) { return Marshal(r.ID[:]) }

func (r *benchRef) UnmarshalCBOR(b []byte) error {
	var s []byte
	if err := Unmarshal(b, &s); err != nil {
		return err
	}
	copy(r.ID[:], s)
	return nil
}

type benchAvatar struct {
	Name    string
	Colour  string
	X, Y    float64
	Heading float64
	Holding benchRef
	Said    string
}

type benchPlain struct {
	A, B, C int64
	D       []byte
}

// BenchmarkMarshalValue measures what Put's checks cost beside the
// encoding they check (encode: the encoding and its well-formedness
// check alone), for a value of numbers, one with text and a reference
// (whose own MarshalCBOR makes MarshalValue decode it), and a document
// held in interfaces.
func BenchmarkMarshalValue(b *testing.B) {
	plain := benchPlain{1, 2, 3, make([]byte, 100)}
	avatar := benchAvatar{Name: "ada", Colour: "#ff8800", X: 1.5, Y: 2.5, Heading: 0.25, Holding: benchRef{uuid.New()}, Said: "hello, world"}
	doc := map[string]any{"name": "ada", "tags": []any{"a", "b"}, "n": 3}
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	encode := func(v any) func() error {
		return func() error {
			data, err := enc.Marshal(v)
			if err == nil {
				err = dec.Wellformed(data)
			}
			return err
		}
	}
	run("plain/encode", encode(plain))
	run("plain/MarshalValue", func() error { _, err := MarshalValue(plain); return err })
	run("avatar/encode", encode(avatar))
	run("avatar/MarshalValue", func() error { _, err := MarshalValue(avatar); return err })
	run("doc/encode", encode(doc))
	run("doc/MarshalValue", func() error { _, err := MarshalValue(doc); return err })
}
