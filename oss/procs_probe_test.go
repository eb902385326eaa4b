package oss_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// Nodes in separate processes, each started as the README's "Nodes on a
// network" shows (a durable node with its own data directory and
// certificate), run bank transfers on one heap, each with a marker object
// of its own, and print every acknowledged transfer. The test kills,
// pauses and restarts them, and after each phase quiets the writers and
// checks, through a Fresh View in every process, that the sum holds,
// every acknowledged marker is there, and every process sees one state.

const (
	procAccounts = 8
	procBalance  = 1000
)

// procAccount is the ID of account i.
func procAccount(i int) uuid.UUID {
	var id uuid.UUID
	binary.BigEndian.PutUint64(id[8:], uint64(i)+1)
	id[6] = 0x40
	id[8] |= 0x80
	return id
}

type procAcct struct{ Balance int64 }

// procRole is the role of the node named name: a client's name starts
// with k.
func procRole(name string) pki.Role {
	if strings.HasPrefix(name, "k") {
		return pki.RoleClient
	}
	return pki.RoleServer
}

type procMarker struct{ Writer string }

// procChild is a node's process. Its configuration comes from the
// environment; it reads commands from stdin (quiet, go, check FILE,
// close) and prints "ready", "ack MARKER" for every acknowledged
// transfer, and the answers to its commands.
func procChild() {
	fail := func(format string, a ...any) {
		fmt.Printf("fail "+format+"\n", a...)
		os.Exit(3)
	}
	env := os.Getenv
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(env("OSS_PROC_CERTS"), name))
		if err != nil {
			fail("%v", err)
		}
		return b
	}
	var join []string
	if env("OSS_PROC_JOIN") != "" {
		join = strings.Split(env("OSS_PROC_JOIN"), ",")
	}
	logf, _ := os.OpenFile(filepath.Join(env("OSS_PROC_DIR"), "log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{
		Name:      env("OSS_PROC_NAME"),
		DataDir:   filepath.Join(env("OSS_PROC_DIR"), "data"),
		Listen:    env("OSS_PROC_LISTEN"),
		Join:      join,
		JoinRetry: env("OSS_PROC_RETRY") != "",
		TLS:       &oss.TLSConfig{CertPEM: read(env("OSS_PROC_CERT") + ".pem"), KeyPEM: read(env("OSS_PROC_CERT") + ".key"), CAPEM: read("ca.pem")},
		Gossip:    oss.GossipLoopback,
		Role:      procRole(env("OSS_PROC_NAME")),
		Logger:    slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fail("start: %v", err)
	}
	if procRole(env("OSS_PROC_NAME")) == pki.RoleServer {
		if err := untilQuorum(func() error { return n.Grant(ctx, oss.Grant{Who: "k", Heap: "bank", Perm: oss.PermWrite}) }); err != nil {
			fail("grant: %v", err)
		}
	}
	open := n.CreateHeapIfNotExists
	if procRole(env("OSS_PROC_NAME")) == pki.RoleClient {
		open = func(ctx context.Context, name string, _ *oss.HeapOptions) (*oss.Heap, error) {
			return n.Heap(ctx, name)
		}
	}
	var h *oss.Heap
	err = untilQuorum(func() (err error) { h, err = open(ctx, "bank", nil); return err })
	if err != nil {
		fail("heap: %v", err)
	}
	err = untilQuorum(func() error { return seedProcAccounts(ctx, h) })
	if err != nil {
		fail("accounts: %v", err)
	}
	fmt.Println("ready")
	procServe(ctx, n, h, fail)
}

