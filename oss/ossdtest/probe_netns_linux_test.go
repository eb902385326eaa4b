package ossdtest_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// netns is a network namespace joined to this one by a veth pair: the
// nodes run here listen on Host, the one run there on Inside, and taking
// the host's end of the pair down cuts it off from them in the kernel.
type netns struct {
	t            *testing.T
	name, veth   string
	Host, Inside string
}

func ip(t *testing.T, args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// newNetns makes a namespace and its veth pair, removed when the test
// ends; it returns nil if this process cannot (not root, no ip).
func newNetns(t *testing.T) *netns {
	id := os.Getpid() % 250
	n := &netns{t: t, name: fmt.Sprintf("ossprobe%d", os.Getpid()), veth: fmt.Sprintf("osp%dh", os.Getpid()),
		Host: fmt.Sprintf("10.199.%d.1", id), Inside: fmt.Sprintf("10.199.%d.2", id)}
	if os.Geteuid() != 0 {
		return nil
	}
	if err := ip(t, "netns", "add", n.name); err != nil {
		t.Log(err)
		return nil
	}
	t.Cleanup(func() { ip(t, "netns", "del", n.name) })
	inner := fmt.Sprintf("osp%dn", os.Getpid())
	for _, args := range [][]string{
		{"link", "add", n.veth, "type", "veth", "peer", "name", inner},
		{"link", "set", inner, "netns", n.name},
		{"addr", "add", n.Host + "/24", "dev", n.veth},
		{"link", "set", n.veth, "up"},
		{"-n", n.name, "addr", "add", n.Inside + "/24", "dev", inner},
		{"-n", n.name, "link", "set", inner, "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
	} {
		if err := ip(t, args...); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { ip(t, "link", "del", n.veth) })
	return n
}

// cut takes the host's end of the pair down (cut) or up again.
func (n *netns) cut(cut bool) {
	state := "up"
	if cut {
		state = "down"
	}
	if err := ip(n.t, "link", "set", n.veth, state); err != nil {
		n.t.Fatal(err)
	}
}

// rehome moves a reserved node's QUIC address to host (its port kept).
func rehome(p *ossdtest.Proc, host string) {
	_, port, _ := net.SplitHostPort(p.Addr)
	p.Addr = net.JoinHostPort(host, port)
	p.Peer = p.Addr
}

// TestOssdProbeNetnsPartition runs four ossd processes, n4 in its own
// network namespace, under the bank, counter and list-append workloads,
// and cuts n4 off in the kernel (its veth down: what it sends fails, what
// is sent to it is lost) for 8 s and then for 40 s, past replace-after,
// while it leads or holds a voter of bank. After each heal placement must
// settle, with no node listed twice in a group; at the end every replica
// holds the same state and every workload's promises hold.
func TestOssdProbeNetnsPartition(t *testing.T) {
	if os.Getenv("OSS_NETNS") == "" {
		t.Log("a probe of minutes that needs root and ip(8): run with OSS_NETNS=1")
		return
	}
	ns := newNetns(t)
	if ns == nil {
		t.Fatal("OSS_NETNS=1 but no network namespace can be made here (needs root and ip(8))")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	c, err := ossdtest.New(ctx, t.TempDir(), ossdBin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Flags = []string{"--gossip", "loopback", "--durability", "sync", "--replace-after", "15s"}
	c.Wrap = func(name string, argv []string) []string {
		if name == "n4" {
			return append([]string{"ip", "netns", "exec", ns.name}, argv...)
		}
		return argv
	}
	ch := newChurn(ctx, t, c, map[string]int{"bank": 3, "ctr": 3, "lists": 3})
	for _, name := range []string{"n1", "n2", "n3", "n4"} {
		r, err := c.Reserve(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "n4" {
			rehome(r, ns.Inside)
			_, port, _ := net.SplitHostPort(r.HTTP)
			r.HTTP = net.JoinHostPort(ns.Inside, port)
		} else {
			rehome(r, ns.Host)
		}
		p, err := c.Restart(ctx, r, ch.live()...)
		if err != nil {
			t.Fatal(err)
		}
		ch.set(p)
	}
	ch.startWorkload(31)
	b := newBank(ch, "bank", 8)
	cn := &counters{ch: ch, heap: "ctr", outs: map[int]map[int]outcome{}}
	stop := probeLoad(ch, b, cn, 31)
	ch.settle("four nodes")

	for _, d := range []time.Duration{8 * time.Second, 40 * time.Second} {
		ns.cut(true)
		ch.cut["n4"] = true
		start := time.Now()
		if d > 15*time.Second {
			for _, heap := range sortedHeaps(ch.heaps) {
				ch.statusSays(heap, func(h oss.HeapStatus, _ string) string {
					if slices.Contains(h.Voters, "n4") {
						return fmt.Sprintf("voters %v still hold n4, cut off", h.Voters)
					}
					return ""
				})
			}
		}
		time.Sleep(d - time.Since(start))
		ns.cut(false)
		delete(ch.cut, "n4")
		ch.settle(fmt.Sprintf("n4 cut off for %v and healed", d))
		ch.noDoubles(fmt.Sprintf("n4 cut off for %v and healed", d))
	}

	stop()
	ch.finish(31)
	p := ch.live()[0]
	b.check(p)
	cn.check(p)
}
