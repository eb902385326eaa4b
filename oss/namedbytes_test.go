package oss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

type blob []byte

type label string

// packed is a []byte that encodes itself, shorter than it is long.
type packed []byte

func (p packed) MarshalCBOR() ([]byte, error) { return []byte{0x41, byte(len(p))}, nil }

func (p *packed) UnmarshalCBOR(b []byte) error { *p = make(packed, int(b[1])); return nil }

// Put refuses a value of a named []byte or string type longer than
// MaxCommitBytes at once, unencoded (TooLargeError.Value), as it refuses a
// []byte or a string: such a value was encoded whole first (100 MB took
// 1.6 s and as much memory) only for the commit to refuse it. A type that
// encodes itself is measured by its encoding, which may be shorter.
func TestPutRefusesLongNamedBytesUnencoded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const max = 1 << 16
	n, err := oss.Start(ctx, &oss.Config{Logger: quietLogger(), MaxCommitBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	h, err := n.CreateHeap(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	puts := map[string]func(tx *oss.Tx) error{
		"a named []byte":        func(tx *oss.Tx) error { return oss.Put(tx, uuid.New(), blob(make([]byte, max+1))) },
		"a named string":        func(tx *oss.Tx) error { return oss.Put(tx, uuid.New(), label(make([]byte, max+1))) },
		"a named []byte as any": func(tx *oss.Tx) error { return oss.Put[any](tx, uuid.New(), blob(make([]byte, max+1))) },
	}
	for name, put := range puts {
		var putErr error
		err := h.Update(ctx, func(tx *oss.Tx) error { putErr = put(tx); return putErr })
		var tle *oss.TooLargeError
		if !errors.As(putErr, &tle) || !tle.Value || tle.Size != max+1 || !errors.Is(err, oss.ErrTooLarge) {
			t.Errorf("%s longer than MaxCommitBytes: Put %v, Update %v; want a *TooLargeError of its length, unencoded", name, putErr, err)
		}
	}
	err = h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, uuid.New(), packed(make([]byte, max+1))) })
	if err != nil {
		t.Errorf("a []byte type that encodes itself short: %v", err)
	}
}