// untilQuorum retries op while it fails with ErrNoQuorum (nothing was
// committed, the README says). A node of a cluster restarted whole whose
// peers came up more than the about 4 s a call waits for a leader after
// it (on a starved machine) was told so at its first call, and the child
// failed: TestProbeProcsWholeRestartAsConfigured, "join none", a's
// grant, the three processes in 0.1 of a core.
func untilQuorum(op func() error) error {
	for {
		err := op()
		if !errors.Is(err, oss.ErrNoQuorum) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// seedProcAccounts writes the accounts, unless they are there.
func seedProcAccounts(ctx context.Context, h *oss.Heap) error {
	return h.Update(ctx, func(tx *oss.Tx) error {
		if ok, err := tx.Exists(procAccount(0)); err != nil || ok {
			return err
		}
		for i := range procAccounts {
			if err := oss.Put(tx, procAccount(i), procAcct{procBalance}); err != nil {
				return err
			}
		}
		return nil
	})
}

// procServe runs the transfers and answers the commands on stdin.
func procServe(ctx context.Context, n *oss.Node, h *oss.Heap, fail func(string, ...any)) {
	var out sync.Mutex
	say := func(format string, a ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Printf(format+"\n", a...)
	}
	var mu sync.Mutex
	quiet, idle := false, sync.NewCond(&mu)
	busy := false
	go func() {
		name := os.Getenv("OSS_PROC_NAME")
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
		for {
			mu.Lock()
			for quiet {
				busy = false
				idle.Broadcast()
				idle.Wait()
			}
			busy = true
			mu.Unlock()
			if err := procTransfer(ctx, h, name, rng, say); err != nil {
				fail("transfer: %v", err)
			}
		}
	}()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "quiet":
			mu.Lock()
			quiet = true
			for busy {
				idle.Wait()
			}
			mu.Unlock()
			say("quiet")
		case "go":
			mu.Lock()
			quiet = false
			idle.Broadcast()
			mu.Unlock()
		case "check":
			say("%s", procCheck(ctx, h, arg))
		case "status":
			var heaps []string
			for _, hs := range n.Status(ctx).Heaps {
				heaps = append(heaps, hs.Name+"="+strings.Join(hs.Voters, ",")+"/"+strings.Join(hs.Learners, ","))
			}
			say("status %s", strings.Join(heaps, " "))
		case "close":
			if err := n.Close(ctx); err != nil {
				fail("close: %v", err)
			}
			say("closed")
			os.Exit(0)
		}
	}
}

