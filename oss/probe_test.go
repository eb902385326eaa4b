package oss_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// An outsider's probes of what a user relies on: a damaged data
// directory refuses to start rather than losing what it acknowledged, and
// a closed node opens nothing.

// probeStart starts a durable node on dir; the test closes it.
func probeStart(dir string) (*oss.Node, error) {
	return oss.Start(context.Background(), &oss.Config{Name: "probe", DataDir: dir, CheckpointEvery: 20, Logger: quietLogger()})
}

// probeFill writes objects under the roots k0..k(count-1) of heap "kv"
// and closes the node, whose log then starts at a checkpoint in the store.
func probeFill(t *testing.T, dir string, count int) {
	t.Helper()
	ctx := context.Background()
	n, err := probeStart(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.CreateHeapIfNotExists(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range count {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			r, err := oss.New(tx, int64(i))
			if err != nil {
				return err
			}
			return tx.SetRoot("k"+strconv.Itoa(i), r.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stripes", "MANIFEST")); err != nil {
		t.Fatalf("no checkpoint after %d commits: %v", count, err)
	}
}

// probeCount returns how many of the roots k0..k(count-1) a node on dir
// reads back with their values.
func probeCount(t *testing.T, n *oss.Node, count int) int {
	t.Helper()
	h, err := n.Heap(context.Background(), "kv")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	h.View(context.Background(), func(tx *oss.Tx) error {
		for i := range count {
			id, err := tx.Root("k" + strconv.Itoa(i))
			if err != nil {
				continue
			}
			if v, err := oss.Get[int64](tx, id); err == nil && v == int64(i) {
				found++
			}
		}
		return nil
	}, nil)
	return found
}

// A data directory whose striped store lost its manifest, or the whole
// stripe directory, while the log was cut at a checkpoint in it, refuses
// to start with ErrCorrupt: the objects of that checkpoint are nowhere
// else on the node, and a node that started without them would serve a
// heap that lost acknowledged commits.
func TestProbeMissingStoreRefusesToStart(t *testing.T) {
	t.Parallel()
	const count = 120
	base := t.TempDir()
	probeFill(t, filepath.Join(base, "ref"), count)
	for _, c := range []struct {
		name   string
		damage func(dir string) error
	}{
		{"intact", func(string) error { return nil }},
		{"no manifest", func(dir string) error { return os.Remove(filepath.Join(dir, "stripes", "MANIFEST")) }},
		{"no stripe directory", func(dir string) error { return os.RemoveAll(filepath.Join(dir, "stripes")) }},
	} {
		dir := filepath.Join(base, c.name)
		if err := os.CopyFS(dir, os.DirFS(filepath.Join(base, "ref"))); err != nil {
			t.Fatal(err)
		}
		if err := c.damage(dir); err != nil {
			t.Fatal(err)
		}
		n, err := probeStart(dir)
		if c.name == "intact" {
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got := probeCount(t, n, count); got != count {
				t.Errorf("%s: %d of %d objects read back", c.name, got, count)
			}
			n.Close(context.Background())
			continue
		}
		if err == nil {
			got := probeCount(t, n, count)
			n.Close(context.Background())
			t.Fatalf("%s: the node started, with %d of %d acknowledged objects", c.name, got, count)
		}
		if !errors.Is(err, oss.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", c.name, err)
		}
	}
}

// A data directory whose node identity (NODE_ID) is gone or emptied while
// its write-ahead log is there refuses to start with ErrCorrupt: a node
// that took a new identity would recover its replicas under a raft ID
// their groups never knew, and none of them would ever have a leader.
func TestProbeLostNodeIDRefusesToStart(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	probeFill(t, filepath.Join(base, "ref"), 30)
	for _, c := range []struct {
		name   string
		damage func(path string) error
	}{
		{"removed", os.Remove},
		{"emptied", func(path string) error { return os.WriteFile(path, nil, 0o600) }},
	} {
		dir := filepath.Join(base, c.name)
		if err := os.CopyFS(dir, os.DirFS(filepath.Join(base, "ref"))); err != nil {
			t.Fatal(err)
		}
		if err := c.damage(filepath.Join(dir, "NODE_ID")); err != nil {
			t.Fatal(err)
		}
		n, err := probeStart(dir)
		if err == nil {
			n.Close(context.Background())
			t.Fatalf("NODE_ID %s: the node started", c.name)
		}
		if !errors.Is(err, oss.ErrCorrupt) {
			t.Errorf("NODE_ID %s: %v, want ErrCorrupt", c.name, err)
		}
	}
}

// A closed node opens nothing: Heap and CreateHeapIfNotExists of a heap
// it had open return ErrClosed, as CreateHeap does, not the closed handle.
func TestProbeClosedNodeOpensNoHeap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateHeapIfNotExists(ctx, "bank", nil); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func() (*oss.Heap, error){
		"Heap":                  func() (*oss.Heap, error) { return n.Heap(ctx, "bank") },
		"CreateHeapIfNotExists": func() (*oss.Heap, error) { return n.CreateHeapIfNotExists(ctx, "bank", nil) },
		"CreateHeap":            func() (*oss.Heap, error) { return n.CreateHeap(ctx, "other", nil) },
	} {
		if h, err := open(); !errors.Is(err, oss.ErrClosed) || h != nil {
			t.Errorf("%s after Close: a handle %t, %v; want none, and ErrClosed", name, h != nil, err)
		}
	}
}

// Start refuses an address peers could not dial before it binds or joins
// anything: an Advertise without an IP or a port, or a Listen on every
// interface without an Advertise (the node would advertise 0.0.0.0, and
// join, then fail to reach its peers or be reached).
func TestProbeStartRefusesUndialableAddress(t *testing.T) {
	t.Parallel()
	caCert, caKey, err := pki.NewCA("probe", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.IssueCert(caCert, caKey, "n1", pki.RoleServer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tlsc := &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: caCert}
	for _, c := range []struct{ listen, advertise string }{
		{"127.0.0.1:0", "127.0.0.1:0"},
		{"127.0.0.1:0", "127.0.0.1"},
		{"127.0.0.1:0", "0.0.0.0:7400"},
		{"127.0.0.1:0", "127.0.0.1:99999"},
		{"0.0.0.0:0", ""},
		{":0", ""},
		{"[::]:0", ""},
	} {
		n, err := oss.Start(context.Background(), &oss.Config{Name: "n1", Listen: c.listen, Advertise: c.advertise, TLS: tlsc, Logger: quietLogger()})
		if err == nil {
			n.Close(context.Background())
			t.Errorf("Listen %q, Advertise %q: started", c.listen, c.advertise)
			continue
		}
		if !strings.Contains(err.Error(), "Advertise") {
			t.Errorf("Listen %q, Advertise %q: %v, want an error that names Advertise", c.listen, c.advertise, err)
		}
	}
	n, err := oss.Start(context.Background(), &oss.Config{Name: "n1", Listen: "0.0.0.0:0", Advertise: "127.0.0.1:7400", TLS: tlsc, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("every interface, advertised: %v", err)
	}
	n.Close(context.Background())
}

// A node restarted with its stripe directories in another order (the
// manifest lives in the first) refuses to start, and says the directories
// are the cause, rather than starting with none of its checkpoint. It is
// no ErrCorrupt: nothing is damaged, and starting empty (ErrCorrupt's
// remedy, which ossd suggests) would throw the replica away.
func TestProbeStripeDirsReorderedRefusesToStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := t.TempDir()
	dir, a, b := filepath.Join(base, "n"), filepath.Join(base, "a"), filepath.Join(base, "b")
	start := func(stripes ...string) (*oss.Node, error) {
		return oss.Start(ctx, &oss.Config{Name: "probe", DataDir: dir, StripeDirs: stripes, CheckpointEvery: 20, Logger: quietLogger()})
	}
	n, err := start(a, b)
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.CreateHeapIfNotExists(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if err := h.Update(ctx, func(tx *oss.Tx) error { _, err := oss.New(tx, int64(i)); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, err = start(b, a)
	if err == nil {
		n.Close(ctx)
		t.Fatal("started on its stripe directories reordered")
	}
	if errors.Is(err, oss.ErrCorrupt) || !strings.Contains(err.Error(), "--stripe-dirs") || !strings.Contains(err.Error(), b) {
		t.Fatalf("%v, want an error that names the stripe directories and %s, not ErrCorrupt", err, b)
	}
	n, err = start(a, b)
	if err != nil {
		t.Fatalf("on its own stripe directories again: %v", err)
	}
	n.Close(ctx)
}
