package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// The cluster's CA is rotated as docs/design.md ("Certificate lifecycle",
// "Rotating the CA") says, with rolling restarts of a 3-node cluster,
// one node at a time, and no write lost or refused on the way: ca.crt
// holding the old CA and the new on every node; then every node's (and
// the operator's) certificate issued by the new CA; then ca.crt holding
// the new CA alone, after which a certificate of the old one is refused.
func TestCARotation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	c := startOrderCluster(t, ctx)
	var procs []*ossdtest.Proc
	for _, name := range []string{"n1", "n2", "n3"} {
		p, err := c.Start(ctx, name, procs...)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	defer func() {
		for _, p := range procs {
			if t.Failed() {
				t.Logf("%s:\n%s", p.Name, p.Tail(20))
			}
			p.Kill()
		}
	}()
	if err := procs[0].CreateHeap(ctx, "h", 3); err != nil {
		t.Fatal(err)
	}
	certs, ca2, old := c.Certs(), filepath.Join(c.Dir, "ca2"), filepath.Join(c.Dir, "old")
	copyFiles(t, certs, old, "ca.crt", "admin.crt", "admin.key")
	if err := dispatch([]string{"ca", "init", "--dir", ca2, "--name", "oss cluster CA 2"}); err != nil {
		t.Fatal(err)
	}
	writes := 0
	// roll restarts each node in turn and writes through it once it is
	// back; every node then reads the write.
	roll := func(step string) {
		for i, p := range procs {
			if err := p.Kill(); err != nil {
				t.Fatal(err)
			}
			others := append(append([]*ossdtest.Proc(nil), procs[:i]...), procs[i+1:]...)
			np, err := c.Restart(ctx, p, others...)
			if err != nil {
				t.Fatalf("%s: restart %s: %v", step, p.Name, err)
			}
			procs[i] = np
			writes++
			want := fmt.Sprintf("%s, %s back", step, p.Name)
			putRoot(t, ctx, np, "h", "r", want)
			for _, q := range procs {
				waitFor(t, q.Name+" to read "+want, func() bool {
					o, err := q.Root(ctx, "h", "r", true)
					return err == nil && o.Value == want
				})
			}
		}
	}
	// 1. Trust both CAs.
	bundle := append(readFile(t, filepath.Join(old, "ca.crt")), readFile(t, filepath.Join(ca2, "ca.crt"))...)
	writeFile(t, filepath.Join(certs, "ca.crt"), bundle, 0o644)
	roll("both CAs trusted")
	// 2. Certificates of the new CA.
	for _, args := range [][]string{{"--name", "n1"}, {"--name", "n2"}, {"--name", "n3"}, {"--name", "admin", "--role", "admin"}} {
		if err := dispatch(append([]string{"cert", "issue", "--dir", ca2}, args...)); err != nil {
			t.Fatal(err)
		}
		copyFiles(t, ca2, certs, args[1]+".crt", args[1]+".key")
	}
	roll("new certificates")
	// 3. The new CA alone.
	copyFiles(t, ca2, certs, "ca.crt")
	roll("the new CA alone")
	// The old CA's operator certificate is refused now.
	oc, err := admin.NewClient(procs[0].HTTP, &admin.ClientOptions{CertDir: old, Name: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	if _, err := oc.Heaps(ctx); err == nil {
		t.Fatal("a certificate of the old CA is still accepted after the rotation")
	}
	t.Logf("%d writes through the rotation, none refused", writes)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
}

// copyFiles copies the named files from one directory to another, keys
// with mode 0600.
func copyFiles(t *testing.T, from, to string, names ...string) {
	t.Helper()
	for _, n := range names {
		mode := os.FileMode(0o644)
		if filepath.Ext(n) == ".key" {
			mode = 0o600
		}
		writeFile(t, filepath.Join(to, n), readFile(t, filepath.Join(from, n)), mode)
	}
}