// procTransfer moves money between two accounts and writes a marker; it
// prints the marker once the commit is acknowledged. An error that leaves
// the outcome open, or says nothing committed, is printed and not fatal.
func procTransfer(ctx context.Context, h *oss.Heap, name string, rng *rand.Rand, say func(string, ...any)) error {
	a, b := rng.IntN(procAccounts), rng.IntN(procAccounts)
	amount := int64(rng.IntN(50))
	marker := uuid.New()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := h.Update(cctx, func(tx *oss.Tx) error {
		x, err := oss.Get[procAcct](tx, procAccount(a))
		if err != nil {
			return err
		}
		y, err := oss.Get[procAcct](tx, procAccount(b))
		if err != nil {
			return err
		}
		if a != b {
			x.Balance -= amount
			y.Balance += amount
			if err := oss.Put(tx, procAccount(a), x); err != nil {
				return err
			}
			if err := oss.Put(tx, procAccount(b), y); err != nil {
				return err
			}
		}
		return oss.Put(tx, marker, procMarker{Writer: name})
	})
	switch {
	case err == nil:
		say("ack %s", marker)
	case errors.Is(err, oss.ErrCommitUnknown), errors.Is(err, oss.ErrNoQuorum), errors.Is(err, oss.ErrConflict), errors.Is(err, context.DeadlineExceeded):
		say("err %v", err)
		time.Sleep(50 * time.Millisecond)
	case errors.Is(err, oss.ErrClosed):
		return err
	default:
		// A definite failure the README lists no sentinel for (a log
		// that cannot be written): printed, and the loop goes on.
		say("odd %v", err)
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// procCheck reads the heap with a Fresh View and writes the markers it
// holds to file; it returns "state SUM MARKERS DIGEST" or "bad ERROR".
func procCheck(ctx context.Context, h *oss.Heap, file string) string {
	var sum int64
	var markers []string
	digest := sha256.New()
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := h.View(cctx, func(tx *oss.Tx) error {
		sum, markers = 0, nil
		digest.Reset()
		for i := range procAccounts {
			a, err := oss.Get[procAcct](tx, procAccount(i))
			if err != nil {
				return err
			}
			sum += a.Balance
			fmt.Fprintf(digest, "%d ", a.Balance)
		}
		return tx.Scan(func(id uuid.UUID) bool {
			if id.Version() == 4 && id[8]&0x80 != 0 && binary.BigEndian.Uint64(id[8:])&^(1<<63) <= procAccounts {
				return true
			}
			markers = append(markers, id.String())
			digest.Write(id[:])
			return true
		})
	}, &oss.ViewOptions{Fresh: true})
	if err != nil {
		return "bad " + err.Error()
	}
	if err := os.WriteFile(file, []byte(strings.Join(markers, "\n")), 0o600); err != nil {
		return "bad " + err.Error()
	}
	st := h.Stats()
	return fmt.Sprintf("state %d %d %x voters=%s", sum, len(markers), digest.Sum(nil)[:8], strings.Join(st.Voters, ","))
}

// procNode is one node's process as the test runs it.
type procNode struct {
	name, listen, dir string
	cert              string // the certificate it starts with (its name)
	join              []string
	cmd               *exec.Cmd
	stdin             io.WriteCloser
	replies           chan string // lines other than acks; closed when the process's stdout ends
	skip              bool        // not checked: its disk refuses writes
	odd               []string    // the errors of its transfers that match no sentinel (procCluster.mu)
	done              chan struct{}
}

// procCluster is the test's side: the certificates, the nodes, and every
// marker a node acknowledged.
type procCluster struct {
	t     *testing.T
	dir   string
	test  string // the test to run as the node's process
	mu    sync.Mutex
	acked map[string]string // marker -> node
	nodes []*procNode
}

func newProcCluster(t *testing.T, test string, names ...string) *procCluster {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := &procCluster{t: t, dir: t.TempDir(), test: test, acked: map[string]string{}}
	caCert, caKey, err := pki.NewCA("procs", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(c.dir, "certs")
	os.MkdirAll(certs, 0o700)
	os.WriteFile(filepath.Join(certs, "ca.pem"), caCert, 0o600)
	for _, name := range names {
		cert, key, err := pki.IssueCert(caCert, caKey, name, procRole(name), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(certs, name+".pem"), cert, 0o600)
		os.WriteFile(filepath.Join(certs, name+".key"), key, 0o600)
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listen := pc.LocalAddr().String()
		pc.Close()
		dir := filepath.Join(c.dir, name)
		os.MkdirAll(dir, 0o700)
		c.nodes = append(c.nodes, &procNode{name: name, listen: listen, dir: dir, cert: name})
	}
	t.Cleanup(func() {
		for _, p := range c.nodes {
			c.kill(p)
		}
	})
	return c
}

func (c *procCluster) node(name string) *procNode {
	for _, p := range c.nodes {
		if p.name == name {
			return p
		}
	}
	c.t.Fatalf("no node %s", name)
	return nil
}

// launch starts p's process and returns without waiting for it.
func (c *procCluster) launch(p *procNode, retry bool) {
	cmd := exec.Command(os.Args[0], "-test.run", "^"+c.test+"$")
	cmd.Env = append(os.Environ(), "OSS_PROC_DIR="+p.dir, "OSS_PROC_NAME="+p.name, "OSS_PROC_LISTEN="+p.listen,
		"OSS_PROC_JOIN="+strings.Join(p.join, ","), "OSS_PROC_CERTS="+filepath.Join(c.dir, "certs"), "OSS_PROC_CERT="+p.cert)
	if retry {
		cmd.Env = append(cmd.Env, "OSS_PROC_RETRY=1")
	}
	cmd.Stderr = nil
	stdin, err := cmd.StdinPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	p.cmd, p.stdin = cmd, stdin
	p.replies, p.done = make(chan string, 64), make(chan struct{})
	go func(replies chan string, done chan struct{}) {
		defer close(done)
		defer close(replies)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if m, ok := strings.CutPrefix(line, "ack "); ok {
				c.mu.Lock()
				c.acked[m] = p.name
				c.mu.Unlock()
				continue
			}
			if strings.HasPrefix(line, "err ") {
				continue
			}
			if strings.HasPrefix(line, "odd ") {
				c.mu.Lock()
				p.odd = append(p.odd, line)
				c.mu.Unlock()
				continue
			}
			replies <- line
		}
		cmd.Wait()
	}(p.replies, p.done)
}

// start launches p and waits until it is ready.
func (c *procCluster) start(p *procNode, retry bool) {
	c.t.Helper()
	c.launch(p, retry)
	if line := c.reply(p, "ready"); line != "ready" {
		c.t.Fatalf("%s did not start: %s\n%s", p.name, line, c.logTail(p))
	}
}

// reply returns p's next line other than an ack (what its end if it
// exits first).
func (c *procCluster) reply(p *procNode, what string) string {
	c.t.Helper()
	l := await.Recv(c.t, mapRecv(p.replies), p.name+": "+what)
	line, ok := l.line, l.ok
	if !ok {
		return fmt.Sprintf("exited (%v)", p.cmd.ProcessState)
	}
	return line
}

type procLine struct {
	line string
	ok   bool
}

func mapRecv(ch chan string) <-chan procLine {
	out := make(chan procLine, 1)
	go func() {
		line, ok := <-ch
		out <- procLine{line, ok}
	}()
	return out
}

func (c *procCluster) logTail(p *procNode) string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

func (c *procCluster) kill(p *procNode) {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGCONT)
	p.cmd.Process.Kill()
	p.stdin.Close()
	<-p.done
	p.cmd = nil
}

func (c *procCluster) send(p *procNode, line string) {
	c.t.Helper()
	if _, err := fmt.Fprintln(p.stdin, line); err != nil {
		c.t.Fatalf("%s: %s: %v", p.name, line, err)
	}
}

func (c *procCluster) live() []*procNode {
	var live []*procNode
	for _, p := range c.nodes {
		if p.cmd != nil && !p.skip {
			live = append(live, p)
		}
	}
	return live
}

// check quiets the writers of the live nodes, checks what every one reads,
// and lets them write again.
func (c *procCluster) check(phase string) {
	c.t.Helper()
	live := c.live()
	for _, p := range live {
		c.send(p, "quiet")
	}
	for _, p := range live {
		if line := c.reply(p, "quiet"); line != "quiet" {
			c.t.Fatalf("%s: %s: %s\n%s", phase, p.name, line, c.logTail(p))
		}
	}
	c.mu.Lock()
	acked := len(c.acked)
	by := map[string]int{}
	for _, name := range c.acked {
		by[name]++
	}
	c.mu.Unlock()
	var first string
	for _, p := range live {
		file := filepath.Join(p.dir, "markers")
		c.send(p, "check "+file)
		line := c.reply(p, "check")
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "state" {
			c.t.Fatalf("%s: %s reads: %s\n%s", phase, p.name, line, c.logTail(p))
		}
		if f[1] != fmt.Sprint(procAccounts*procBalance) {
			c.t.Errorf("%s: %s reads a sum of %s, not %d", phase, p.name, f[1], procAccounts*procBalance)
		}
		c.checkMarkers(phase, p, file)
		if first == "" {
			first = strings.Join(f[2:4], " ")
		} else if s := strings.Join(f[2:4], " "); s != first {
			c.t.Errorf("%s: %s reads %s, %s reads %s (markers, digest)", phase, p.name, s, live[0].name, first)
		}
		c.t.Logf("%s: %s reads %s", phase, p.name, strings.Join(f[1:], " "))
	}
	c.t.Logf("%s: %d transfers acknowledged so far %v", phase, acked, by)
	for _, p := range live {
		c.send(p, "go")
	}
}

// checkMarkers fails the test for each acknowledged marker missing from
// the markers file p wrote.
func (c *procCluster) checkMarkers(phase string, p *procNode, file string) {
	c.t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		c.t.Fatal(err)
	}
	have := strings.Split(string(b), "\n")
	slices.Sort(have)
	c.mu.Lock()
	defer c.mu.Unlock()
	missing := 0
	for m, by := range c.acked {
		if _, ok := slices.BinarySearch(have, m); !ok {
			if missing < 5 {
				c.t.Errorf("%s: %s does not read marker %s, acknowledged by %s", phase, p.name, m, by)
			}
			missing++
		}
	}
	if missing > 0 {
		c.t.Errorf("%s: %s misses %d acknowledged markers", phase, p.name, missing)
	}
}

