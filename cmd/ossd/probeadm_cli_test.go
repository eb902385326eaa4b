package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// What a script reads of the CLI: "heaps" printed only a table, which a
// heap name with a space ("sp ace", valid) splits into columns, and "acl
// list" the same; "put" took its value only as an argument, which Linux
// caps at 128 KiB ("Argument list too long") while a value may be 8 MiB.
// "heaps --json" and "acl list --json" print JSON, and "put HEAP ROOT -"
// reads the value from stdin.
func TestCLIParseableOutputAndStdinValue(t *testing.T) {
	ctx := context.Background()
	n, flags := insecureAdmin(t)

	big := `{"text": "` + strings.Repeat("x", 256<<10) + `"}`
	var out bytes.Buffer
	if err := putFrom(strings.NewReader(big), &out, append([]string{"sp ace", "r", "-"}, flags...)); err != nil {
		t.Fatalf("put from stdin: %v", err)
	}
	var c admin.Committed
	if err := json.Unmarshal(out.Bytes(), &c); err != nil || c.Index == 0 {
		t.Fatalf("put printed %q: %v", out.String(), err)
	}
	h, err := n.Heap(ctx, "sp ace")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := h.View(ctx, func(tx *oss.Tx) error {
		id, err := tx.Root("r")
		if err != nil {
			return err
		}
		got, err = oss.Get[map[string]any](tx, id)
		return err
	}, nil); err != nil {
		t.Fatal(err)
	}
	if s, _ := got["text"].(string); len(s) != 256<<10 {
		t.Fatalf("the value read back has a text of %d bytes", len(s))
	}

	out.Reset()
	if err := heapsTo(&out, append([]string{"--json"}, flags...)); err != nil {
		t.Fatal(err)
	}
	var hs []oss.HeapStatus
	if err := json.Unmarshal(out.Bytes(), &hs); err != nil || len(hs) != 1 || hs[0].Name != "sp ace" {
		t.Fatalf("heaps --json printed %q: %v", out.String(), err)
	}

	if err := n.Grant(ctx, oss.Grant{Who: "bob", Heap: "sp ace", Perm: oss.PermRead}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := aclTo(&out, append([]string{"list", "--json"}, flags...)); err != nil {
		t.Fatal(err)
	}
	var gs []oss.Grant
	if err := json.Unmarshal(out.Bytes(), &gs); err != nil || len(gs) != 1 || gs[0].Heap != "sp ace" {
		t.Fatalf("acl list --json printed %q: %v", out.String(), err)
	}
}
