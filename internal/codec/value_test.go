package codec

import (
	"errors"
	"math/big"
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

type mixed struct {
	F     float64
	F32   float32
	I     int64
	Bytes []byte
	Big   *big.Int
	At    time.Time
	Text  string
	Keys  map[string][]string
}

// MarshalValue checks every text string of a value for UTF-8 and nothing
// else: numbers of every width, byte strings whose bytes look like text
// heads, tags and times pass; one string that is not UTF-8, anywhere,
// fails with ErrInvalidText.
func TestMarshalValueChecksText(t *testing.T) {
	good := mixed{
		F: 1.1, F32: 2.5, I: -1 << 40,
		Bytes: []byte{0x61, 0xff, 0x7f, 0xfb, 0x00},
		Big:   new(big.Int).Lsh(big.NewInt(1), 100),
		At:    time.Date(2026, 12, 5, 6, 0, 0, 1, time.UTC),
		Text:  "naïve", Keys: map[string][]string{"ключ": {"значение", ""}},
	}
	if _, err := MarshalValue(good); err != nil {
		t.Fatalf("a value of valid text: %v", err)
	}
	for name, bad := range map[string]mixed{
		"a field":        {Text: "\xff"},
		"a map key":      {Keys: map[string][]string{"a\xc3": nil}},
		"a list element": {Keys: map[string][]string{"a": {"ok", "\xed\xa0\x80"}}},
	} {
		bad.F, bad.Bytes = 3.25, good.Bytes
		if _, err := MarshalValue(bad); !errors.Is(err, ErrInvalidText) {
			t.Errorf("a string not UTF-8 in %s: %v; want ErrInvalidText", name, err)
		}
	}
}
