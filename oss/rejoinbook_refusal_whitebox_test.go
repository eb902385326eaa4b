package oss

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/objectsharing/oss/transport/transporttest"
)

// newBookCluster starts a cluster of QUIC servers, each on a data
// directory of its name under base, each node's configuration adjusted
// by tweak[name] if set.
func newBookCluster(t *testing.T, base string, tweak map[string]func(*Config), names ...string) *quicCluster {
	t.Helper()
	c := newQUICClusterWith(t, 100*time.Millisecond, func(cfg *Config) { cfg.DataDir = filepath.Join(base, cfg.Name) })
	for _, name := range names {
		if _, err := c.launch(name, pki.RoleServer, tweak[name]); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
	}
	return c
}

// awaitBook waits until the peer book of name (in its data directory
// under base) lists each of others at its address.
func awaitBook(t *testing.T, c *quicCluster, base, name string, others ...string) {
	t.Helper()
	await.Until(t, name+"'s book to list "+strings.Join(others, ", "), func() bool {
		b, err := os.ReadFile(filepath.Join(base, name, peersFile))
		if err != nil {
			return false
		}
		for _, o := range others {
			if !strings.Contains(string(b), o+" "+c.nodes[o].Addr()) {
				return false
			}
		}
		return true
	})
}

// A second node started without Join on a copy of a member's data
// directory, while that member runs, is refused at start as through
// Join: its book's servers refuse it, a node of its name being connected
// to them from another address. Its start returned nil, the refusal
// logged as "no server answers yet", and it went on trying under the
// member's raft ID, to get in on its stale log once the member stopped.
func TestCopyOfAMembersDataDirStartedWithoutJoinIsRefused(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	c := newBookCluster(t, base, nil, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	awaitBook(t, c, base, "a", "b", "c")
	addr := c.nodes["a"].Addr()
	if err := c.nodes["a"].stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	delete(c.nodes, "a")
	copied := filepath.Join(base, "copy-of-a")
	if err := os.CopyFS(copied, os.DirFS(filepath.Join(base, "a"))); err != nil {
		t.Fatal(err)
	}

	cfg := c.serverConfig("a", addr)
	cfg.DataDir = filepath.Join(base, "a")
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("a restarted without Join: %v", err)
	}
	c.nodes["a"] = n
	await.Until(t, "a in b's and c's views", func() bool {
		return memberAt(c.nodes["b"], "a", addr) && memberAt(c.nodes["c"], "a", addr)
	})

	dup := c.serverConfig("a", "127.0.0.1:0")
	dup.DataDir = copied
	d, err := Start(ctx, dup)
	if err == nil {
		members := d.Members()
		d.stop(context.Background(), false)
		t.Fatalf("a copy of a's data directory started without Join while a runs: started, members %v; want it refused", members)
	}
	if !errors.Is(err, ErrJoinRefused) || !strings.Contains(err.Error(), transport.ErrNameTaken.Error()) {
		t.Fatalf("a copy of a's data directory started without Join while a runs: %v; want ErrJoinRefused, its name taken", err)
	}
	t.Logf("refused: %v", err)
}

// A member killed (its peers' connections with it and their membership
// still hold it) and restarted without Join at another port starts, and
// its peers take it at its new address: its book's servers find its old
// connection silent and let the new one in, no refusal of its name.
func TestMemberKilledAndRestartedWithoutJoinElsewhereStarts(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fc := transporttest.NewFaultConn(pc, 1)
	onFault := func(cfg *Config) { cfg.Listen, cfg.PacketConn = pc.LocalAddr().String(), fc }
	c := newBookCluster(t, base, map[string]func(*Config){"a": onFault}, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	awaitBook(t, c, base, "a", "b", "c")
	old := c.nodes["a"].Addr()
	await.Until(t, "a in b's and c's views", func() bool {
		return memberAt(c.nodes["b"], "a", old) && memberAt(c.nodes["c"], "a", old)
	})
	// Killed: nothing it sends reaches anyone any more.
	fc.SetFaults(transporttest.PacketFaults{Drop: 1})
	c.nodes["a"].stop(context.Background(), false)
	delete(c.nodes, "a")
	fc.Close()

	cfg := c.serverConfig("a", "127.0.0.1:0")
	cfg.DataDir = filepath.Join(base, "a")
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("a, killed and restarted without Join at another port: %v", err)
	}
	c.nodes["a"] = n
	await.Until(t, "a at its new address in b's and c's views", func() bool {
		return memberAt(c.nodes["b"], "a", n.Addr()) && memberAt(c.nodes["c"], "a", n.Addr())
	})
}

