// Command demo is the first thing to run: a tour of an OSS cluster.
//
// It builds ossd, starts three nodes on loopback as three processes, and
// runs bank transfers through all three at once, each a conditional
// transaction on the shared heap "bank". Then it kills the bank's leader
// with SIGKILL and shows the survivors electing a new one, starts a fourth
// node, and shows the bank's group replacing the dead voter with it. At
// the end it checks that no money was made or lost on any node and that
// every replica holds the same state, and prints a summary.
//
//	go run ./demo [-load 8s] [-workers 4] [-accounts 20] [-replace-after 3s] [-seed N] [-keep]
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

type options struct {
	load         time.Duration // transfers before the kill, and again after the replacement
	workers      int           // per node
	accounts     int
	replaceAfter time.Duration
	seed         uint64
	keep         bool // keep the directory with the logs
}

const (
	heap           = "bank"
	initialBalance = 100
)

func main() {
	o, err := parseOptions(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case errors.Is(err, errFlags): // the flag package said what is wrong
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second Ctrl-C while the nodes are stopped ends the demo at once.
	context.AfterFunc(ctx, stop)
	fi, _ := os.Stdout.Stat()
	tty := fi != nil && fi.Mode()&os.ModeCharDevice != 0
	err = run(ctx, o, os.Stdout, tty)
	switch {
	case ctx.Err() != nil:
		// Stopped on the user's word: no failure, but no verdict either,
		// so 130 (128 + SIGINT, what a shell reports for a process that
		// a Ctrl-C ended), not the 0 of a tour whose checks passed (see
		// docs/design.md, "The demo on Ctrl-C").
		fmt.Fprintln(os.Stderr, "demo: interrupted; its nodes were stopped")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// errFlags marks an error of the flag package, which has printed it.
var errFlags = errors.New("bad flags")

// parseOptions parses the command line's flags, and refuses values the
// tour cannot run with and words left over.
func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.DurationVar(&o.load, "load", 8*time.Second, "how long transfers run before the kill and after the replacement")
	fs.IntVar(&o.workers, "workers", 4, "concurrent transfer loops per node")
	fs.IntVar(&o.accounts, "accounts", 20, "number of accounts")
	fs.DurationVar(&o.replaceAfter, "replace-after", 3*time.Second, "how long a dead voter waits to be replaced")
	fs.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "random seed")
	fs.BoolVar(&o.keep, "keep", false, "keep the cluster's directory (certificates, logs)")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errFlags, err)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q: the demo takes flags only (-h lists them)", fs.Arg(0))
	case o.accounts < 2 || o.workers < 1:
		return o, errors.New("want at least 2 accounts and 1 worker")
	case o.load < 0:
		return o, fmt.Errorf("-load %v: want a duration of 0 or more", o.load)
	case o.replaceAfter <= 0:
		return o, fmt.Errorf("-replace-after %v: want a positive duration", o.replaceAfter)
	}
	return o, nil
}

// tour is one run of the demo.
type tour struct {
	o   options
	out io.Writer
	tty bool
	c   *ossdtest.Cluster
	ids []uuid.UUID

	mu      sync.Mutex // protects following fields
	live    []*ossdtest.Proc
	leader  string
	perNode map[string]int

	commits     atomic.Int64
	conflicts   atomic.Int64
	unavailable atomic.Int64
	killedAt    atomic.Int64 // unix nanos of the SIGKILL, 0 before
	failover    atomic.Int64 // nanos from the kill to the first commit begun after it
}

func (t *tour) say(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tty {
		fmt.Fprint(t.out, "\r\033[K")
	}
	fmt.Fprintf(t.out, "▸ "+format+"\n", args...)
}

