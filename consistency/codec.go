package consistency

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Limits applied when decoding commit records. A record that exceeds them is
// rejected as malformed; the byte size of a record is capped by the caller
// before it is proposed.
const (
	maxNestedLevels = 16
	maxElements     = 1 << 24
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(fmt.Sprintf("consistency: cbor encode mode: %v", err))
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   maxNestedLevels,
		MaxArrayElements:  maxElements,
		MaxMapPairs:       maxElements,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("consistency: cbor decode mode: %v", err))
	}
}
