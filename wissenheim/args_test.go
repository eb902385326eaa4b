package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// Bad input a stranger types gets an error that names the flag and what
// it wants, before any window or node starts: nothing here needs a
// display, and none of these returns later than a moment.
func TestBadInputIsRefusedAtOnce(t *testing.T) {
	dir := t.TempDir()
	wrongKey, otherName, server := certDir(t, "ada", "ada", pki.RoleClient), certDir(t, "ada", "bob", pki.RoleClient), certDir(t, "ada", "ada", pki.RoleServer)
	_, key, err := pki.IssueCert(mustRead(t, wrongKey, "ca.crt"), mustRead(t, wrongKey, "ca.key"), "ada", pki.RoleClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, wrongKey, "ada.key", key)
	join := func(dir string, more ...string) []string {
		return append([]string{"--join", "127.0.0.1:7401", "--certs", dir, "--name", "ada"}, more...)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "not defined"},
		{[]string{"--size", "big"}, "--size"},
		{[]string{"--nodes", "0"}, "--nodes"},
		{[]string{"--at", "1"}, "--at"},
		{[]string{"--name", "a b"}, "--name"},
		{[]string{"--bots", "-5"}, "--bots -5"},
		{[]string{"extra"}, "unexpected"},
		{[]string{"--join", "127.0.0.1:7401"}, "--join needs --certs"},
		{[]string{"--join", "nodeport", "--certs", dir, "--name", "ada"}, "HOST:PORT"},
		{join(dir), "--certs names the directory holding the cluster's ca.crt"},
		{join(dir, "--headless"), "--bots"},
		{join(wrongKey), "private key does not match"},
		{join(otherName), `ada.crt is "bob"'s certificate`},
		{join(server), "needs a client certificate"},
	} {
		done := make(chan error, 1)
		go func() { done <- run(c.args, io.Discard) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("wissenheim %s: %v, want an error saying %q", strings.Join(c.args, " "), err, c.want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("wissenheim %s did not return", strings.Join(c.args, " "))
		}
	}
}

// A second client under the name of a player in the world is refused,
// and its window says it was refused, not that the cluster cannot be
// reached; the first player plays on.
func TestSecondClientOfALiveNameIsToldItIsRefused(t *testing.T) {
	ctx := context.Background()
	l, err := startLocal(ctx, localOptions{nodes: 1, dataDir: t.TempDir(), guests: []string{"ada"}, logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	cfg := config{join: l.addrs(), certs: l.certs, name: "ada", listen: "127.0.0.1:0", heap: "wissenheim",
		world: "wissenheim", nodes: 1, logger: quiet, out: io.Discard}
	first := newApp(cfg)
	defer first.Close()
	connectSoon(t, first)
	second := newApp(cfg)
	defer second.Close()
	go second.connect()
	// An attempt that ran out of time got no answer to report (at load 36
	// memberlist's 2 s push/pull of the join did): the window says so,
	// and tries again. The first attempt answered is the one judged.
	var status string
	for deadline, timedOut := time.Now().Add(2*time.Minute), ""; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, _, status = second.Status()
		if !strings.Contains(status, "attempt") {
			continue
		}
		if !strings.Contains(status, "deadline exceeded") {
			break
		}
		if status != timedOut {
			t.Logf("the second window, after an attempt that ran out of time: %q", status)
			timedOut = status
		}
	}
	if p, _, _ := second.Status(); p != nil {
		t.Fatal("a second client named ada joined the world beside the first")
	}
	// Refused by the catalog's leader at join, or before, at the first
	// connection to a node connected to the first client.
	if !strings.HasPrefix(status, `the cluster at `+l.addrs()[0]+` refused node "ada"`) ||
		!strings.Contains(status, "already live") && !strings.Contains(status, `node "ada" is connected from`) {
		t.Fatalf("the second window says %q", status)
	}
	p, _, _ := first.Status()
	snap, err := p.World().Snapshot(ctx, p.Room())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, av := range snap.Avatars {
		if av.Name == "ada" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d avatars named ada in the world, want the first client's alone", n)
	}
}

// connectSoon connects the app's player as connectOnce does, again
// while its node's join found no member that answered in time: at load
// 36 memberlist's 2 s push/pull of the join did not finish (the app's
// own connect tries again every 2 s). Any other error fails the test.
func connectSoon(t *testing.T, a *app) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		err := a.connectOnce()
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "no member answered") || time.Now().After(deadline) {
			t.Fatal(err)
		}
		t.Logf("%v; again", err)
	}
}

// certDir writes, in a directory of its own, a fresh CA (ca.crt, ca.key)
// and a certificate of the given name and role as file's .crt and .key.
func certDir(t *testing.T, file, name string, role pki.Role) string {
	t.Helper()
	dir := t.TempDir()
	ca, caKey, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.IssueCert(ca, caKey, name, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string][]byte{"ca.crt": ca, "ca.key": caKey, file + ".crt": cert, file + ".key": key} {
		writeFile(t, dir, f, b)
	}
	return dir
}

func writeFile(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