func run(ctx context.Context, o options, out io.Writer, tty bool) (err error) {
	dir, err := os.MkdirTemp("", "oss-demo-")
	if err != nil {
		return err
	}
	t := &tour{o: o, out: out, tty: tty, perNode: map[string]int{}}
	built := false // until then the directory holds nothing to look at
	defer func() {
		if built && (err != nil && ctx.Err() == nil || o.keep) {
			fmt.Fprintf(out, "logs and certificates are in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	t.say("building ossd")
	bin, err := ossdtest.Build(ctx, dir)
	if errors.Is(err, ossdtest.ErrNoModule) {
		return fmt.Errorf("%w: run the demo in the repository's directory (go run ./demo)", err)
	}
	if err != nil {
		return err
	}
	built = true
	if t.c, err = ossdtest.New(ctx, dir, bin); err != nil {
		return err
	}
	defer t.c.Close()
	t.c.Flags = []string{"--gossip", "loopback", "--replace-after", o.replaceAfter.String()}
	if err := t.startCluster(ctx, bin); err != nil {
		return err
	}

	l := t.startLoad(ctx)
	start := time.Now()
	sleep(ctx, o.load)
	victim, err := t.killLeader(ctx)
	var replaced time.Duration
	if err == nil {
		replaced, err = t.replace(ctx, l, victim)
	}
	l.end()
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.say("load stopped")

	// Checks.
	digest, err := t.sameState(ctx)
	if err != nil {
		return err
	}
	total, err := t.conserved(ctx)
	if err != nil {
		return err
	}
	t.summary(elapsed, victim, replaced, total, digest)
	for _, p := range t.live {
		if err := p.Stop(15 * time.Second); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "  shutdown              every node handed over and left\nOK\n")
	return nil
}

// startCluster starts three nodes of bin and the bank on them, and shows
// the ossd command line at work on it.
func (t *tour) startCluster(ctx context.Context, bin string) error {
	n1, err := t.c.Start(ctx, "n1")
	if err != nil {
		return err
	}
	t.say("n1 bootstraps a cluster (QUIC %s, admin https://%s)", n1.Addr, n1.HTTP)
	n2, err := t.c.Start(ctx, "n2", n1)
	if err != nil {
		return err
	}
	n3, err := t.c.Start(ctx, "n3", n1)
	if err != nil {
		return err
	}
	t.live = []*ossdtest.Proc{n1, n2, n3}
	t.say("n2 and n3 join through n1")

	if err := t.createAccounts(ctx, n1); err != nil {
		return err
	}
	if err := t.cli(ctx, bin, n2); err != nil {
		return err
	}
	g, err := t.waitGroup(ctx, func(h oss.HeapStatus) bool { return h.Leader != "" && len(h.Voters) == 3 })
	if err != nil {
		return err
	}
	t.say("heap %q: %d accounts of %d; voters %s, leader %s", heap, t.o.accounts, initialBalance, strings.Join(g.Voters, ","), g.Leader)
	return nil
}

// load is the transfer loops running.
type load struct {
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// end stops the transfer loops and waits for them.
func (l *load) end() {
	l.stop()
	l.wg.Wait()
}

// startLoad starts the transfer loops through every live node, and the
// progress line.
func (t *tour) startLoad(ctx context.Context) *load {
	l := &load{}
	l.ctx, l.stop = context.WithCancel(ctx)
	seed := t.o.seed
	for i, p := range t.live {
		for w := range t.o.workers {
			rng := rand.New(rand.NewPCG(seed, uint64(i*1000+w)))
			l.wg.Go(func() { t.worker(l.ctx, p, rng) })
		}
	}
	l.wg.Go(func() { t.progress(l.ctx) })
	t.say("%d transfer loops run through all three nodes (seed %d)", 3*t.o.workers, seed)
	return l
}

// killLeader kills the bank's leader with SIGKILL and waits until the
// survivors elect another, and a transfer begun after the kill commits.
func (t *tour) killLeader(ctx context.Context) (*ossdtest.Proc, error) {
	g, err := t.waitGroup(ctx, func(h oss.HeapStatus) bool { return h.Leader != "" })
	if err != nil {
		return nil, err
	}
	victim := t.proc(g.Leader)
	t.killedAt.Store(time.Now().UnixNano())
	victim.Kill()
	t.drop(victim)
	t.say("SIGKILL %s, the bank's leader", victim.Name)
	g, err = t.waitGroup(ctx, func(h oss.HeapStatus) bool { return h.Leader != "" && h.Leader != victim.Name })
	if err != nil {
		return nil, err
	}
	for t.failover.Load() == 0 && ctx.Err() == nil {
		sleep(ctx, 10*time.Millisecond)
	}
	t.say("failover: %s leads the bank; the first transfer begun after the kill committed %v after it",
		g.Leader, time.Duration(t.failover.Load()).Round(time.Millisecond))
	return victim, nil
}

// replace starts a fourth node, with transfer loops of its own in l, waits
// until the bank's group has replaced victim with it, and lets the load
// run on a while. It returns how long after the kill the new node voted.
func (t *tour) replace(ctx context.Context, l *load, victim *ossdtest.Proc) (time.Duration, error) {
	n4, err := t.c.Start(ctx, "n4", t.live...)
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	t.live = append(t.live, n4)
	t.mu.Unlock()
	for w := range t.o.workers {
		rng := rand.New(rand.NewPCG(t.o.seed, uint64(4000+w)))
		l.wg.Go(func() { t.worker(l.ctx, n4, rng) })
	}
	t.say("n4 joins; the bank waits %v for %s to come back before replacing it", t.o.replaceAfter, victim.Name)
	g, err := t.waitGroup(ctx, func(h oss.HeapStatus) bool {
		return !h.Joint && slices.Contains(h.Voters, "n4") && !slices.Contains(h.Voters, victim.Name) && len(h.Voters) == 3
	})
	if err != nil {
		return 0, err
	}
	replaced := time.Since(time.Unix(0, t.killedAt.Load()))
	t.say("replacement: n4 is a voter %v after the kill; voters %s, leader %s",
		replaced.Round(time.Millisecond), strings.Join(g.Voters, ","), g.Leader)
	sleep(ctx, t.o.load/2)
	return replaced, nil
}

// summary prints what the tour measured and checked.
func (t *tour) summary(elapsed time.Duration, victim *ossdtest.Proc, replaced time.Duration, total int64, digest string) {
	out := t.out
	var per []string
	for _, name := range slices.Sorted(maps.Keys(t.perNode)) {
		per = append(per, fmt.Sprintf("%s %d", name, t.perNode[name]))
	}
	fmt.Fprintf(out, "\nsummary\n")
	fmt.Fprintf(out, "  transfers committed   %d (%s), %.0f/s\n", t.commits.Load(), strings.Join(per, ", "), float64(t.commits.Load())/elapsed.Seconds())
	fmt.Fprintf(out, "  conflicts             %d (a read was out of date; the loop read again)\n", t.conflicts.Load())
	fmt.Fprintf(out, "  unavailable           %d (no leader or node gone; retried elsewhere)\n", t.unavailable.Load())
	fmt.Fprintf(out, "  failover              %v from SIGKILL of %s to the next commit\n", time.Duration(t.failover.Load()).Round(time.Millisecond), victim.Name)
	fmt.Fprintf(out, "  replacement           %v from SIGKILL to n4 voting\n", replaced.Round(time.Millisecond))
	fmt.Fprintf(out, "  money                 %d on every node, as created: conserved\n", total)
	fmt.Fprintf(out, "  replicas              %s\n", digest)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (t *tour) proc(name string) *ossdtest.Proc {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.live {
		if p.Name == name {
			return p
		}
	}
	return t.live[0]
}

func (t *tour) drop(p *ossdtest.Proc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.live = slices.DeleteFunc(t.live, func(q *ossdtest.Proc) bool { return q == p })
	if t.leader == p.Name {
		// Until a status names the next leader, the progress line shows
		// none rather than the dead node.
		t.leader = "none (" + p.Name + " killed)"
	}
}

func (t *tour) any() *ossdtest.Proc {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live[rand.IntN(len(t.live))]
}

func (t *tour) createAccounts(ctx context.Context, p *ossdtest.Proc) error {
	for i := range t.o.accounts {
		c, err := p.PutRoot(ctx, heap, fmt.Sprintf("acct-%02d", i), map[string]int{"balance": initialBalance})
		if err != nil {
			return fmt.Errorf("create account %d: %w", i, err)
		}
		t.ids = append(t.ids, c.ID)
	}
	return nil
}

// cli reads an account with ossd's CLI through a node's admin interface,
// as the operator "admin" whose certificate ossdtest issued, and shows
// that the interface refuses a client without a certificate.
func (t *tour) cli(ctx context.Context, bin string, p *ossdtest.Proc) error {
	args := []string{"get", heap, "acct-00", "--fresh", "--http", p.HTTP, "--certs", t.c.Certs(), "--user", "admin"}
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ossd %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	var o admin.Object
	if err := json.Unmarshal(out, &o); err != nil {
		return fmt.Errorf("ossd get: %w\n%s", err, out)
	}
	b, err := balance(o)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer hc.CloseIdleConnections()
	_, nocert := hc.Get("https://" + p.HTTP + "/v1/heaps")
	if nocert == nil {
		return errors.New("the admin interface answered a client without a certificate")
	}
	t.say("ossd get %s acct-00 --certs %s --user admin: balance %d (via %s; without a certificate: refused)",
		heap, filepath.Base(t.c.Certs()), b, p.Name)
	return nil
}

// waitGroup polls the cluster's status until the bank's group satisfies
// cond, for up to a minute.
func (t *tour) waitGroup(ctx context.Context, cond func(oss.HeapStatus) bool) (oss.HeapStatus, error) {
	deadline := time.Now().Add(time.Minute)
	seen := "no node answered its status"
	for time.Now().Before(deadline) && ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		st, err := t.any().Status(sctx)
		cancel()
		if err != nil {
			seen = "the last status request failed: " + err.Error()
		}
		if err == nil {
			for _, h := range st.Heaps {
				if h.Name != heap {
					continue
				}
				if cond(h) {
					t.mu.Lock()
					t.leader = h.Leader
					t.mu.Unlock()
					return h, nil
				}
				seen = groupSeen(st, h)
			}
		}
		sleep(ctx, 50*time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return oss.HeapStatus{}, err
	}
	return oss.HeapStatus{}, fmt.Errorf("the bank's group did not reach the expected state within a minute; last seen: %s", seen)
}

// groupSeen says what a node's status shows of the bank's group: its
// voters and leader, and the members the node cannot reach (a node of the
// demo killed from outside, say).
func groupSeen(st oss.ClusterStatus, h oss.HeapStatus) string {
	lead := h.Leader
	if lead == "" {
		lead = "none"
	}
	s := fmt.Sprintf("by %s, voters %s, leader %s", st.Node, strings.Join(h.Voters, ","), lead)
	if len(st.Unreachable) > 0 {
		s += ", unreachable " + strings.Join(st.Unreachable, ",")
	}
	return s
}

type account struct {
	Balance int64 `json:"balance"`
}

func balance(o admin.Object) (int64, error) {
	b, err := json.Marshal(o.Value)
	if err != nil {
		return 0, err
	}
	var a account
	err = json.Unmarshal(b, &a)
	return a.Balance, err
}

// worker runs transfers through one node until ctx ends; if its node goes
// away it moves to another.
func (t *tour) worker(ctx context.Context, p *ossdtest.Proc, rng *rand.Rand) {
	n := len(t.ids)
	for ctx.Err() == nil {
		i, j := rng.IntN(n), rng.IntN(n-1)
		if j >= i {
			j++
		}
		begun := time.Now()
		err := t.transfer(ctx, p, t.ids[i], t.ids[j], 1+rng.Int64N(10))
		switch {
		case err == nil:
			t.commits.Add(1)
			t.mu.Lock()
			t.perNode[p.Name]++
			t.mu.Unlock()
			if k := t.killedAt.Load(); k != 0 && begun.UnixNano() >= k && t.failover.Load() == 0 {
				t.failover.CompareAndSwap(0, time.Now().UnixNano()-k)
			}
		case errors.Is(err, oss.ErrConflict):
			t.conflicts.Add(1)
		case ctx.Err() != nil:
			return
		default:
			t.unavailable.Add(1)
			if p.Exited() {
				p = t.any()
			}
			sleep(ctx, 20*time.Millisecond)
		}
	}
}

// transfer moves amount from one account to another in one conditional
// transaction: it reads both from the node's local replica and commits
// only if neither changed since.
func (t *tour) transfer(ctx context.Context, p *ossdtest.Proc, from, to uuid.UUID, amount int64) error {
	a, err := p.Object(ctx, heap, from, false)
	if err != nil {
		return err
	}
	b, err := p.Object(ctx, heap, to, false)
	if err != nil {
		return err
	}
	ab, err := balance(a)
	if err != nil {
		return err
	}
	bb, err := balance(b)
	if err != nil {
		return err
	}
	av, _ := json.Marshal(account{ab - amount})
	bv, _ := json.Marshal(account{bb + amount})
	_, err = p.Commit(ctx, heap, &admin.Txn{
		Reads:  []admin.Read{{ID: from, Version: a.Version}, {ID: to, Version: b.Version}},
		Writes: []admin.Write{{ID: from, Value: av}, {ID: to, Value: bv}},
	})
	return err
}

// progress shows a live line of counts until ctx ends.
func (t *tour) progress(ctx context.Context) {
	every := 250 * time.Millisecond
	if !t.tty {
		every = 2 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	start, last, lastAt := time.Now(), int64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			if t.tty {
				t.mu.Lock()
				fmt.Fprint(t.out, "\r\033[K")
				t.mu.Unlock()
			}
			return
		case now := <-tick.C:
			t.refreshLeader(ctx)
			c := t.commits.Load()
			rate := float64(c-last) / now.Sub(lastAt).Seconds()
			last, lastAt = c, now
			t.mu.Lock()
			line := fmt.Sprintf("  %5.1fs  %7d transfers  %6.0f/s  conflicts %d  unavailable %d  leader %s",
				now.Sub(start).Seconds(), c, rate, t.conflicts.Load(), t.unavailable.Load(), t.leader)
			if t.tty {
				fmt.Fprint(t.out, "\r\033[K"+line)
			} else {
				fmt.Fprintln(t.out, line)
			}
			t.mu.Unlock()
		}
	}
}

// refreshLeader sets the leader the progress line shows to the bank's
// leader as a live node reports it now; a leader that is no live node
// (killed, its group not yet past the election) shows as none. A node
// that does not answer within a second leaves the line as it was.
func (t *tour) refreshLeader(ctx context.Context) {
	t.mu.Lock()
	if len(t.live) == 0 {
		t.mu.Unlock()
		return
	}
	p := t.live[rand.IntN(len(t.live))]
	t.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	st, err := p.Status(sctx)
	cancel()
	if err != nil {
		return
	}
	for _, h := range st.Heaps {
		if h.Name != heap || h.Leader == "" {
			continue
		}
		t.mu.Lock()
		t.leader = h.Leader
		if !slices.ContainsFunc(t.live, func(q *ossdtest.Proc) bool { return q.Name == h.Leader }) {
			t.leader = "none (" + h.Leader + " killed)"
		}
		t.mu.Unlock()
	}
}

// sameState waits until every live node has applied the same index and
// checks that their replicas' digests match.
func (t *tour) sameState(ctx context.Context) (string, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ds []admin.Digest
		var names []string
		var err error
		for _, p := range t.live {
			var d admin.Digest
			if d, err = p.Digest(ctx, heap); err != nil {
				break
			}
			ds, names = append(ds, d), append(names, p.Name)
		}
		if err == nil && !slices.ContainsFunc(ds, func(d admin.Digest) bool { return d.Index != ds[0].Index }) {
			for i, d := range ds {
				if d.Digest != ds[0].Digest {
					return "", fmt.Errorf("replicas differ at index %d: %s has %s, %s has %s", d.Index, names[0], ds[0].Digest, names[i], d.Digest)
				}
			}
			return fmt.Sprintf("identical on %s (index %d, digest %s…)", strings.Join(names, ", "), ds[0].Index, ds[0].Digest[:12]), nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return "", cerr
		}
		if time.Now().After(deadline) {
			return "", t.notSame(ds, names, err)
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

// notSame says which replicas stayed behind the others, and what the
// log of each one behind last said went wrong: a node that cannot write
// its log (a full disk) falls behind for good, and said only that the
// replicas did not reach the same index. err is why a node did not
// answer, if one did not.
func (t *tour) notSame(ds []admin.Digest, names []string, err error) error {
	const what = "replicas did not reach the same index within 20s"
	if err != nil || len(ds) == 0 {
		return fmt.Errorf("%s: %v", what, err)
	}
	top := slices.MaxFunc(ds, func(a, b admin.Digest) int { return cmp.Compare(a.Index, b.Index) }).Index
	var each []string
	for i, d := range ds {
		s := fmt.Sprintf("%s at %d", names[i], d.Index)
		if line := lastError(t.live[i]); d.Index < top && line != "" {
			s += " (its log: " + line + ")"
		}
		each = append(each, s)
	}
	return fmt.Errorf("%s: %s", what, strings.Join(each, "; "))
}

// lastError returns the last line of p's log that logs an error, or "".
func lastError(p *ossdtest.Proc) string {
	lines := strings.Split(p.Tail(1000), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "level=ERROR") {
			return lines[i]
		}
	}
	return ""
}

// conserved sums the accounts on every live node with linearizable reads,
// all of one state: a transfer whose caller gave up (its outcome unknown
// at the kill) may still commit after the load stopped, and reads of
// different states would see half of it.
func (t *tour) conserved(ctx context.Context) (int64, error) {
	want := int64(t.o.accounts * initialBalance)
	for _, p := range t.live {
		sum, err := t.sumAtOneIndex(ctx, p)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.Name, err)
		}
		if sum != want {
			return 0, fmt.Errorf("%s holds %d in all accounts, want %d: money was made or lost", p.Name, sum, want)
		}
	}
	return want, nil
}

// sumAtOneIndex reads every account on p until one pass reads them all at
// one applied index, and sums that pass.
func (t *tour) sumAtOneIndex(ctx context.Context, p *ossdtest.Proc) (int64, error) {
	for pass := 0; ; pass++ {
		var sum int64
		var index uint64
		same := true
		for i, id := range t.ids {
			o, err := p.Object(ctx, heap, id, true)
			if err != nil {
				return 0, err
			}
			b, err := balance(o)
			if err != nil {
				return 0, err
			}
			if i == 0 {
				index = o.Index
			}
			same = same && o.Index == index
			sum += b
		}
		if same {
			return sum, nil
		}
		if pass == 100 {
			return 0, fmt.Errorf("the heap kept changing: no pass of %d reads at one index", len(t.ids))
		}
		sleep(ctx, 20*time.Millisecond)
	}
}
