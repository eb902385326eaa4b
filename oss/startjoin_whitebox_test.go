package oss

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"

	"github.com/objectsharing/oss/internal/testkit/await"
	"go.uber.org/goleak"
)

// heardHandler is a slog.Handler that closes a channel once a record
// whose message holds want is logged.
type heardHandler struct {
	want  string
	heard chan struct{}
	once  *sync.Once
}

func newHeard(want string) heardHandler {
	return heardHandler{want: want, heard: make(chan struct{}), once: new(sync.Once)}
}

func (h heardHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h heardHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h heardHandler) WithGroup(string) slog.Handler            { return h }
func (h heardHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.want) {
		h.once.Do(func() { close(h.heard) })
	}
	return nil
}

// reserveUDP returns a loopback UDP socket, held until the test's end
// (Config.PacketConn), and its address: a port freed and bound again
// later could meanwhile be handed to a socket of another test.
// Registered before the nodes that run on it, it is closed after them.
func reserveUDP(t *testing.T) (net.PacketConn, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc, pc.LocalAddr().String()
}

// serverConfig returns the configuration of a server node of c's CA
// that listens on listen and joins through join, trying again.
func (c *quicCluster) serverConfig(name, listen string, join ...string) *Config {
	c.t.Helper()
	cert, key, err := pki.IssueCert(c.caCert, c.caKey, name, pki.RoleServer, time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	return &Config{Name: name, Listen: listen, Join: join, JoinRetry: true, Gossip: GossipLoopback, TickInterval: c.tick,
		Logger: testLogger(), TLS: &TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: c.caCert}}
}

// A node started with Join before the member it names waits for it,
// saying so, and joins once it is up: it used to fail after one attempt,
// so nodes had to be started in order.
func TestStartJoinWaitsForItsMember(t *testing.T) {
	t.Parallel()
	pc, first := reserveUDP(t) // nothing answers on it until a starts
	c := newQUICCluster(t)
	cfg := c.serverConfig("b", "127.0.0.1:0", first)
	h := newHeard("cannot join the cluster yet")
	cfg.Logger = slog.New(h)
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	type started struct {
		n   *Node
		err error
	}
	res := make(chan started, 1)
	go func() {
		n, err := Start(ctx, cfg)
		res <- started{n, err}
	}()
	select {
	case <-h.heard:
	case r := <-res:
		if r.n != nil {
			r.n.Close(context.Background())
		}
		t.Fatalf("Start returned before the member it joins was up: %v", r.err)
	}
	if _, err := c.launch("a", pki.RoleServer, func(cfg *Config) { cfg.Listen, cfg.PacketConn = first, pc }); err != nil {
		t.Fatal(err)
	}
	r := await.Recv(t, res, "the joining node's start to return")
	if r.err != nil {
		t.Fatalf("Start after the member came up: %v", r.err)
	}
	defer r.n.Close(context.Background())
	if got := len(r.n.Members()); got != 2 {
		t.Errorf("members: %v, want a and b", r.n.Members())
	}
}

// A Join that names only the node itself fails at once and says so: it
// used to join its own membership and wait 30s for a catalog leader.
func TestStartJoinOwnAddressFails(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	pc, self := reserveUDP(t)
	c := newQUICCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := c.serverConfig("solo", self, self)
	cfg.PacketConn = pc
	n, err := Start(ctx, cfg)
	if err == nil {
		n.Close(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "this node's own address") || ctx.Err() != nil {
		t.Fatalf("Start with Join of its own address: %v, want an error naming its own address at once", err)
	}
}

// A member that refuses the handshake (another cluster's CA) fails Start
// at once, with ErrJoinRefused, although JoinRetry waits for members that
// do not answer: no retry mends a certificate.
func TestStartJoinRefusedHandshakeFailsAtOnce(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a")
	other := newQUICCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := Start(ctx, other.serverConfig("x", "127.0.0.1:0", c.nodes["a"].Addr()))
	if err == nil {
		n.Close(context.Background())
	}
	if !errors.Is(err, ErrJoinRefused) || ctx.Err() != nil {
		t.Fatalf("Start against another CA's cluster: %v, want ErrJoinRefused at once", err)
	}
}

// A node started on another node's data directory is refused before it
// starts: it took that node's raft ID under its own name, its peers
// refused it, and it waited for a leader forever.
func TestStartRefusesAnotherNodesDataDir(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	fsys := persist.NewMemFS()
	ctx := context.Background()
	a, err := Start(ctx, &Config{Name: "a", DataDir: "d", FS: fsys, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := Start(ctx, &Config{Name: "b", DataDir: "d", FS: fsys, Logger: testLogger()})
	if err == nil {
		b.Close(ctx)
		t.Fatal("b started on a's data directory")
	}
	if !strings.Contains(err.Error(), `is node "a"'s, not "b"'s`) {
		t.Errorf("b on a's data directory: %v, want an error naming both", err)
	}
	a, err = Start(ctx, &Config{Name: "a", DataDir: "d", FS: fsys, Logger: testLogger()})
	if err != nil {
		t.Fatalf("a again on its own data directory: %v", err)
	}
	a.Close(ctx)
}

// A Join address that is no HOST:PORT fails Start at once: without its
// port it was tried again for ever, as if no member answered there yet.
func TestStartJoinRefusesAddressWithoutPort(t *testing.T) {
	c := newQUICCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, join := range []string{"127.0.0.1", ":7400", "n1"} {
		n, err := Start(ctx, c.serverConfig("x", "127.0.0.1:0", join))
		if err == nil {
			n.Close(context.Background())
		}
		if err == nil || !strings.Contains(err.Error(), "want HOST:PORT") || ctx.Err() != nil {
			t.Fatalf("Join %q: %v, want an error asking for HOST:PORT at once", join, err)
		}
	}
}
