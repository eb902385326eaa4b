package codec

import (
	"errors"
	"testing"
	"time"
)

type inner struct{ A, B int }

type embeds struct {
	inner         // flattened: its fields are at the level of embeds'
	Next  *embeds `cbor:"-"`
	back  *embeds
	When  time.Time
}

type loop struct {
	*loop // an embedded pointer to itself: the encoder does not follow it
	X     int
}

// MarshalValue counts levels as the encoder writes them: an embedded
// struct adds none, a field tagged "-" or unexported, or an embedded
// pointer to a struct already flattened, is not followed (a cycle
// through it is no cycle of the value), a time is one item; and a cycle
// of pointers and interfaces alone, which adds no level, is caught.
func TestMarshalValueLevels(t *testing.T) {
	var v any = embeds{inner: inner{1, 2}, When: time.Unix(1, 0)}
	for range MaxNestedLevels - 1 {
		v = []any{v}
	}
	data, err := MarshalValue(v)
	if err != nil {
		t.Fatalf("32 levels with an embedded struct: %v", err)
	}
	var out any
	if err := Unmarshal(data, &out); err != nil {
		t.Fatalf("decoding it: %v", err)
	}
	if _, err := MarshalValue([]any{v}); !errors.Is(err, ErrTooDeep) {
		t.Errorf("33 levels: %v; want ErrTooDeep", err)
	}

	e := &embeds{}
	e.Next, e.back = e, e
	if _, err := MarshalValue(e); err != nil {
		t.Errorf("a cycle through fields the encoder skips: %v", err)
	}
	l := &loop{X: 1}
	l.loop = l
	if _, err := MarshalValue(l); err != nil {
		t.Errorf("an embedded pointer to itself: %v", err)
	}
	type named struct {
		*named `cbor:"n"` // named: a field of its own, followed
		X      int
	}
	nm := &named{X: 1}
	nm.named = nm
	if _, err := MarshalValue(nm); !errors.Is(err, ErrTooDeep) {
		t.Errorf("a cycle through an embedded field given a name: %v; want ErrTooDeep", err)
	}
	var p any
	p = &p
	if _, err := MarshalValue(p); !errors.Is(err, ErrTooDeep) {
		t.Errorf("a pointer to an interface holding it: %v; want ErrTooDeep", err)
	}
}
