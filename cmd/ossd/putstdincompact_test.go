package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// spaces is stdin giving spaces without end, counting the bytes read.
type spaces struct{ read int64 }

func (s *spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	s.read += int64(len(p))
	return len(p), nil
}

// compactValue returns a pretty-printed value (jq's style: an array of
// 8000 numbers indented two levels deep, a string with <, > and & and a
// U+2028, and a trailing newline) whose body as put sends it (the value
// compacted, <, >, & and U+2028 escaped) is size bytes, more than 1.5
// times fewer than the value's own bytes.
func compactValue(t *testing.T, size int) string {
	t.Helper()
	build := func(fill int) string {
		nums := strings.TrimSuffix(strings.Repeat("1,", 8000), ",")
		v := `{"a":[` + nums + `],"s":"<a> & \u2028` + strings.Repeat("v", fill) + `"}`
		var b bytes.Buffer
		if err := json.Indent(&b, []byte(v), "", "        "); err != nil {
			t.Fatal(err)
		}
		return b.String() + "\n"
	}
	sent := func(v string) int {
		body, err := json.Marshal(json.RawMessage(v))
		if err != nil {
			t.Fatal(err)
		}
		return len(body)
	}
	v := build(size - sent(build(0)))
	if sent(v) != size || len(v) < size*3/2 {
		t.Fatalf("the value's body is %d bytes, the value %d; want %d and more than 1.5 times that", sent(v), len(v), size)
	}
	return v
}

// put's limit on a value from stdin is on the body it sends, which the
// node's --http-max-body bounds: the value's JSON compacted, with <, >,
// &, U+2028 and U+2029 escaped in 6 bytes each. It counted stdin's raw
// bytes: a jq-pretty value whose compacted body was a fifth of its size
// was refused, and so was one of the limit exactly followed by echo's
// newline. A node whose limit is the same takes a body of the limit
// exactly; one byte more is refused by put, with nothing sent. A stream
// of whitespace ends at 16 times the limit, with its own error.
func TestPutCountsTheCompactedBodyOfStdin(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	const max = 100_000 // above the admin interface's 64 KiB for any body
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true, MaxBodyBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(ctx) })
	flags := []string{"--http", srv.Addr(), "--http-insecure", "--http-max-body", fmt.Sprint(max)}
	put := func(in io.Reader, root string) (string, error) {
		var out, notes strings.Builder
		err := putTo(in, &out, &notes, append([]string{"h", root, "-"}, flags...))
		return out.String(), err
	}

	if _, err := put(strings.NewReader(compactValue(t, max)), "exact"); err != nil {
		t.Errorf("put of a pretty value whose body is the limit exactly: %v", err)
	}
	echoed := `"` + strings.Repeat("e", max-2) + `"` + "\n"
	if _, err := put(strings.NewReader(echoed), "echoed"); err != nil {
		t.Errorf("put of a value of the limit exactly and a newline: %v", err)
	}
	out, err := put(strings.NewReader(compactValue(t, max+1)), "over")
	if err == nil || !strings.Contains(err.Error(), "longer than 100000 bytes, put's --http-max-body, counted as put sends it (its JSON compacted") {
		t.Errorf("put of a value whose body is one byte over the limit: %v (printed %q); want put's refusal saying what it counted", err, out)
	}
	in := &spaces{}
	_, err = put(in, "spaces")
	if err == nil || !strings.Contains(err.Error(), "stdin gave more than 1600000 bytes (1.526 MiB), 16 times put's --http-max-body") {
		t.Errorf("put of endless spaces: %v; want the refusal of stdin's raw bytes", err)
	}
	if in.read > 16*max+1 {
		t.Errorf("put of endless spaces read %d bytes; want at most %d", in.read, 16*max+1)
	}
	h, err := n.Heap(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	err = h.View(ctx, func(tx *oss.Tx) error {
		for root, want := range map[string]bool{"exact": true, "echoed": true, "over": false, "spaces": false} {
			if _, err := tx.Root(root); (err == nil) != want {
				t.Errorf("root %q: %v; want it written: %v", root, err, want)
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}
