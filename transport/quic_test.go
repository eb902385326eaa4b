package transport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that records messages and echoes calls.
type recorder struct {
	mu    sync.Mutex
	msgs  map[string][][]byte
	got   chan struct{}
	block chan struct{} // if set, HandleMessage waits on it
}

func newRecorder() *recorder {
	return &recorder{msgs: map[string][][]byte{}, got: make(chan struct{}, 1<<16)}
}

func (r *recorder) HandleMessage(from string, msg []byte) {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	r.msgs[from] = append(r.msgs[from], msg)
	r.mu.Unlock()
	select {
	case r.got <- struct{}{}:
	default:
	}
}

func (r *recorder) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	if string(req) == "fail" {
		return nil, errors.New("as asked")
	}
	return append([]byte(from+":"), req...), nil
}

func (r *recorder) count(from string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs[from])
}

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type cluster struct {
	ca       *pki.CA
	logs     *logBuffer
	nodes    map[string]*transport.QUIC
	recs     map[string]*recorder
	maxFrame int // QUICConfig.MaxFrame of the nodes started
}

func newCA(t testing.TB) *pki.CA {
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func (c *cluster) start(t testing.TB, name, listen string, h transport.Handler) *transport.QUIC {
	t.Helper()
	cert, key, err := c.ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, err := transport.NewQUIC(&transport.QUICConfig{
		Name: name, Listen: listen, CertPEM: cert, KeyPEM: key, CAPEM: c.ca.CertPEM, Handler: h,
		Logger: slog.New(slog.NewTextHandler(c.logs, nil)), MaxFrame: c.maxFrame,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[name] = q
	return q
}

func newCluster(t testing.TB, names ...string) *cluster {
	return newClusterFrame(t, 0, names...)
}

func newClusterFrame(t testing.TB, maxFrame int, names ...string) *cluster {
	c := &cluster{ca: newCA(t), logs: &logBuffer{}, nodes: map[string]*transport.QUIC{}, recs: map[string]*recorder{}, maxFrame: maxFrame}
	// Registered first: a transport that fails to start ends the test,
	// and those started before it must not outlive it.
	t.Cleanup(func() {
		for _, q := range c.nodes {
			q.Close()
		}
	})
	for _, n := range names {
		c.recs[n] = newRecorder()
		c.start(t, n, "", c.recs[n])
	}
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			a.SetPeer(b.Name(), b.Addr().String())
		}
	}
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCallsAndMessagesBetweenThreeNodes(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	ctx := ctxT(t)
	for _, from := range []string{"a", "b", "c"} {
		for _, to := range []string{"a", "b", "c"} {
			if from == to {
				continue
			}
			resp, err := c.nodes[from].Call(ctx, to, []byte("ping"))
			if err != nil || string(resp) != from+":ping" {
				t.Fatalf("%s calls %s: %q %v", from, to, resp, err)
			}
			for i := range 100 {
				if err := c.nodes[from].Send(ctx, to, []byte(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	deadline := time.Now().Add(await.Deadline) // a bound against a hang: load 40 needs minutes
	for _, to := range []string{"a", "b", "c"} {
		for _, from := range []string{"a", "b", "c"} {
			if from == to {
				continue
			}
			for c.recs[to].count(from) < 100 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			c.recs[to].mu.Lock()
			for i, m := range c.recs[to].msgs[from] {
				if string(m) != fmt.Sprint(i) {
					t.Fatalf("%s got message %q from %s at position %d: out of order", to, m, from, i)
				}
			}
			n := len(c.recs[to].msgs[from])
			c.recs[to].mu.Unlock()
			if n != 100 {
				t.Fatalf("%s got %d messages from %s, want 100", to, n, from)
			}
		}
	}
	if _, err := c.nodes["a"].Call(ctx, "b", []byte("fail")); err == nil || !strings.Contains(err.Error(), "as asked") {
		t.Fatalf("remote error: %v", err)
	}
	if _, err := c.nodes["a"].Call(ctx, "nobody", nil); !errors.Is(err, transport.ErrUnknownPeer) {
		t.Fatalf("call to an unknown peer: %v", err)
	}
}

func TestPeerFromAnotherCAIsRefused(t *testing.T) {
	c := newCluster(t, "a")
	other := &cluster{ca: newCA(t), logs: &logBuffer{}, nodes: map[string]*transport.QUIC{}}
	intruder := other.start(t, "b", "", newRecorder())
	defer intruder.Close()
	intruder.SetPeer("a", c.nodes["a"].Addr().String())
	c.nodes["a"].SetPeer("b", intruder.Addr().String())
	if _, err := intruder.Call(ctxT(t), "a", []byte("hi")); err == nil {
		t.Fatal("a peer with a certificate from another CA was served")
	}
	if _, err := c.nodes["a"].Call(ctxT(t), "b", []byte("hi")); !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("calling a peer from another CA: %v", err)
	}
	if !strings.Contains(c.logs.String(), "peer refused") || !strings.Contains(c.logs.String(), "unknown authority") {
		t.Fatalf("refusal not logged with its reason:\n%s", c.logs.String())
	}
	// Dialled by address, as gossip dials a node it joins through, the
	// caller learns why, not only that the peer is unreachable.
	err := intruder.SendDatagram(ctxT(t), c.nodes["a"].Addr().String(), "", []byte("hi"))
	if !errors.Is(err, transport.ErrUnreachable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("dialling a peer from another CA by address: %v", err)
	}
}

func TestExpiredCertificateIsRefused(t *testing.T) {
	// A CA valid since before the expired certificate was issued.
	ca, err := pki.NewCA("test", time.Now().Add(-3*time.Hour), 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{ca: ca, logs: &logBuffer{}, nodes: map[string]*transport.QUIC{}}
	// a's certificate too, so that old, whose clock is behind, accepts it.
	aCert, aKey, err := ca.Issue("a", pki.RoleServer, time.Now().Add(-3*time.Hour), 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, err := transport.NewQUIC(&transport.QUICConfig{Name: "a", CertPEM: aCert, KeyPEM: aKey, CAPEM: ca.CertPEM, Handler: newRecorder(),
		Logger: slog.New(slog.NewTextHandler(c.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c.nodes["a"] = a
	cert, key, err := c.ca.Issue("old", pki.RoleServer, time.Now().Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Its own clock is behind: it starts (an endpoint refuses to start
	// with a certificate expired by its own clock) and dials.
	old, err := transport.NewQUIC(&transport.QUICConfig{Name: "old", CertPEM: cert, KeyPEM: key, CAPEM: c.ca.CertPEM, Handler: newRecorder(),
		Now: func() time.Time { return time.Now().Add(-90 * time.Minute) }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	old.SetPeer("a", c.nodes["a"].Addr().String())
	if _, err := old.Call(ctxT(t), "a", nil); err == nil {
		t.Fatal("a peer with an expired certificate was served")
	}
	if !strings.Contains(c.logs.String(), "expired") {
		t.Fatalf("expiry not logged:\n%s", c.logs.String())
	}
}

func TestPeerWithoutClientCertificateIsRefused(t *testing.T) {
	c := newCluster(t, "a")
	ctx := ctxT(t)
	conn, err := quic.DialAddr(ctx, c.nodes["a"].Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}, nil)
	if err == nil {
		// TLS 1.3 clients finish before the server checks them; the server
		// then closes the connection.
		s, err2 := conn.OpenStreamSync(ctx)
		if err2 == nil {
			s.Write([]byte{0, 0, 0, 1, 0})
			_, err2 = s.Read(make([]byte, 1))
		}
		conn.CloseWithError(0, "")
		if err2 == nil {
			t.Fatal("a peer without a client certificate was served")
		}
	}
	deadline := time.Now().Add(await.Deadline)
	for !strings.Contains(c.logs.String(), "no certificate presented") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(c.logs.String(), "no certificate presented") {
		t.Fatalf("refusal not logged:\n%s", c.logs.String())
	}
}

func TestReconnectAfterPeerRestart(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxT(t)
	if _, err := c.nodes["a"].Call(ctx, "b", []byte("1")); err != nil {
		t.Fatal(err)
	}
	addr := c.nodes["b"].Addr().String()
	c.nodes["b"].Close()
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	if _, err := c.nodes["a"].Call(cctx, "b", []byte("2")); err == nil {
		t.Fatal("call to a stopped peer succeeded")
	}
	cancel()
	c.recs["b"] = newRecorder()
	c.start(t, "b", addr, c.recs["b"]).SetPeer("a", c.nodes["a"].Addr().String())
	deadline := time.Now().Add(await.Deadline)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := c.nodes["a"].Call(cctx, "b", []byte("3"))
		cancel()
		if err == nil {
			if string(resp) != "a:3" {
				t.Fatalf("answer %q", resp)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnect: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; c.recs["b"].count("a") == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("messages do not flow after the restart")
		}
		c.nodes["a"].Send(ctx, "b", []byte("m"))
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSlowReceiverAppliesBackpressure(t *testing.T) {
	c := &cluster{ca: newCA(t), logs: &logBuffer{}, nodes: map[string]*transport.QUIC{}, recs: map[string]*recorder{}}
	slow := newRecorder()
	slow.block = make(chan struct{})
	c.start(t, "slow", "", slow)
	cert, key, _ := c.ca.Issue("fast", pki.RoleServer, time.Now(), time.Hour)
	fast, err := transport.NewQUIC(&transport.QUICConfig{Name: "fast", CertPEM: cert, KeyPEM: key, CAPEM: c.ca.CertPEM, Handler: newRecorder(), QueueLen: 16, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c.nodes["fast"] = fast
	defer func() {
		close(slow.block)
		fast.Close()
		c.nodes["slow"].Close()
	}()
	fast.SetPeer("slow", c.nodes["slow"].Addr().String())
	msg := make([]byte, 64<<10)
	sent := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := fast.Send(ctx, "slow", msg)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
		if sent > 10000 {
			t.Fatal("Send never blocked on a receiver that reads nothing")
		}
	}
	// The queue and the stream's flow-control windows bound what is held.
	if sent*len(msg) > 64<<20 {
		t.Fatalf("%d MiB accepted before backpressure", sent*len(msg)>>20)
	}
}

func TestMalformedStreamIsClosedAndNodeGoesOn(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxT(t)
	// A peer with a valid certificate that sends garbage on a stream.
	cert, key, _ := c.ca.Issue("rogue", pki.RoleServer, time.Now(), time.Hour)
	pair, _ := tls.X509KeyPair(cert, key)
	conn, err := quic.DialAddr(ctx, c.nodes["a"].Addr().String(), &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	for _, junk := range [][]byte{
		{0xff, 0xff, 0xff, 0xff, 1, 2, 3},               // oversized length prefix
		{0, 0, 0, 3, 0x83, 0x01},                        // truncated frame
		{0, 0, 0, 4, 0x81, 0x81, 0x81, 0x81},            // nesting beyond the limit
		{0, 0, 0, 5, 0x84, 0x18, 0x63, 0x60, 0, 0x40},   // unknown frame type
		[]byte("hello, world, this is not cbor"),        // random bytes
		{0, 0, 0, 6, 0x84, 0x01, 0x61, 'b', 0x02, 0x40}, // a hello claiming to be node b
	} {
		s, err := conn.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.Write(junk)
		s.Close()
		io.ReadAll(s)
	}
	if resp, err := c.nodes["b"].Call(ctx, "a", []byte("still")); err != nil || string(resp) != "b:still" {
		t.Fatalf("node stopped serving after bad streams: %q %v", resp, err)
	}
	deadline := time.Now().Add(await.Deadline)
	for strings.Count(c.logs.String(), "stream closed") < 6 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(c.logs.String(), "stream closed"); n < 6 {
		t.Fatalf("%d bad streams logged, want 6:\n%s", n, c.logs.String())
	}
	if !strings.Contains(c.logs.String(), `opened as \"b\" by peer \"rogue\"`) {
		t.Fatalf("impersonation not logged:\n%s", c.logs.String())
	}
}

var _ net.Addr = (*net.UDPAddr)(nil)

func (r *recorder) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	if string(header) == "refuse" {
		return errors.New("refused as asked")
	}
	h := sha256.New()
	n, err := io.Copy(h, body)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.msgs["stream:"+from] = append(r.msgs["stream:"+from], []byte(fmt.Sprintf("%s %d %x", header, n, h.Sum(nil))))
	r.mu.Unlock()
	return nil
}

func TestSendStream(t *testing.T) {
	c := newCluster(t, "a", "b")
	// No deadline: how long 20 MiB take is the machine's throughput, not
	// what is checked (under -race at load 12 to 17, over 10 s). A hang
	// ends at the test binary's -timeout; a context that ends is checked
	// below.
	ctx := t.Context()
	body := make([]byte, 20<<20+17)
	for i := range body {
		body[i] = byte(i * 7)
	}
	if err := c.nodes["a"].SendStream(ctx, "b", []byte("snap"), bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	c.recs["b"].mu.Lock()
	got := c.recs["b"].msgs["stream:a"]
	c.recs["b"].mu.Unlock()
	if want := fmt.Sprintf("snap %d %x", len(body), sum); len(got) != 1 || string(got[0]) != want {
		t.Fatalf("receiver saw %q, want %q", got, want)
	}
	err := c.nodes["a"].SendStream(ctx, "b", []byte("refuse"), bytes.NewReader(body))
	var re *transport.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "refused as asked") {
		t.Fatalf("refused stream: %v", err)
	}
	// A sender whose context ends mid-stream gets an error, not a hang.
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if err := c.nodes["a"].SendStream(short, "b", []byte("snap"), bytes.NewReader(make([]byte, 256<<20))); err == nil {
		t.Fatal("stream outlived its context")
	}
}

// A message to a peer that cannot be reached fails at once once the queue
// is full, rather than making the sender wait: raft, the sender, retries.
func TestSendToUnreachablePeerDoesNotWait(t *testing.T) {
	c := &cluster{ca: newCA(t), logs: &logBuffer{}, nodes: map[string]*transport.QUIC{}, recs: map[string]*recorder{}}
	cert, key, _ := c.ca.Issue("a", pki.RoleServer, time.Now(), time.Hour)
	a, err := transport.NewQUIC(&transport.QUICConfig{Name: "a", CertPEM: cert, KeyPEM: key, CAPEM: c.ca.CertPEM, Handler: newRecorder(), QueueLen: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	gone := pc.LocalAddr().String()
	pc.Close()
	a.SetPeer("gone", gone)
	// Until the first dial fails (dialTimeout, 5 s) nothing says the peer
	// cannot be reached, and a Send on a full queue waits for room: its
	// context must outlast the dial, on a loaded machine too (with 5 s
	// each, the context ran out first 3 runs in 40 at load 20).
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		err := a.Send(ctx, "gone", []byte("x"))
		cancel()
		if errors.Is(err, transport.ErrUnreachable) {
			if d := time.Since(start); d > time.Second {
				t.Fatalf("Send to an unreachable peer waited %v", d)
			}
			return
		}
		if err != nil && !errors.Is(err, transport.ErrUnreachable) {
			t.Fatalf("Send: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("Send to an unreachable peer never failed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A peer restarted on the same address with the same key is reachable at
// once: the old connection is reset, not left to its idle timeout.
func TestRestartedPeerIsReachableAtOnce(t *testing.T) {
	ca := newCA(t)
	ac, ak, _ := ca.Issue("a", pki.RoleServer, time.Now(), time.Hour)
	bc, bk, _ := ca.Issue("b", pki.RoleServer, time.Now(), time.Hour)
	start := func(name string, pc net.PacketConn, h transport.Handler, cert, key []byte) *transport.QUIC {
		q, err := transport.NewQUIC(&transport.QUICConfig{Name: name, PacketConn: pc, CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM,
			Handler: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	apc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	a := start("a", apc, newRecorder(), ac, ak)
	defer func() { a.Close(); apc.Close() }()
	bpc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	crashable := &mutePacketConn{PacketConn: bpc}
	rb := newRecorder()
	b := start("b", crashable, rb, bc, bk)
	addr := bpc.LocalAddr().String()
	a.SetPeer("b", addr)
	if err := a.Send(ctxT(t), "b", []byte("before")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(await.Deadline); rb.count("a") == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first message never arrived")
		}
	}
	// A call's answer: b's end of the handshake (HANDSHAKE_DONE) has
	// reached a. A crash before it leaves a retransmitting its Handshake
	// packets, and every packet a then sends starts with one, which the
	// restarted process drops without a reset: on a loaded machine b
	// was muted before it sent it.
	if _, err := a.Call(ctxT(t), "b", []byte("established")); err != nil {
		t.Fatal(err)
	}
	// The process dies without a word: nothing it sends gets out.
	crashable.mute.Store(true)
	b.Close()
	bpc.Close()
	bpc2, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rb2 := newRecorder()
	b2 := start("b", bpc2, rb2, bc, bk)
	defer func() { b2.Close(); bpc2.Close() }()
	// Without a reset of the dead connection, a would wait out its idle
	// timeout (30 s); reached well before that. The bound leaves room for
	// a loaded machine under the race detector (5 s was exceeded in CI).
	// The messages are of a raft heartbeat's size: a stateless reset
	// answers only packets of more than 42 bytes (quic-go's
	// MinStatelessResetSize), and a packet of a 5-byte message alone,
	// with no acknowledgement beside it, was 40 or 41.
	after := bytes.Repeat([]byte("after "), 8)
	begin := time.Now()
	for rb2.count("a") == 0 {
		if time.Since(begin) > 15*time.Second {
			t.Fatal("a restarted peer was unreachable for 15 s")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		a.Send(ctx, "b", after)
		cancel()
		time.Sleep(50 * time.Millisecond)
	}
}

// mutePacketConn drops everything written once mute is set: a crash.
type mutePacketConn struct {
	net.PacketConn
	mute atomic.Bool
}

func (c *mutePacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.mute.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// Messages, requests and answers of exactly MaxFrame-FrameOverhead bytes
// go through; one byte more fails at once with ErrTooLarge (an answer, as
// a remote error saying so), and the connection goes on.
func TestFrameLimitIsExact(t *testing.T) {
	const maxFrame = 64 << 10
	c := newClusterFrame(t, maxFrame, "a", "b")
	ctx := ctxT(t)
	limit := maxFrame - transport.FrameOverhead
	a := c.nodes["a"]

	if err := a.Send(ctx, "b", bytes.Repeat([]byte{1}, limit+1)); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("a message of %d bytes: %v, want ErrTooLarge", limit+1, err)
	}
	if err := a.Send(ctx, "b", bytes.Repeat([]byte{2}, limit)); err != nil {
		t.Fatalf("a message of exactly %d bytes: %v", limit, err)
	}
	if err := a.Send(ctx, "b", []byte("after")); err != nil {
		t.Fatal(err)
	}
	for c.recs["b"].count("a") < 2 {
		select {
		case <-c.recs["b"].got:
		case <-ctx.Done():
			t.Fatalf("b got %d messages of 2", c.recs["b"].count("a"))
		}
	}
	c.recs["b"].mu.Lock()
	got := c.recs["b"].msgs["a"]
	c.recs["b"].mu.Unlock()
	if len(got[0]) != limit || string(got[1]) != "after" {
		t.Fatalf("b got messages of %d and %d bytes", len(got[0]), len(got[1]))
	}

	if _, err := a.Call(ctx, "b", make([]byte, limit+1)); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("a request of %d bytes: %v, want ErrTooLarge", limit+1, err)
	}
	// The recorder answers "a:" and the request.
	resp, err := a.Call(ctx, "b", make([]byte, limit-2))
	if err != nil || len(resp) != limit {
		t.Fatalf("an answer of exactly %d bytes: %d bytes, %v", limit, len(resp), err)
	}
	_, err = a.Call(ctx, "b", make([]byte, limit-1))
	var re *transport.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "too large") {
		t.Fatalf("an answer of %d bytes: %v, want a remote error saying it is too large", limit+1, err)
	}
	if err := a.SendStream(ctx, "b", make([]byte, limit+1), bytes.NewReader(nil)); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("a stream header of %d bytes: %v, want ErrTooLarge", limit+1, err)
	}
	if resp, err := a.Call(ctx, "b", []byte("ping")); err != nil || string(resp) != "a:ping" {
		t.Fatalf("a call after the refusals: %q %v", resp, err)
	}
}