// A Start of a member without Join whose ctx ends while it rejoins its
// book's servers fails with ctx's error, as one through Join does: it
// returned a node, ctx ended.
func TestRestartWithoutJoinWhoseCtxEndsFails(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	pc, bAddr := reserveUDP(t) // b's, then the test's: the book's server
	c := newBookCluster(t, base, map[string]func(*Config){"b": func(cfg *Config) { cfg.Listen, cfg.PacketConn = bAddr, pc }}, "a", "b")
	awaitBook(t, c, base, "a", "b")
	for _, name := range []string{"a", "b"} {
		if err := c.nodes[name].stop(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		delete(c.nodes, name)
	}
	// Drain what reached b's socket while it ran.
	buf := make([]byte, 2048)
	for {
		pc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, _, err := pc.ReadFrom(buf); err != nil {
			break
		}
	}
	pc.SetReadDeadline(time.Time{})

	// The start's ctx ends when a's first datagram to b's address comes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		pc.ReadFrom(buf)
		cancel()
	})
	t.Cleanup(func() {
		pc.Close() // ends the read if nothing came
		wg.Wait()
	})
	cfg := c.serverConfig("a", "127.0.0.1:0")
	cfg.DataDir = filepath.Join(base, "a")
	n, err := Start(ctx, cfg)
	if err == nil {
		n.stop(context.Background(), false)
		t.Fatalf("a's start, its ctx ended (%v) while it rejoined b: a node, no error", ctx.Err())
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a's start, its ctx ended while it rejoined b: %v; want ctx's error", err)
	}
}

// heardRecords records the level and message of every log record.
type heardRecords struct {
	mu   *sync.Mutex
	recs *[]string
}

func (h heardRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h heardRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h heardRecords) WithGroup(string) slog.Handler            { return h }
func (h heardRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.recs = append(*h.recs, r.Level.String()+" "+r.Message)
	return nil
}

// A background rejoin that a server refuses, a node of this name being
// live elsewhere, is a warning: it was a debug line, and a second node
// of the name went on trying unseen.
func TestRejoinRefusedForANameTakenWarns(t *testing.T) {
	var recs []string
	h := heardRecords{mu: new(sync.Mutex), recs: &recs}
	taken := errors.New("1 error occurred:\n\t* failed to join 127.0.0.1:7401: " + transport.ErrNameTaken.Error() +
		`: node "a" is connected from 127.0.0.1:7402 and answers there` + "\n\n")
	logRejoined(slog.New(h), "b/127.0.0.1:7401", taken)
	logRejoined(slog.New(h), "c/127.0.0.1:7403", errors.New("1 error occurred:\n\t* failed to join 127.0.0.1:7403: read: timeout\n\n"))
	if len(recs) != 2 || !strings.HasPrefix(recs[0], "WARN ") || !strings.Contains(recs[0], "a node of this name is live elsewhere") {
		t.Errorf("a rejoin refused for a name taken logged %q; want a warning saying a node of this name is live elsewhere", recs)
	}
	if len(recs) == 2 && !strings.HasPrefix(recs[1], "DEBUG ") {
		t.Errorf("a rejoin that reached no one logged %q; want a debug line", recs[1])
	}
}
