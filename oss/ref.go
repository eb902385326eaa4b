package oss

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/codec"
)

// Ref is a typed reference to an object holding a T. Objects refer to each
// other by Ref; a Ref encodes as the object's 16-byte ID.
type Ref[T any] struct {
	ID uuid.UUID
}

// RefTo returns a reference to the object with the given ID.
func RefTo[T any](id uuid.UUID) Ref[T] { return Ref[T]{ID: id} }

// IsZero reports whether the reference points nowhere.
func (r Ref[T]) IsZero() bool { return r.ID == uuid.Nil }

// Get reads the referenced object; see the function Get.
func (r Ref[T]) Get(tx *Tx) (T, error) { return Get[T](tx, r.ID) }

// Put sets the referenced object; see the function Put.
func (r Ref[T]) Put(tx *Tx, v T) error { return Put(tx, r.ID, v) }

// String returns the object's ID.
func (r Ref[T]) String() string { return r.ID.String() }

// MarshalCBOR encodes the reference as a byte string holding the ID.
func (r Ref[T]) MarshalCBOR() ([]byte, error) {
	return codec.Marshal(r.ID[:])
}

// UnmarshalCBOR decodes a reference encoded by MarshalCBOR. A CBOR null
// (or undefined) is the zero Ref, as null is any type's zero value.
func (r *Ref[T]) UnmarshalCBOR(data []byte) error {
	if len(data) == 1 && (data[0] == 0xf6 || data[0] == 0xf7) {
		*r = Ref[T]{}
		return nil
	}
	var b []byte
	if err := codec.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("oss: ref: %w", err)
	}
	if len(b) != 16 {
		return fmt.Errorf("oss: ref: %d bytes, want 16", len(b))
	}
	copy(r.ID[:], b)
	return nil
}

var (
	_ cbor.Marshaler   = Ref[int]{}
	_ cbor.Unmarshaler = (*Ref[int])(nil)
)
