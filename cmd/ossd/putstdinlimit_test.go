package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// yes is stdin as "yes" gives it, 'y' and newline, counting the bytes
// read from it; it ends after size bytes (64 KiB past the limit in the
// test below), so that a put that reads it all ends too.
type yes struct{ read, size int64 }

func (y *yes) Read(p []byte) (int, error) {
	if y.read >= y.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), y.size-y.read)]
	for i := range p {
		p[i] = "y\n"[(y.read+int64(i))%2]
	}
	y.read += int64(len(p))
	return len(p), nil
}

// "yes | ossd put h r -" read all of stdin into memory before the
// node's body limit refused it, and grew without bound. put now reads
// until the body it would send (the value compacted: yes's newlines are
// not counted) passes its --http-max-body (the node's default, 12 MiB,
// unless given), a chunk of stdin at most past that, and refuses a longer value with an error naming
// the limit and how to raise it, having written nothing: neither the
// heap (put creates a missing one) nor the root.
func TestPutRefusesAnOverlongStdinUnread(t *testing.T) {
	n, flags := insecureAdmin(t)
	ctx := context.Background()
	for _, tc := range []struct {
		heap  string
		extra []string
		max   int64
		want  []string
	}{
		{"fresh", nil, admin.DefaultMaxBodyBytes, []string{"longer than 12582912 bytes (12 MiB)", "by default (its --http-max-body)", "nothing was sent", "give put the same --http-max-body N"}},
		{"fresh", []string{"--http-max-body", "1000"}, 1000, []string{"longer than 1000 bytes, put's --http-max-body, counted as put sends it", "put's --http-max-body", "nothing was sent"}},
		{"kept", []string{"--http-max-body", "1000"}, 1000, []string{"longer than 1000 bytes", "nothing was sent"}},
	} {
		if tc.heap == "kept" {
			if _, err := n.CreateHeapIfNotExists(ctx, tc.heap, nil); err != nil {
				t.Fatal(err)
			}
		}
		in := &yes{size: 2*tc.max + readChunk + 64<<10}
		var out, notes strings.Builder
		err := putTo(in, &out, &notes, append(append([]string{tc.heap, "r", "-"}, flags...), tc.extra...))
		if err == nil {
			t.Fatalf("put %s of a long stdin succeeded", tc.extra)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("put %s of a long stdin: %v\nwant it to say %q", tc.extra, err, w)
			}
		}
		if in.read > 2*tc.max+readChunk {
			t.Errorf("put %s read %d bytes of stdin; want at most %d, twice the limit (a newline a 'y') and a chunk", tc.extra, in.read, 2*tc.max+readChunk)
		}
		if out.Len() != 0 || notes.Len() != 0 {
			t.Errorf("put %s printed %q and noted %q; want nothing", tc.extra, out.String(), notes.String())
		}
		h, err := n.Heap(ctx, tc.heap)
		switch {
		case tc.heap == "fresh" && !errors.Is(err, oss.ErrNoHeap):
			t.Errorf("after the refused put, heap %q: %v; want none", tc.heap, err)
		case tc.heap == "kept" && err != nil:
			t.Fatal(err)
		case tc.heap == "kept":
			err := h.View(ctx, func(tx *oss.Tx) error { _, err := tx.Root("r"); return err }, nil)
			if !errors.Is(err, oss.ErrNotFound) {
				t.Errorf("after the refused put, root r of %q: %v; want none", tc.heap, err)
			}
		}
	}
	// A value of the limit exactly is read and written.
	var out, notes strings.Builder
	value := `"` + strings.Repeat("v", 998) + `"`
	if err := putTo(strings.NewReader(value), &out, &notes, append([]string{"kept", "r", "-", "--http-max-body", fmt.Sprint(len(value))}, flags...)); err != nil {
		t.Errorf("put of a value of the limit exactly: %v", err)
	}
}
