package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// The cluster's CA is rotated without a restart, as docs/design.md
// ("Rotating the CA") says, on a 3-node cluster of real ossd processes
// while a writer writes through every node the whole time, as a CLI
// whose certificate directory follows the same steps: ca.crt holding the
// old CA and the new on every node, and SIGHUP; every node's (and the
// operator's) certificate issued by the new CA, and SIGHUP; ca.crt
// holding the new CA alone, and SIGHUP. No write is refused. Then an
// operator who kept a certificate of the old CA is refused, on the
// connection it had open and on a new one, and so is a node that kept
// one: SIGHUP used to reload the node's certificate but not ca.crt, so
// removing a CA took rolling restarts, and until then every certificate
// of the removed CA kept its access.
func TestCARotationWithoutRestart(t *testing.T) {
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
				t.Logf("%s:\n%s", p.Name, p.Tail(30))
			}
			p.Kill()
		}
	}()
	if err := procs[0].CreateHeap(ctx, "h", 3); err != nil {
		t.Fatal(err)
	}
	certs, ca2, old := c.Certs(), filepath.Join(c.Dir, "ca2"), filepath.Join(c.Dir, "old")
	// n4 is certified by the old CA and never gets a new certificate.
	n4, err := c.Reserve(ctx, "n4")
	if err != nil {
		t.Fatal(err)
	}
	copyFiles(t, certs, old, "ca.crt", "admin.crt", "admin.key", "n4.crt", "n4.key")
	if err := dispatch([]string{"ca", "init", "--dir", ca2, "--name", "oss cluster CA 2"}); err != nil {
		t.Fatal(err)
	}
	ca1PEM, ca2PEM := readFile(t, filepath.Join(old, "ca.crt")), readFile(t, filepath.Join(ca2, "ca.crt"))
	bundle := append(append([]byte(nil), ca1PEM...), ca2PEM...)
	// The operator's directories, one for each step.
	cli := func(name string, ca []byte, from string) string {
		dir := filepath.Join(c.Dir, name)
		writeFile(t, filepath.Join(dir, "ca.crt"), ca, 0o644)
		copyFiles(t, from, dir, "admin.crt", "admin.key")
		return dir
	}
	w := startWriter(t, ctx, procs, cli("cli-old", ca1PEM, old))

	// 1. Trust both CAs.
	writeFile(t, filepath.Join(certs, "ca.crt"), bundle, 0o644)
	hangupAll(t, procs, "CA bundle reloaded")
	w.use(t, cli("cli-both", bundle, old))
	// 2. Certificates of the new CA.
	for _, args := range [][]string{{"--name", "n1"}, {"--name", "n2"}, {"--name", "n3"}, {"--name", "admin", "--role", "admin"}} {
		if err := dispatch(append([]string{"cert", "issue", "--dir", ca2}, args...)); err != nil {
			t.Fatal(err)
		}
		copyFiles(t, ca2, certs, args[1]+".crt", args[1]+".key")
	}
	hangupAll(t, procs, "certificate reloaded")
	w.use(t, cli("cli-new", bundle, ca2))
	// An operator who kept the old CA's certificate, on a connection it
	// opens now and keeps.
	kept, err := admin.NewClient(procs[0].HTTP, &admin.ClientOptions{CertDir: filepath.Join(c.Dir, "cli-both"), Name: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	if _, err := kept.Heaps(ctx); err != nil {
		t.Fatalf("an operator of the old CA before it is removed: %v", err)
	}
	// 3. The new CA alone.
	writeFile(t, filepath.Join(certs, "ca.crt"), ca2PEM, 0o644)
	hangupAll(t, procs, "CA bundle reloaded")
	w.use(t, cli("cli-done", ca2PEM, ca2))
	if n, errs := w.stop(); len(errs) > 0 {
		t.Fatalf("%d of %d writes refused during the rotation, the first: %v", len(errs), n, errs[0])
	} else {
		t.Logf("%d writes through the rotation, none refused", n)
	}

	if _, err := kept.Heaps(ctx); !refusedOperator(err) {
		t.Fatalf("an operator's connection made with a certificate of the removed CA: %v, want the node to refuse it", err)
	}
	fresh, err := admin.NewClient(procs[1].HTTP, &admin.ClientOptions{CertDir: filepath.Join(c.Dir, "cli-both"), Name: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := fresh.Heaps(ctx); !refusedOperator(err) {
		t.Fatalf("a new connection with a certificate of the removed CA: %v, want the node to refuse it", err)
	}
	joinWithOldCertificate(t, ctx, c, procs[0], n4, filepath.Join(c.Dir, "cli-both", "ca.crt"), old, filepath.Join(c.Dir, "cli-done"))
}

// refusedOperator reports whether err says the node refused the client's
// certificate: at the handshake, or at the request.
func refusedOperator(err error) bool {
	var se *admin.StatusError
	if errors.As(err, &se) {
		return se.Code == http.StatusUnauthorized
	}
	return err != nil && strings.Contains(err.Error(), "refused this client's certificate")
}

// joinWithOldCertificate runs n4, certified by the old CA (its files in
// old) and trusting both CAs (bundle), to join through p, and waits for
// p to refuse it (asked with the operator's certificates in cli); n4 is
// stopped after.
func joinWithOldCertificate(t *testing.T, ctx context.Context, c *ossdtest.Cluster, p, n4 *ossdtest.Proc, bundle, old, cli string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, c.Bin, "run", "--name", "n4", "--listen", n4.Addr, "--http", n4.HTTP,
		"--ca", bundle, "--cert", filepath.Join(old, "n4.crt"), "--key", filepath.Join(old, "n4.key"),
		"--data-dir", c.DataDir("n4"), "--gossip", "loopback", "--join", p.Addr)
	out := new(syncBuffer)
	cmd.Stderr, cmd.Stdout = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}()
	waitFor(t, p.Name+" to refuse n4's certificate of the removed CA", func() bool {
		b, _ := os.ReadFile(p.Log)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, `msg="peer refused"`) && strings.Contains(line, "peer=n4") {
				return true
			}
		}
		return false
	})
	cl, err := admin.NewClient(p.HTTP, &admin.ClientOptions{CertDir: cli, Name: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	st, err := cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Members {
		if m.Name == "n4" {
			t.Fatalf("n4, certified by the removed CA, is a member: %+v\nn4:\n%s", st.Members, out.String())
		}
	}
}

// hangupAll sends SIGHUP to every node in turn and waits, before the
// next, for its log to say msg once more.
func hangupAll(t *testing.T, procs []*ossdtest.Proc, msg string) {
	t.Helper()
	for _, p := range procs {
		count := func() int {
			b, _ := os.ReadFile(p.Log)
			return strings.Count(string(b), `msg="`+msg+`"`)
		}
		before := count()
		if err := p.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, p.Name+" to log "+msg, func() bool { return count() > before })
	}
}

