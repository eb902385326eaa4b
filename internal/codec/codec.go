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
)

func init() {
	var err error
	enc, err = cbor.CoreDetEncOptions().EncMode()
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
