package oss_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

type namedText struct {
	Name string
	Tags map[string]int
}

type holdsAny struct{ X any }

type pairKeyed struct{ M map[[2]int]int }

// A value case: how to Put it (with its type parameter, as the caller
// wrote it) and how to Get it back as that type.
type valueCase struct {
	name string
	put  func(tx *oss.Tx, id uuid.UUID) error
	get  func(tx *oss.Tx, id uuid.UUID) (any, error)
}

func caseOf[T any](name string, v T) valueCase {
	return valueCase{
		name: name,
		put:  func(tx *oss.Tx, id uuid.UUID) error { return oss.Put[T](tx, id, v) },
		get:  func(tx *oss.Tx, id uuid.UUID) (any, error) { return oss.Get[T](tx, id) },
	}
}

// Put refuses, with an *EncodeError, every value that Get of the type it
// was put as could not decode, so no object is ever committed that its
// readers fail on: a string that is not UTF-8 (a CBOR text string must
// be; Go's need not), in a struct field or a map key too; a map whose
// keys are arrays held in an interface (decoded into map[any]any, whose
// keys cannot be slices); a value put as an interface that cannot hold
// what it decodes to. Such values used to commit and then fail every
// Get with a *DecodeError. Values of the same shapes that Get can read
// still commit and read back equal.
func TestPutRefusesValuesGetCannotDecode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, _ := probeHeap(t)
	bad := []valueCase{
		caseOf("a string of bytes that are not UTF-8", "\xff\xfe"),
		caseOf("such a string in a struct field", namedText{Name: "caf\xe9"}),
		caseOf("such a string as a map key", namedText{Name: "ok", Tags: map[string]int{"\xc3": 1}}),
		caseOf[any]("such a string put as any", "\x80"),
		caseOf[any]("a map keyed by arrays put as any", map[[2]int]int{{1, 2}: 3}),
		caseOf("a map keyed by arrays in a field of type any", holdsAny{X: map[[2]int]int{{1, 2}: 3}}),
		caseOf[error]("a value put as an error", errors.New("boom")),
	}
	for _, c := range bad {
		id := uuid.New()
		err := h.Update(ctx, func(tx *oss.Tx) error { return c.put(tx, id) })
		var ee *oss.EncodeError
		if !errors.As(err, &ee) || ee.ID != id {
			t.Errorf("%s: Update returned %v; want an *EncodeError for %v", c.name, err, id)
		}
		h.View(ctx, func(tx *oss.Tx) error {
			if ok, err := tx.Exists(id); err != nil || ok {
				t.Errorf("%s: the refused object exists (%v, %v)", c.name, ok, err)
			}
			return nil
		}, nil)
	}
	good := []struct {
		valueCase
		want any
	}{
		{caseOf("UTF-8 text", "héllo, 世界"), "héllo, 世界"},
		{caseOf("text in a struct", namedText{Name: "café", Tags: map[string]int{"ü": 1}}), namedText{Name: "café", Tags: map[string]int{"ü": 1}}},
		{caseOf("bytes that are not UTF-8", []byte("\xff\xfe")), []byte("\xff\xfe")},
		{caseOf("a typed map keyed by arrays", pairKeyed{M: map[[2]int]int{{1, 2}: 3}}), pairKeyed{M: map[[2]int]int{{1, 2}: 3}}},
		{caseOf("a map of strings in a field of type any", holdsAny{X: map[string]any{"a": "b"}}), holdsAny{X: map[any]any{"a": "b"}}},
		{caseOf[any]("nil put as any", nil), nil},
	}
	for _, c := range good {
		id := uuid.New()
		if err := h.Update(ctx, func(tx *oss.Tx) error { return c.put(tx, id) }); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		err := h.View(ctx, func(tx *oss.Tx) error {
			got, err := c.get(tx, id)
			if err == nil && !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s: read back %#v, want %#v", c.name, got, c.want)
			}
			return err
		}, nil)
		if err != nil {
			t.Errorf("%s: read back: %v", c.name, err)
		}
	}
}
