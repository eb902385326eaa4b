// Package codec holds the CBOR modes shared by OSS packages: deterministic
// encoding, and decoding with explicit limits so that no input can make a
// decoder allocate without bound.
package codec

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Decoding limits for values.
const (
	MaxNestedLevels = 32
	MaxElements     = 1 << 22
)

var (
	enc cbor.EncMode
	dec cbor.DecMode
	// valueEnc encodes the values of objects (MarshalValue): enc's
	// deterministic encoding, but a time.Time as RFC 3339 text with its
	// nanoseconds and zone offset, as encoding/json writes it, where
	// enc writes whole seconds since 1970 and the decoder reads them back
	// in time.Local. Both decode either form.
	valueEnc cbor.EncMode
)

func init() {
	var err error
	opts := cbor.CoreDetEncOptions()
	enc, err = opts.EncMode()
	if err != nil {
		panic(fmt.Sprintf("codec: %v", err))
	}
	opts.Time = cbor.TimeRFC3339Nano
	valueEnc, err = opts.EncMode()
	if err != nil {
		panic(fmt.Sprintf("codec: %v", err))
	}
	dec, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsAllowed,
		MaxNestedLevels:  MaxNestedLevels,
		MaxArrayElements: MaxElements,
		MaxMapPairs:      MaxElements,
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("codec: %v", err))
	}
}

// Marshal encodes v in deterministic CBOR.
func Marshal(v any) ([]byte, error) { return enc.Marshal(v) }

// Unmarshal decodes data into v, enforcing the decoding limits.
func Unmarshal(data []byte, v any) error { return dec.Unmarshal(data, v) }
