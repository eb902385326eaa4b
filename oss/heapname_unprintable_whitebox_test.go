package oss

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// A new heap's name may not hold a rune a terminal acts on rather than
// shows: control characters (C0, DEL, C1) and, since 2026-12-07,
// bidirectional formatting characters (U+202E showed the rest of a
// heap list's line reversed, so a name could pass for another; such
// names were taken). The refusal names the rune and its byte offset,
// and an invalid byte of UTF-8 is named by its offset. Printable names,
// format characters that are not bidirectional ones and names that
// start with "-" are taken as before.
func TestNewHeapNameRefusesUnprintableRunesByName(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 31, "n1")
	n := c.nodes["n1"]
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	for _, tc := range []struct{ name, want string }{
		{"a\x01b", "U+0001 at byte 1 is a control character"},
		{"ab\x7f", "U+007F at byte 2 is a control character"},
		{"é\u0085", "U+0085 at byte 2 is a control character"},
		{"x\u009b2J", "U+009B at byte 1 is a control character"},
		{"a\u202eb", "U+202E at byte 1 is a bidirectional formatting character"},
		{"\u202a", "U+202A at byte 0 is a bidirectional formatting character"},
		{"ab\u2066c", "U+2066 at byte 2 is a bidirectional formatting character"},
		{"\u2069", "U+2069 at byte 0 is a bidirectional formatting character"},
		{"rlm\u200f", "U+200F at byte 3 is a bidirectional formatting character"},
		{"a\xffb", "byte 1 (0xff) is not UTF-8"},
	} {
		for _, create := range []func() error{
			func() error { _, err := n.CreateHeap(ctx, tc.name, nil); return err },
			func() error { _, err := n.CreateHeapIfNotExists(ctx, tc.name, nil); return err },
		} {
			err := create()
			if !errors.Is(err, ErrInvalidHeapName) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("create %q: %v; want ErrInvalidHeapName saying %q", tc.name, err, tc.want)
			}
			if err != nil && strings.ContainsFunc(err.Error(), func(r rune) bool { return r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e }) {
				t.Errorf("create %q: the error holds the rune raw: %q", tc.name, err)
			}
		}
	}
	for _, h := range n.Heaps() {
		if !strings.HasPrefix(h.Name, systemPrefix) {
			t.Errorf("a heap %q was created", h.Name)
		}
	}
	for _, name := range []string{"line\u2028separated café", "family \U0001F468\u200d\U0001F469\u200d\U0001F467", "-x", "--all", "שלום"} {
		if _, err := n.CreateHeap(ctx, name, nil); err != nil {
			t.Errorf("create %q, a printable name: %v", name, err)
		}
	}
}

// A heap whose name holds a C1 control or a bidirectional formatting
// character, made before such names were refused for new heaps (its
// entry written to the catalog directly, as an older node wrote it),
// still opens, takes writes, is listed and can be dropped.
func TestOldHeapWithUnprintableNameStillOpens(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 32, "n1")
	n := c.nodes["n1"]
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	for _, name := range []string{"old\u202eevil", "old\u0085c1", "\u2066iso\u2069"} {
		err := n.catalog.Load().Update(ctx, func(tx *Tx) error {
			e := heapEntry{Name: name, Replicas: 1, Group: newNodeID(), Voters: firstVoters(name, 1, n.live())}
			return Put(tx, entryID(name), e)
		})
		if err != nil {
			t.Fatalf("write the entry of %q: %v", name, err)
		}
		h, err := n.Heap(ctx, name)
		if err != nil {
			t.Fatalf("open %q: %v", name, err)
		}
		if err := update(ctx, h, func(tx *Tx) error { return Put(tx, listID(1), "x") }); err != nil {
			t.Fatalf("write to %q: %v", name, err)
		}
		if _, err := n.CreateHeapIfNotExists(ctx, name, nil); err != nil {
			t.Fatalf("CreateHeapIfNotExists(%q) of the heap that exists: %v", name, err)
		}
		listed := false
		for _, hs := range n.Heaps() {
			listed = listed || hs.Name == name
		}
		if !listed {
			t.Errorf("Heaps does not list %q", name)
		}
		if err := n.DropHeap(ctx, name); err != nil {
			t.Fatalf("drop %q: %v", name, err)
		}
		if _, err := n.CreateHeap(ctx, name, nil); !errors.Is(err, ErrInvalidHeapName) {
			t.Errorf("create %q anew after its drop: %v, want ErrInvalidHeapName", name, err)
		}
	}
}