// writer writes through every node in turn, as a CLI would: a new client
// for each write, of the certificate directory of the moment.
type writer struct {
	dir    atomic.Pointer[string]
	writes atomic.Int64
	stopCh chan struct{}
	done   chan struct{}

	mu   sync.Mutex
	errs []error
}

func startWriter(t *testing.T, ctx context.Context, procs []*ossdtest.Proc, dir string) *writer {
	w := &writer{stopCh: make(chan struct{}), done: make(chan struct{})}
	w.dir.Store(&dir)
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stopCh:
				return
			default:
			}
			if err := w.write(ctx, procs[i%len(procs)], i); err != nil {
				w.mu.Lock()
				w.errs = append(w.errs, err)
				w.mu.Unlock()
			}
			w.writes.Add(1)
		}
	}()
	t.Cleanup(func() { w.stop() })
	w.use(t, dir)
	return w
}

func (w *writer) write(ctx context.Context, p *ossdtest.Proc, i int) error {
	dir := *w.dir.Load()
	cl, err := admin.NewClient(p.HTTP, &admin.ClientOptions{CertDir: dir, Name: "admin"})
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := cl.PutRoot(ctx, "h", "w", i); err != nil {
		return fmt.Errorf("write %d through %s with %s: %w", i, p.Name, filepath.Base(dir), err)
	}
	return nil
}

// use has the writer take the certificate directory dir from now on, and
// waits for a few writes with it.
func (w *writer) use(t *testing.T, dir string) {
	t.Helper()
	w.dir.Store(&dir)
	from := w.writes.Load()
	waitFor(t, "writes with "+filepath.Base(dir), func() bool { return w.writes.Load() >= from+6 })
}

// stop ends the writer and returns how many writes it made and the
// errors of those that failed.
func (w *writer) stop() (int64, []error) {
	select {
	case <-w.stopCh:
	default:
		close(w.stopCh)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes.Load(), w.errs
}
