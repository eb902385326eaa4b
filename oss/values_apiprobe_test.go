package oss_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// Values at the edges, written on one node of three and read on another:
// nil and empty slices and maps read back as they were written, a nil
// pointer as the zero value, and a value as large as a commit record
// allows commits and replicates; one byte over MaxCommitBytes is refused
// by Put, unencoded, and one whose record is over it by Commit, with
// nothing written.
func TestAPIProbeValuesAtTheEdges(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	const frame = 64 << 10
	c := osstest.Start(t, 3, &osstest.Options{Configure: func(_ string, cfg *oss.Config) {
		cfg.Logger = quietLogger()
		cfg.MaxFrameBytes = frame
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h1, h3 := c.Heap("n1", "kv"), c.Heap("n3", "kv")
	max := frame - 512
	ids := make([]uuid.UUID, 6)
	for i := range ids {
		ids[i] = uuid.New()
	}
	big := bytes.Repeat([]byte{7}, max-200)
	err := h1.Update(ctx, func(tx *oss.Tx) error {
		return errors.Join(
			oss.Put(tx, ids[0], []byte(nil)),
			oss.Put(tx, ids[1], []byte{}),
			oss.Put(tx, ids[2], map[string]int(nil)),
			oss.Put(tx, ids[3], map[string]int{}),
			oss.Put(tx, ids[4], (*int)(nil)),
			oss.Put(tx, ids[5], ""),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h1.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, ids[0], big) }); err != nil {
		t.Fatalf("a value %d bytes under MaxCommitBytes: %v", max-len(big), err)
	}
	var tle *oss.TooLargeError
	err = h1.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, ids[1], strings.Repeat("x", max+1)) })
	if !errors.As(err, &tle) || !tle.Value || tle.Max != max {
		t.Errorf("Put of a string one byte over MaxCommitBytes: %v, want a *TooLargeError of the value", err)
	}
	err = h1.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, ids[1], strings.Repeat("x", max)) })
	if !errors.As(err, &tle) || tle.Value || tle.Size <= max {
		t.Errorf("a commit record over MaxCommitBytes: %v, want a *TooLargeError of the record", err)
	}
	c.WaitConverged("kv")
	h3.View(ctx, func(tx *oss.Tx) error {
		if v, err := oss.Get[[]byte](tx, ids[0]); err != nil || !bytes.Equal(v, big) {
			t.Errorf("the large value on n3: %d bytes, %v", len(v), err)
		}
		if v, err := oss.Get[[]byte](tx, ids[1]); err != nil || v == nil || len(v) != 0 {
			t.Errorf("an empty slice on n3: %#v, %v; want []byte{}", v, err)
		}
		if v, err := oss.Get[map[string]int](tx, ids[2]); err != nil || v != nil {
			t.Errorf("a nil map on n3: %#v, %v; want nil", v, err)
		}
		if v, err := oss.Get[map[string]int](tx, ids[3]); err != nil || v == nil || len(v) != 0 {
			t.Errorf("an empty map on n3: %#v, %v; want an empty map", v, err)
		}
		if v, err := oss.Get[int](tx, ids[4]); err != nil || v != 0 {
			t.Errorf("a nil pointer read as an int on n3: %v, %v; want 0", v, err)
		}
		if v, err := oss.Get[string](tx, ids[5]); err != nil || v != "" {
			t.Errorf("an empty string on n3: %q, %v", v, err)
		}
		return nil
	}, nil)
}
