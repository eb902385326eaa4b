package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// The CLI against three ossd processes with the first one killed: given
// every node's admin address, "put", "get --fresh" and "heaps --json" go
// to the next node that answers. "--http A,B,C" failed to parse ("invalid
// port") in every command but "debug bundle".
func TestCLIListOfNodesOneDown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx)
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.Start(ctx, "n2", n1)
	if err != nil {
		t.Fatal(err)
	}
	n3, err := c.Start(ctx, "n3", n1)
	if err != nil {
		t.Fatal(err)
	}
	// The catalog grows to three voters once n2 and n3 have caught up:
	// until then n1 alone is its quorum.
	waitFor(t, "the catalog's three voters", func() bool {
		st, err := n1.Client.Status(ctx)
		if err != nil {
			return false
		}
		for _, h := range st.Heaps {
			if h.Name == "oss:catalog" {
				return len(h.Voters) == 3 && !h.Joint
			}
		}
		return false
	})
	if err := n1.Kill(); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--http", n1.HTTP + "," + n2.HTTP + "," + n3.HTTP, "--certs", c.Certs()}

	var out bytes.Buffer
	if err := putFrom(strings.NewReader(`{"text": "hello"}`), &out, append([]string{"settings", "motd", "-"}, flags...)); err != nil {
		t.Fatalf("put with n1 down: %v", err)
	}
	cl, err := admin.NewClient(flags[1], &admin.ClientOptions{CertDir: c.Certs(), Name: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	o, err := cl.Root(ctx, "settings", "motd", true)
	if v, _ := o.Value.(map[string]any); err != nil || v["text"] != "hello" {
		t.Fatalf("get --fresh with n1 down: %v %v", o.Value, err)
	}
	out.Reset()
	if err := heapsTo(&out, append([]string{"--json"}, flags...)); err != nil {
		t.Fatalf("heaps with n1 down: %v", err)
	}
	var hs []oss.HeapStatus
	if err := json.Unmarshal(out.Bytes(), &hs); err != nil || len(hs) != 1 || hs[0].Name != "settings" {
		t.Fatalf("heaps --json printed %q: %v", out.String(), err)
	}
}
