// Package ossdtest runs clusters of ossd processes on loopback, for tests
// and for the demo: it builds the binary, issues certificates, starts,
// kills and stops nodes, and talks to each through its admin interface.
package ossdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/objectsharing/oss/oss/admin"
)

// ErrNoModule is Build's error when the working directory is in no Go
// module (a binary run from elsewhere): Build compiles ossd from the
// module's sources.
var ErrNoModule = errors.New("ossdtest: the working directory is not inside the oss module, whose ./cmd/ossd is built")

// Build compiles ossd from the module that holds the working directory
// into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("ossdtest: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", ErrNoModule
	}
	bin := filepath.Join(dir, "ossd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ossd")
	cmd.Dir = filepath.Dir(mod)
	// go build leaves its work directory (go-build…) behind when it is
	// killed or interrupted, in TMPDIR by default: it goes into dir
	// instead, which the caller removes, and an ended ctx (the demo's
	// Ctrl-C) kills the build's whole process group, the compilers
	// writing there included.
	cmd.Env = append(os.Environ(), "GOTMPDIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ossdtest: go build ./cmd/ossd: %w\n%s", err, b)
	}
	return bin, nil
}

// BuildForTests builds ossd once for a test binary, from its TestMain,
// into a new temporary directory that remove removes. Tests then share
// the binary, and a test's deadline counts the test alone: a build inside
// it took minutes of a 3-minute deadline on a loaded machine, and the
// deadline killed the go build. The build itself has no deadline but go
// test's -timeout.
func BuildForTests() (bin string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "ossdtest-")
	if err != nil {
		return "", nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	if bin, err = Build(context.Background(), dir); err != nil {
		remove()
		return "", nil, err
	}
	return bin, remove, nil
}

// Cluster is a set of ossd processes sharing a CA, all under one
// directory.
type Cluster struct {
	Dir   string
	Bin   string
	Flags []string // added to every "ossd run"
	// Via, if set, returns the address a node's peers reach it at (ossd
	// run --advertise), given its name and the address it listens on: a
	// proxy in between. Nodes join each other through it too.
	Via func(name, listen string) string
	// Wrap, if set, returns the command line that runs a node, given its
	// name and ossd's own (the binary, then its arguments): a test runs a
	// node in another network namespace through "ip netns exec", which
	// execs ossd in its own process, so signals reach the node.
	Wrap func(name string, argv []string) []string

	mu    sync.Mutex
	nodes map[string]*Proc
}

// New makes a cluster CA in dir/certs with the binary bin, and the
// certificate of the operator "admin" (role admin) that Proc's client and
// ossd's CLI (--certs Certs()) use.
func New(ctx context.Context, dir, bin string) (*Cluster, error) {
	c := &Cluster{Dir: dir, Bin: bin, nodes: map[string]*Proc{}}
	if err := c.ossd(ctx, "ca", "init", "--dir", c.Certs()); err != nil {
		return nil, err
	}
	if err := c.ossd(ctx, "cert", "issue", "--dir", c.Certs(), "--name", "admin", "--role", "admin"); err != nil {
		return nil, err
	}
	return c, nil
}

// Certs is the cluster's certificate directory: ca.crt, each node's, and
// admin.crt and admin.key, the operator's.
func (c *Cluster) Certs() string { return filepath.Join(c.Dir, "certs") }