// bootstrap starts first without Join, a new cluster, and then each of
// rest joining it through first.
func (c *procCluster) bootstrap(first *procNode, rest ...*procNode) {
	c.start(first, false)
	for _, p := range rest {
		p.join = []string{first.listen}
		c.start(p, false)
	}
}

// joinOthers has each of ps name the other servers as its Join for its
// next start.
func (c *procCluster) joinOthers(ps ...*procNode) {
	for _, p := range ps {
		p.join = c.others(p)
	}
}

// others returns the listen addresses of the nodes but p.
func (c *procCluster) others(p *procNode) []string {
	var addrs []string
	for _, q := range c.nodes {
		if q != p && q.name != "d" && procRole(q.name) == pki.RoleServer {
			addrs = append(addrs, q.listen)
		}
	}
	return addrs
}

func TestProbeProcsKilledAndRestarted(t *testing.T) {
	if os.Getenv("OSS_PROC_DIR") != "" {
		procChild()
		return
	}
	if !procsLong(t) {
		return
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	c := newProcCluster(t, "TestProbeProcsKilledAndRestarted", "a", "b", "c", "d")
	a, b, cc := c.node("a"), c.node("b"), c.node("c")
	c.bootstrap(a, b, cc)
	c.joinOthers(a, b, cc)
	pause := func(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }
	pause(2000)
	c.check("three started")
	rounds := 3
	if os.Getenv("OSS_LONG") != "" {
		rounds = 12
	}
	trio := []*procNode{a, b, cc}
	for r := range rounds {
		p := trio[rng.IntN(3)]
		pause(200 + rng.IntN(2000))
		c.kill(p)
		pause(rng.IntN(1500))
		c.start(p, true)
		c.check(fmt.Sprintf("kill %d (%s)", r, p.name))
	}
	p := trio[rng.IntN(3)]
	p.cmd.Process.Signal(syscall.SIGSTOP)
	pause(3000 + rng.IntN(3000))
	p.cmd.Process.Signal(syscall.SIGCONT)
	pause(1000)
	c.check("paused " + p.name)

	i := rng.IntN(3)
	two := []*procNode{trio[i], trio[(i+1)%3]}
	pause(500 + rng.IntN(1500))
	c.kill(two[0])
	c.kill(two[1])
	pause(rng.IntN(1500))
	c.launch(two[0], true)
	c.launch(two[1], true)
	for _, p := range two {
		if line := c.reply(p, "ready"); line != "ready" {
			t.Fatalf("%s did not start: %s\n%s", p.name, line, c.logTail(p))
		}
	}
	c.check("killed two: " + two[0].name + ", " + two[1].name)

	pause(500 + rng.IntN(1500))
	for _, p := range trio {
		c.kill(p)
	}
	for _, p := range trio {
		c.launch(p, true)
	}
	for _, p := range trio {
		if line := c.reply(p, "ready"); line != "ready" {
			t.Fatalf("%s did not start: %s\n%s", p.name, line, c.logTail(p))
		}
	}
	c.check("killed all three")
	c.replaced(trio, c.node("d"), rng)
	for _, p := range trio {
		c.send(p, "quiet")
		c.reply(p, "quiet")
		c.send(p, "close")
		if line := c.reply(p, "close"); line != "closed" {
			t.Errorf("%s: close: %s\n%s", p.name, line, c.logTail(p))
		}
	}
}

// status returns the heaps' voters and learners as p's Node.Status reports
// them: "heap=voters/learners ...".
func (c *procCluster) status(p *procNode) string {
	c.t.Helper()
	c.send(p, "status")
	line := c.reply(p, "status")
	s, ok := strings.CutPrefix(line, "status ")
	if !ok {
		c.t.Fatalf("%s: status: %s\n%s", p.name, line, c.logTail(p))
	}
	return s
}

// replaced starts a fourth node d, which joins; once placement has moved
// replicas to it, d is killed for good, its directory deleted. Its
// replicas must be replaced (ReplaceAfter, docs/design.md "Placement and
// reconciliation"), after which the three survive one more kill.
func (c *procCluster) replaced(trio []*procNode, d *procNode, rng *rand.Rand) {
	c.t.Helper()
	d.join = []string{trio[0].listen}
	c.start(d, false)
	has := func(st, name string) bool {
		for _, f := range strings.FieldsFunc(st, func(r rune) bool { return r == ' ' || r == ',' || r == '=' || r == '/' }) {
			if f == name {
				return true
			}
		}
		return false
	}
	var st string
	await.Until(c.t, "d holds a replica", func() bool {
		st = c.status(trio[0])
		return has(st, "d")
	})
	c.t.Logf("with d: %s", st)
	time.Sleep(2 * time.Second)
	c.check("four")
	c.kill(d)
	if err := os.RemoveAll(d.dir); err != nil {
		c.t.Fatal(err)
	}
	await.Until(c.t, "d's replicas replaced", func() bool {
		st = c.status(trio[rng.IntN(3)])
		return !has(st, "d")
	})
	c.t.Logf("d replaced: %s", st)
	c.check("d gone")
	p := trio[rng.IntN(3)]
	c.kill(p)
	time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
	c.start(p, true)
	c.check("d gone, then killed " + p.name)
}

// mistake starts p as it is set up and returns what its start printed:
// "ready", or "fail start: ..." and the like.
func (c *procCluster) mistake(p *procNode, retry bool) string {
	c.t.Helper()
	c.launch(p, retry)
	line := c.reply(p, "start")
	if line == "ready" {
		c.kill(p)
	} else {
		<-p.done
		p.cmd = nil
	}
	return line
}

func TestProbeProcsMistakes(t *testing.T) {
	if os.Getenv("OSS_PROC_DIR") != "" {
		procChild()
		return
	}
	c := newProcCluster(t, "TestProbeProcsMistakes", "a", "b", "c", "e")
	a, b, cc := c.node("a"), c.node("b"), c.node("c")
	c.bootstrap(a, b, cc)
	c.check("started")
	try := func(what string, p *procNode, retry bool, want ...string) {
		line := c.mistake(p, retry)
		t.Logf("%s: %s", what, line)
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: %s\nwant %q in it\n%s", what, line, w, c.logTail(p))
			}
		}
	}
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	spare := pc.LocalAddr().String()
	pc.Close()
	try("b's directory while b runs", &procNode{name: "b", listen: spare, dir: b.dir, cert: "b", join: []string{a.listen}}, false, "fail start", "in use by another process")
	try("e with b's certificate", &procNode{name: "e", listen: spare, dir: t.TempDir(), cert: "b", join: []string{a.listen}}, false, "fail start", `certificate names "b", not this node "e"`)
	try("b's name and certificate, a new directory, b live", &procNode{name: "b", listen: spare, dir: t.TempDir(), cert: "b", join: []string{a.listen}}, false, "fail start", "join refused", `node "b" is connected from`)
	try("wrong join address", &procNode{name: "e", listen: spare, dir: t.TempDir(), cert: "e", join: []string{"127.0.0.1:1"}}, false, "fail start", "no member answered at 127.0.0.1:1")
	c.check("after the mistakes, b live")
	c.kill(b)
	try("e on b's directory", &procNode{name: "e", listen: spare, dir: b.dir, cert: "e", join: []string{a.listen}}, false, "fail start", `is node "b"'s, not "e"'s`)
	try("b on its directory, e's certificate", &procNode{name: "b", listen: b.listen, dir: b.dir, cert: "e", join: []string{a.listen}}, false, "fail start", `certificate names "e", not this node "b"`)
	c.start(b, true)
	c.check("b back")
}

