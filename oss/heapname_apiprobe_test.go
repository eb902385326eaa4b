package oss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A new heap's name holding a control character is refused with
// ErrInvalidHeapName, the C1 ones (U+0080 to U+009F; U+009B starts an
// escape sequence on a terminal that prints the name) as the C0 ones,
// by CreateHeap and CreateHeapIfNotExists alike, and nothing is created.
// C1 characters were taken.
func TestAPIProbeNewHeapNameWithControlCharacterRefused(t *testing.T) {
	n, _, _ := probeHeap(t)
	ctx := context.Background()
	for _, name := range []string{"a\x01b", "a\u0085b", "x\u009b2Jy", "\u009f"} {
		if _, err := n.CreateHeap(ctx, name, nil); !errors.Is(err, oss.ErrInvalidHeapName) {
			t.Errorf("CreateHeap(%q): %v, want ErrInvalidHeapName", name, err)
		}
		if _, err := n.CreateHeapIfNotExists(ctx, name, nil); !errors.Is(err, oss.ErrInvalidHeapName) {
			t.Errorf("CreateHeapIfNotExists(%q): %v, want ErrInvalidHeapName", name, err)
		}
	}
	for _, h := range n.Heaps() {
		if h.Name != "oss:catalog" && h.Name != "kv" {
			t.Errorf("a heap %q was created", h.Name)
		}
	}
	if _, err := n.CreateHeap(ctx, "line\u2028separated café", nil); err != nil {
		t.Errorf("a name of printable and format characters: %v", err)
	}
}