func (c *Cluster) ossd(ctx context.Context, args ...string) error {
	b, err := exec.CommandContext(ctx, c.Bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ossd %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// Proc is one ossd process.
type Proc struct {
	Name string
	Addr string // QUIC address
	Peer string // the address peers reach it at: Addr, or Cluster.Via's
	HTTP string // admin interface address (HTTPS, Cluster.Certs' admin certificate)
	Log  string // the file its stderr goes to
	*admin.Client

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start issues a certificate for name and starts "ossd run", joining
// through the given nodes (none: bootstrap a cluster), and waits until its
// admin interface answers.
func (c *Cluster) Start(ctx context.Context, name string, join ...*Proc) (*Proc, error) {
	p, err := c.Reserve(ctx, name)
	if err != nil {
		return nil, err
	}
	return c.run(ctx, name, p.Addr, p.HTTP, join)
}

// Launch issues a certificate for name and starts "ossd run" as Start
// does, without waiting for it: the process may still be joining, or
// fail, when Launch returns (Wait says how it exited).
func (c *Cluster) Launch(ctx context.Context, name string, join ...*Proc) (*Proc, error) {
	r, err := c.Reserve(ctx, name)
	if err != nil {
		return nil, err
	}
	p, err := c.spawn(name, r.Addr, r.HTTP, join)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.nodes[name] = p
	c.mu.Unlock()
	return p, nil
}

// Restart starts a node that exited again, on its addresses and its data
// directory.
func (c *Cluster) Restart(ctx context.Context, p *Proc, join ...*Proc) (*Proc, error) {
	return c.RestartWith(ctx, p, nil, join...)
}

// RestartWith is Restart with more flags for "ossd run".
func (c *Cluster) RestartWith(ctx context.Context, p *Proc, flags []string, join ...*Proc) (*Proc, error) {
	if !p.Exited() {
		return nil, fmt.Errorf("ossdtest: %s is running", p.Name)
	}
	return c.run(ctx, p.Name, p.Addr, p.HTTP, join, flags...)
}

// DataDir is the data directory of a node.
func (c *Cluster) DataDir(name string) string { return filepath.Join(c.Dir, name) }

func (c *Cluster) run(ctx context.Context, name, udp, tcp string, join []*Proc, flags ...string) (*Proc, error) {
	p, err := c.spawn(name, udp, tcp, join, flags...)
	if err != nil {
		return nil, err
	}
	for {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := p.Heaps(sctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("ossdtest: %s exited: %v; log:\n%s", name, p.err, p.Tail(20))
		case <-ctx.Done():
			p.Kill()
			return nil, fmt.Errorf("ossdtest: %s did not come up: %w; log:\n%s", name, ctx.Err(), p.Tail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
	c.mu.Lock()
	c.nodes[name] = p
	c.mu.Unlock()
	return p, nil
}

// spawn starts "ossd run" for name on its addresses, with its admin
// client, and returns at once.
func (c *Cluster) spawn(name, udp, tcp string, join []*Proc, flags ...string) (*Proc, error) {
	p := &Proc{Name: name, Addr: udp, Peer: udp, HTTP: tcp, Log: filepath.Join(c.Dir, name+".log"), done: make(chan struct{})}
	args := []string{"run", "--name", name, "--listen", udp, "--http", tcp, "--certs", c.Certs(),
		"--data-dir", filepath.Join(c.Dir, name)}
	if c.Via != nil {
		p.Peer = c.Via(name, udp)
		args = append(args, "--advertise", p.Peer)
	}
	var addrs []string
	for _, j := range join {
		addrs = append(addrs, j.Peer)
	}
	if len(addrs) > 0 {
		args = append(args, "--join", strings.Join(addrs, ","))
	}
	args = append(args, c.Flags...)
	args = append(args, flags...)
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	argv := append([]string{c.Bin}, args...)
	if c.Wrap != nil {
		argv = c.Wrap(name, argv)
	}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.SysProcAttr = procAttr()
	p.cmd.Stderr = logf
	p.cmd.Stdout = logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if p.Client, err = admin.NewClient(tcp, &admin.ClientOptions{CertDir: c.Certs(), Name: "admin"}); err != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		return nil, err
	}
	return p, nil
}

// Kill stops the process with SIGKILL: no hand-over, no goodbye.
func (p *Proc) Kill() error {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.Client.Close()
	return nil
}

// Stop sends SIGTERM, which makes the node hand its replicas over and
// leave, and waits for the process to exit.
func (p *Proc) Stop(timeout time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("ossdtest: %s did not stop within %v", p.Name, timeout)
	}
	p.Client.Close()
	if p.err != nil {
		return fmt.Errorf("ossdtest: %s: %w", p.Name, p.err)
	}
	return nil
}

// Pause stops the process with SIGSTOP: it holds its state and its
// sockets but does nothing, as a stalled machine would.
func (p *Proc) Pause() error { return p.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Proc) Resume() error { return p.cmd.Process.Signal(syscall.SIGCONT) }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Tail returns the last n lines of the process's log.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Close kills every process still running.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.nodes {
		if !p.Exited() {
			p.Kill()
		}
	}
}