func TestProbeProcsCopiedAndLostDirectories(t *testing.T) {
	if os.Getenv("OSS_PROC_DIR") != "" {
		procChild()
		return
	}
	if !procsLong(t) {
		return
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 12))
	c := newProcCluster(t, "TestProbeProcsCopiedAndLostDirectories", "a", "b", "c", "e")
	a, b, cc, e := c.node("a"), c.node("b"), c.node("c"), c.node("e")
	c.bootstrap(a, b, cc)
	c.joinOthers(a, b, cc)
	time.Sleep(time.Second)
	c.check("started")
	c.kill(b)
	cp := filepath.Join(c.dir, "copy")
	os.MkdirAll(cp, 0o700)
	if out, err := exec.Command("cp", "-a", filepath.Join(b.dir, "data"), cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	c.start(b, true)
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	spare := pc.LocalAddr().String()
	pc.Close()
	line := c.mistake(&procNode{name: "b", listen: spare, dir: cp, cert: "b", join: c.others(b)}, false)
	t.Logf("a copy of b's directory while b runs: %s", line)
	if !strings.Contains(line, "fail start") || !strings.Contains(line, "join refused") {
		t.Errorf("a copy of b's directory started while b runs: %s\n%s", line, c.logTail(&procNode{dir: cp}))
	}
	time.Sleep(2 * time.Second)
	c.check("a copy of b's directory started")

	c.kill(cc)
	os.RemoveAll(filepath.Join(cc.dir, "data"))
	c.start(cc, true)
	time.Sleep(2 * time.Second)
	c.check("c restarted empty")

	e.join = []string{a.listen}
	for i := range 3 {
		c.launch(e, false)
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		c.kill(e)
		t.Logf("e killed while it starts, %d", i)
	}
	c.start(e, true)
	c.check("e started after kills")
	c.send(e, "quiet")
	c.reply(e, "quiet")
	c.send(e, "close")
	t.Logf("e closes: %s", c.reply(e, "close"))
	<-e.done
	e.cmd = nil
	c.check("e closed")

	c.kill(a)
	a.listen = spare
	c.start(a, true)
	time.Sleep(2 * time.Second)
	c.check("a at a new address")
}

func TestProbeProcsWholeRestartAsConfigured(t *testing.T) {
	if os.Getenv("OSS_PROC_DIR") != "" {
		procChild()
		return
	}
	c := newProcCluster(t, "TestProbeProcsWholeRestartAsConfigured", "a", "b", "c")
	a, b, cc := c.node("a"), c.node("b"), c.node("c")
	trio := []*procNode{a, b, cc}
	c.bootstrap(a, b, cc)
	time.Sleep(time.Second)
	c.check("started")
	for round, join := range []string{"the others, no retry", "none", "a alone, b and c with a, no retry"} {
		for _, p := range trio {
			c.kill(p)
		}
		for _, p := range trio {
			switch round {
			case 0:
				p.join = c.others(p)
			case 1:
				p.join = nil
			case 2:
				p.join = nil
				if p != a {
					p.join = []string{a.listen}
				}
			}
			c.launch(p, false)
		}
		for _, p := range trio {
			line := c.reply(p, "ready")
			if line != "ready" {
				t.Fatalf("join %s: %s: %s\n%s", join, p.name, line, c.logTail(p))
			}
		}
		c.check("restarted, join " + join)
	}
}

func TestProbeProcsOneAtATime(t *testing.T) {
	if os.Getenv("OSS_PROC_DIR") != "" {
		procChild()
		return
	}
	if !procsLong(t) {
		return
	}
	c := newProcCluster(t, "TestProbeProcsOneAtATime", "a", "b", "c")
	a, b, cc := c.node("a"), c.node("b"), c.node("c")
	trio := []*procNode{a, b, cc}
	c.bootstrap(a, b, cc)
	time.Sleep(time.Second)
	c.check("started")
	for _, p := range trio {
		c.kill(p)
		p.join = c.others(p)
	}
	// a alone, as the README's config starts it (Join, no JoinRetry):
	// it fails, saying what to do.
	line := c.mistake(a, false)
	for _, want := range []string{"fail start", "no member answered", "member already", "JoinRetry"} {
		if !strings.Contains(line, want) {
			t.Errorf("a restarted alone: %s\nwant %q in it", line, want)
		}
	}
	c.launch(a, true)
	time.Sleep(3 * time.Second)
	c.launch(b, true)
	for _, p := range []*procNode{a, b} {
		if line := c.reply(p, "ready"); line != "ready" {
			t.Fatalf("%s did not start: %s\n%s", p.name, line, c.logTail(p))
		}
	}
	c.start(cc, false)
	c.check("one at a time")
	// b's data directory removed under it while it runs: its writes fail
	// saying so.
	os.RemoveAll(filepath.Join(b.dir, "data"))
	await.Until(t, "b's transfers to fail for its log gone", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return slices.ContainsFunc(b.odd, func(line string) bool {
			return strings.Contains(line, "write-ahead log is gone") && strings.Contains(line, "start it empty, with Join")
		})
	})
	c.kill(b)
	c.start(b, false)
	time.Sleep(2 * time.Second)
	c.check("b rebuilt empty")
}

func TestProbeProcsPausedPastReplaceAfter(t *testing.T) {
	if os.Getenv("OSS_PROC_DIR") != "" {
		procChild()
		return
	}
	if !procsLong(t) {
		return
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 13))
	c := newProcCluster(t, "TestProbeProcsPausedPastReplaceAfter", "a", "b", "c", "e")
	a, b, cc, e := c.node("a"), c.node("b"), c.node("c"), c.node("e")
	c.bootstrap(a, b, cc, e)
	all := []*procNode{a, b, cc, e}
	c.joinOthers(all...)
	time.Sleep(2 * time.Second)
	t.Logf("four: %s", c.status(a))
	c.check("four")
	p := all[rng.IntN(4)]
	p.cmd.Process.Signal(syscall.SIGSTOP)
	q := all[(slices.Index(all, p)+1)%4]
	// Past ReplaceAfter (30 s by default) with OSS_LONG: its replicas
	// move to the fourth server, and back once it resumes.
	paused := 5 * time.Second
	if os.Getenv("OSS_LONG") != "" {
		paused = 40 * time.Second
	}
	time.Sleep(paused)
	t.Logf("%s paused %v: %s", p.name, paused, c.status(q))
	p.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(3 * time.Second)
	c.check(p.name + " resumed")
	t.Logf("%s resumed: %s", p.name, c.status(q))
	for r := range 3 {
		p := all[rng.IntN(4)]
		c.send(p, "quiet")
		c.reply(p, "quiet")
		c.send(p, "close")
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		c.kill(p)
		c.start(p, true)
		c.check(fmt.Sprintf("killed while closing %d (%s)", r, p.name))
	}
}

// A client node (pki.RoleClient: a learner of the heaps it opens) in a
// process of its own, killed and restarted, and a server killed under it.
func TestProbeProcsClientNodeKilled(t *testing.T) {
	if os.Getenv("OSS_PROC_DIR") != "" {
		procChild()
		return
	}
	if !procsLong(t) {
		return
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 14))
	c := newProcCluster(t, "TestProbeProcsClientNodeKilled", "a", "b", "c", "k")
	a, b, cc, k := c.node("a"), c.node("b"), c.node("c"), c.node("k")
	c.bootstrap(a, b, cc, k)
	all := []*procNode{a, b, cc, k}
	c.joinOthers(all...)
	time.Sleep(time.Second)
	t.Logf("with k: %s", c.status(a))
	c.check("started")
	for r := range 3 {
		time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
		c.kill(k)
		c.start(k, true)
		c.check(fmt.Sprintf("k killed %d", r))
	}
	p := all[rng.IntN(3)]
	c.kill(p)
	time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
	c.check(p.name + " down")
	c.start(p, true)
	c.check(p.name + " back")
}

// procsLong reports whether the longer process probes run (OSS_LONG=1):
// each starts three or four node processes and runs for 12 to 80 s on
// two cores, which the default run of the package cannot afford; the
// mistakes and the whole restart run by default.
func procsLong(t *testing.T) bool {
	if os.Getenv("OSS_LONG") == "" {
		t.Log("a longer process probe: runs with OSS_LONG=1")
		return false
	}
	return true
}
