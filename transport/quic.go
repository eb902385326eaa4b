package transport

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/quic-go/quic-go"
)

// ALPN is the application protocol OSS nodes negotiate.
const ALPN = "oss/1"

// QUICConfig configures a QUIC endpoint.
type QUICConfig struct {
	// Name is this node's name; it must match its certificate. Required.
	Name string
	// PacketConn is the UDP socket to use. If nil, one is opened on Listen.
	PacketConn net.PacketConn
	// Listen is the UDP address to listen on when PacketConn is nil. If
	// empty, "127.0.0.1:0".
	Listen string
	// CertPEM and KeyPEM are this node's certificate and key, and CAPEM the
	// cluster CA's certificate. Required.
	CertPEM, KeyPEM, CAPEM []byte
	// ResetKey, if set, is the endpoint's stateless reset key: 32 bytes
	// to keep secret (whoever holds it can close the endpoint's
	// connections) and the same across restarts of the same endpoint.
	// A restarted process answers packets its peers still send on the
	// connections of the one before with a stateless reset, and the
	// peers drop those connections at once instead of after the idle
	// timeout (30 s) - whatever key the process before ran on. If nil,
	// it is derived from KeyPEM: the same across restarts only while the
	// key is (SetTLS does not change it, so a process that reloaded a new
	// key and then crashed is reset only on the key it started with).
	ResetKey []byte
	// Handler receives messages and calls. Required.
	Handler Handler
	// MaxFrame caps the size of a frame in either direction: a message,
	// a call's request or answer, or a stream's header may hold up to
	// MaxFrame-FrameOverhead bytes. Peers must use the same value, or one
	// refuses what the other sends. If zero, DefaultMaxFrame.
	MaxFrame int
	// QueueLen is the number of messages queued per peer and queue
	// before Send (or SendControl) waits. Each peer has two queues: one
	// for Send, one for SendControl. If zero, 4096.
	QueueLen int
	// idleTimeout is how long a connection may carry nothing before it
	// ends; if zero, 30 s. Tests set it longer.
	idleTimeout time.Duration
	// peerIdle is how long a peer, or a connection dialled by address,
	// may go unused before reapIdle forgets it (peeridle.go); if zero,
	// defaultPeerIdle. Tests set it shorter.
	peerIdle time.Duration
	// QueueBytes caps the bytes of the messages in one of a peer's queues
	// and being written from it: a peer holds at most twice this, its
	// message queue and its control queue. A Send (or SendControl) that
	// would pass it fails at once with ErrQueueFull, unless nothing is
	// queued: the message is dropped (raft sends again), counted, and
	// logged at most every 10 s per peer and queue. If zero, 4 × MaxFrame.
	QueueBytes int64
	// InboundBytes caps the bytes of the frames one connection's streams
	// have read and not yet handled (a peer keeps at most MaxConnsPerPeer
	// connections): a message until HandleMessage
	// returns, a call's request until HandleCall does, a stream's header
	// until HandleStream does. A stream waits for room before it reads a
	// frame (QUIC's flow control then holds the peer back), so a peer
	// pins no more than this with its calls and streams however many it
	// opens. At least MaxFrame. If zero, 4 × MaxFrame.
	InboundBytes int64
	// HelloTimeout bounds how long a stream a peer opens may take to send
	// its hello frame, the first frame of every stream: past it the stream
	// is reset and logged. Each of a peer's senders writes the hello as it
	// opens the stream, so a live peer's hello is one packet behind it;
	// waiting for room in InboundBytes does not count. If zero, 30 s.
	HelloTimeout time.Duration
	// StreamRate and StreamBurst pace the streams a client peer (one
	// whose certificate's role is not server) opens: calls, snapshots,
	// gossip, on all its connections together. The node takes a stream
	// of a client that opened StreamBurst at once, and more than
	// StreamRate a second since, only when the rate allows, and QUIC
	// holds the client back meanwhile. If zero, DefaultStreamRate and
	// DefaultStreamBurst.
	StreamRate  float64
	StreamBurst int
	// Now is the clock certificates are checked against. If nil, time.Now.
	Now func() time.Time
	// Revoked, if not nil, is asked about the verified identity of every
	// peer, at its handshake and whenever the endpoint rechecks its
	// connections (Recheck): an error refuses the handshake or ends the
	// connection, and is logged as the reason. It must be fast and must
	// not call the endpoint.
	Revoked func(pki.Identity) error
	// CheckInterval is how often the endpoint checks, against Now, that
	// the certificates of its connections' peers and the CA's are still
	// valid, and ends each connection whose peer's chain has expired: a
	// connection ends within CheckInterval of its peer's NotAfter (or the
	// CA's). If zero, one second.
	CheckInterval time.Duration
	// Logger receives the endpoint's logs. If nil, slog.Default().
	Logger *slog.Logger
}

// QUIC is a Transport and a ControlSender over QUIC with mutual TLS 1.3:
// one UDP socket, one connection per peer (dialled lazily, re-dialled with
// backoff), two long-lived streams per peer for one-way messages (one for
// Send, one for SendControl), and one new stream per call or bulk
// transfer.
type QUIC struct {
	cfg   QUICConfig
	log   *slog.Logger
	own   atomic.Pointer[ownCert] // this node's certificate and trusted CAs; SetCertificate and SetTLS swap it
	tr    *quic.Transport
	ln    *quic.Listener
	ownPC bool
	qconf *quic.Config

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// start is when the endpoint was made, with its monotonic clock
	// reading: idleClock counts from it (peeridle.go).
	start time.Time
	// sendLoops counts the sendLoops running, the endpoint's own (its
	// test waits for those of forgotten peers to end).
	sendLoops atomic.Int64

	mu    sync.Mutex // protects following fields
	addrs map[string]string
	peers map[string]*peer
	conns map[*quic.Conn]*peerInbound // each connection's InboundBytes and its peer's pace
	// inbound holds what each peer's connections share: their pace and
	// count.
	inbound map[string]*peerShared
	// valid holds, for the connections checked, when their peer's chain
	// expires and the Recheck generation they were checked in.
	valid  map[*quic.Conn]checked
	gen    uint64 // Recheck calls
	byAddr map[string]*addrPeer

	refused    refusalLog    // handshakes refused, for the log
	strangers  strangerGate  // addresses strangers handshook from
	badStreams refusalLog    // streams closed for what a peer sent, for the log
	paced      refusalLog    // peers whose streams waited for their pace, for the log
	pacing     atomic.Int64  // streams waiting for their peer's pace
	life       []byte        // random, this endpoint's own: a ping's answer (unique.go)
	group      atomic.Uint64 // SetGroup's, answered to pings after the life (unique.go)
	groups     sync.Map      // *quic.Conn: *groupState, the group its peer answered a ping with (groupgossip.go)

	challenges challenges                // kept for the peers that sent them (proof.go)
	relay      atomic.Pointer[pingRelay] // RelayPings' or PassOffLife's (tests only)

	datagrams chan Datagram
	raw       chan net.Conn
	counters  quicCounters // see Stats

	// refusedOwn is the last refusal of this node's certificate a peer
	// closed a connection with (noteRefusedOwn).
	refusedOwn atomic.Pointer[ownRefusal]
}

// NewQUIC starts a QUIC endpoint.
func NewQUIC(cfg *QUICConfig) (*QUIC, error) {
	c := *cfg
	if err := c.populate(); err != nil {
		return nil, err
	}
	// The check SetTLS makes: a bundle with a CA cut short would
	// otherwise be taken without it.
	pool, cas, err := pki.ParseBundle(c.CAPEM)
	if err != nil {
		return nil, fmt.Errorf("transport: CAPEM: %w", err)
	}
	cert, err := ownCertificate(pool, c.Name, c.CertPEM, c.KeyPEM, c.Now())
	if err != nil {
		return nil, err
	}
	pc := c.PacketConn
	own := false
	if pc == nil {
		addr := c.Listen
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		pc, err = net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("transport: listen: %w", err)
		}
		own = true
	}
	t := newQUIC(c, pc, own)
	t.own.Store(cert)
	t.strangers.reset(cas)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.ln, err = t.tr.Listen(t.acceptConfig(), t.qconf)
	if err != nil {
		t.tr.Close()
		if own {
			pc.Close()
		}
		return nil, fmt.Errorf("transport: listen: %w", err)
	}
	t.wg.Go(t.acceptConns)
	t.wg.Go(t.checkLoop)
	t.wg.Go(t.reapIdle) // peeridle.go
	return t, nil
}

// populate fills in the defaults of the fields left zero, and checks the
// rest.
func (c *QUICConfig) populate() error {
	if c.Name == "" || c.Handler == nil {
		return errors.New("transport: QUICConfig needs Name and Handler")
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = DefaultMaxFrame
	}
	if c.QueueLen == 0 {
		c.QueueLen = 4096
	}
	if c.peerIdle <= 0 {
		c.peerIdle = defaultPeerIdle
	}
	if c.idleTimeout <= 0 {
		c.idleTimeout = 30 * time.Second
	}
	if c.ResetKey != nil && len(c.ResetKey) != len(quic.StatelessResetKey{}) {
		return fmt.Errorf("transport: ResetKey holds %d bytes, not %d", len(c.ResetKey), len(quic.StatelessResetKey{}))
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = 4 * int64(c.MaxFrame)
	}
	if c.InboundBytes == 0 {
		c.InboundBytes = 4 * int64(c.MaxFrame)
	}
	if c.InboundBytes < int64(c.MaxFrame) {
		return fmt.Errorf("transport: InboundBytes %d is under MaxFrame %d: a frame at the limit could never be read", c.InboundBytes, c.MaxFrame)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = time.Second
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = DefaultHelloTimeout
	}
	if c.StreamRate <= 0 {
		c.StreamRate = DefaultStreamRate
	}
	if c.StreamBurst <= 0 {
		c.StreamBurst = DefaultStreamBurst
	}
	return nil
}

// newQUIC returns the endpoint of c over pc (owned if own), with the QUIC
// settings every connection uses, before it listens.
func newQUIC(c QUICConfig, pc net.PacketConn, own bool) *QUIC {
	t := &QUIC{
		// A stream's error names what was wrong with it: the first few
		// of a peer's say it, the rest are counted.
		badStreams: refusalLog{burst: badStreamBurst},
		life:       newLife(),
		cfg:        c,
		start:      time.Now(),
		log:        c.Logger.With("node", c.Name),
		tr:         &quic.Transport{Conn: pc, StatelessResetKey: resetKey(c.ResetKey, c.KeyPEM)},
		ownPC:      own,
		addrs:      make(map[string]string),
		peers:      make(map[string]*peer),
		conns:      make(map[*quic.Conn]*peerInbound),
		inbound:    make(map[string]*peerShared),
		valid:      make(map[*quic.Conn]checked),
		datagrams:  make(chan Datagram, 1024),
		raw:        make(chan net.Conn, 64),
		qconf: &quic.Config{
			HandshakeIdleTimeout:           5 * time.Second,
			MaxIdleTimeout:                 c.idleTimeout,
			KeepAlivePeriod:                5 * time.Second,
			MaxIncomingStreams:             1024,
			MaxIncomingUniStreams:          -1,
			InitialStreamReceiveWindow:     1 << 20,
			MaxStreamReceiveWindow:         16 << 20,
			InitialConnectionReceiveWindow: 2 << 20,
			MaxConnectionReceiveWindow:     64 << 20,
			EnableDatagrams:                true,
		},
	}
	t.tr.ConnContext = t.connContext
	return t
}

// Name returns this node's name.
func (t *QUIC) Name() string { return t.cfg.Name }

// Addr returns the UDP address the endpoint listens on.
func (t *QUIC) Addr() net.Addr { return t.tr.Conn.LocalAddr() }

// SetPeer records the address of a named peer; an empty one changes
// nothing. A peer given a new address is reached there from then on:
// what is sent it no longer goes into a connection, or a stream, opened
// at the old one, where a node of another group (SetGroup) of that name
// may answer.
func (t *QUIC) SetPeer(name, addr string) {
	if addr == "" {
		return // no address (a record that did not decode): the known one stands
	}
	t.mu.Lock()
	old, had := t.addrs[name]
	t.addrs[name] = addr
	p := t.peers[name]
	t.mu.Unlock()
	t.strangers.member(addr)
	if had && old != addr && old != "" && p != nil {
		p.moved()
	}
}

// acceptConfig returns the TLS configuration the endpoint accepts with:
// each handshake's is tlsConfigFrom its peer's address.
func (t *QUIC) acceptConfig() *tls.Config {
	conf := t.tlsConfig("")
	conf.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		var from net.Addr
		if hello.Conn != nil {
			from = hello.Conn.RemoteAddr()
		}
		return t.tlsConfigFrom("", from, ticketOf(hello.Context())), nil
	}
	return conf
}

// tlsConfig returns the TLS configuration for accepting (peer "") or for
// dialling the named peer. Verification is done here rather than by
// crypto/tls so that every refusal is logged with its reason.
func (t *QUIC) tlsConfig(peerName string) *tls.Config { return t.tlsConfigFrom(peerName, nil, nil) }

// tlsConfigFrom is tlsConfig for a handshake with a peer at from (nil
// if not known), of ticket tk (connContext; nil if none): a stranger's
// handshake accepted from there paces the next ones from its address
// (strangers.go).
func (t *QUIC) tlsConfigFrom(peerName string, from net.Addr, tk *paceTicket) *tls.Config {
	conf := &tls.Config{
		// The current certificate at each handshake: SetCertificate
		// replaces it without a restart.
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return t.own.Load().cert, nil },
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return t.own.Load().cert, nil
		},
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{ALPN},
		InsecureSkipVerify: true,                  // verified by VerifyConnection against the cluster CA
		ClientAuth:         tls.RequestClientCert, // required by VerifyConnection, which logs a refusal
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := t.verifyPeer(cs.PeerCertificates)
			if err == nil && peerName != "" && id.Name != peerName {
				err = fmt.Errorf("dialled %q but the peer's certificate names %q", peerName, id.Name)
			}
			if err != nil {
				// Keyed by the name dialled, or the one the CA
				// certified. A certificate the CAs do not verify names
				// whatever its maker wrote: keyed by its name, every new
				// name was a line of its own, and a stranger handshaking
				// with a new name each time wrote the log as fast as it
				// dialled. Strangers share one key; the line shows the
				// name presented, cut to a node name's longest.
				key, who := peerName, peerName
				if key == "" {
					key = id.Name
					if len(cs.PeerCertificates) > 0 {
						who = truncate(cs.PeerCertificates[0].Subject.CommonName, 253)
					}
				}
				t.refused.warnAs(t.log, "peer refused", key, who, err)
				if peerName == "" && id.Name == "" && from != nil && !t.strangers.signedByCluster(cs.PeerCertificates) {
					t.strangers.stranger(from, time.Now())
				}
			} else if tk != nil {
				// Not yet a member's: the peer has still to prove it
				// holds the key (acceptConns).
				tk.certified.Store(true)
			}
			return err
		},
	}
	if peerName != "" {
		conf.ServerName = peerName
	}
	return conf
}

// PeerIdentity returns what the certificate of the named peer says, from
// a live connection with it; false without one. A peer's requests arrive
// on a live connection, so a handler can always ask about their sender.
func (t *QUIC) PeerIdentity(name string) (pki.Identity, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		if c.Context().Err() != nil {
			continue
		}
		certs := c.ConnectionState().TLS.PeerCertificates
		if len(certs) == 0 || certs[0].Subject.CommonName != name {
			continue
		}
		leaf := certs[0]
		id := pki.Identity{Name: name, NotAfter: leaf.NotAfter, NotBefore: leaf.NotBefore, Serial: leaf.SerialNumber}
		if len(leaf.Subject.OrganizationalUnit) > 0 {
			id.Role = leaf.Subject.OrganizationalUnit[0]
		}
		return id, true
	}
	return pki.Identity{}, false
}

// refusalLog limits the log lines of refused handshakes: a revoked or
// expired peer dials again and again, and one line per peer every
// refusalLogEvery says as much as one per attempt. So for streams closed
// for what a peer sent: a member can open them as fast as it likes.
type refusalLog struct {
	mu    sync.Mutex
	last  map[string]refusal // by the name dialled or presented
	burst int                // lines of one peer in a window; 0 means 1
}

type refusal struct {
	at         time.Time // the window's start
	logged     int       // lines in the window
	suppressed int       // held back since the last line
}

// refusalLogEvery is the window of a peer's log lines.
const refusalLogEvery = 10 * time.Second

// badStreamBurst is how many streams of one peer closed for what it sent
// are logged a window.
const badStreamBurst = 8

func (l *refusalLog) log(log *slog.Logger, who string, err error) {
	l.warn(log, "peer refused", who, err)
}

// warn logs msg about the peer who, at most burst times a window, with
// the count of those it held back since the last line.
func (l *refusalLog) warn(log *slog.Logger, msg, who string, err error) {
	l.warnAs(log, msg, who, who, err)
}

// warnAs is warn with the lines counted under key, shown as who.
func (l *refusalLog) warnAs(log *slog.Logger, msg, key, who string, err error) {
	now := time.Now()
	l.mu.Lock()
	if l.last == nil {
		l.last = make(map[string]refusal)
	}
	r, seen := l.last[key]
	if !seen || now.Sub(r.at) >= refusalLogEvery {
		r.at, r.logged = now, 0
	}
	if r.logged >= max(l.burst, 1) {
		r.suppressed++
		l.last[key] = r
		l.mu.Unlock()
		return
	}
	held := r.suppressed
	r.logged++
	r.suppressed = 0
	l.last[key] = r
	if len(l.last) > 1024 {
		// Names come from whoever connects: forget the old ones.
		for k, v := range l.last {
			if now.Sub(v.at) >= refusalLogEvery {
				delete(l.last, k)
			}
		}
	}
	l.mu.Unlock()
	log.Warn(msg, "peer", who, "reason", err, "held back since last logged", held)
}

func peerName(c *quic.Conn) string {
	certs := c.ConnectionState().TLS.PeerCertificates
	if len(certs) == 0 {
		return ""
	}
	return certs[0].Subject.CommonName
}

func (t *QUIC) acceptConns() {
	for {
		c, err := t.ln.Accept(t.ctx)
		if err != nil {
			return
		}
		t.accepted(c) // strangers.go
		if f := testBeforeTrack.Load(); f != nil {
			(*f)(t)
		}
		if t.track(c) != nil {
			continue
		}
		if err := t.checkPeerConns(c); err != nil {
			t.refused.log(t.log, peerName(c), err)
			c.CloseWithError(codeTooManyConns, truncate(err.Error(), 256))
			t.untrack(c)
			continue
		}
		t.wg.Go(func() { t.serveAccepted(c) })
	}
}

// track records a connection so Close can close it, once its peer's
// certificate verifies against the CAs and revocations of the moment: its
// handshake may have verified it against a bundle SetTLS has replaced
// since, or before a Recheck, whose pass over the connections could not
// see it yet; a connection recorded in a generation that no Recheck has
// ended is verified by the next Recheck. It returns ErrClosed after
// Close, or why the peer is refused; either way c is closed.
func (t *QUIC) track(c *quic.Conn) error {
	for {
		t.mu.Lock()
		gen := t.gen
		t.mu.Unlock()
		id, err := t.verifyPeer(c.ConnectionState().TLS.PeerCertificates)
		if err != nil {
			t.log.Warn("connection closed: the peer's certificate is no longer accepted", "peer", peerName(c), "reason", err)
			c.CloseWithError(codeCertRefused, truncate("certificate refused: "+err.Error(), 256))
			return fmt.Errorf("%w: %v", ErrRefused, err)
		}
		t.mu.Lock()
		if t.ctx.Err() != nil {
			t.mu.Unlock()
			c.CloseWithError(0, "closing")
			return ErrClosed
		}
		if t.gen == gen {
			t.conns[c] = t.inboundOf(peerName(c))
			t.valid[c] = checked{until: id.Expires, gen: gen}
			t.mu.Unlock()
			return nil
		}
		t.mu.Unlock() // a Recheck began meanwhile: verified again
	}
}

// testBeforePingAnswer, if set, is called before an endpoint answers a
// ping on a connection with the peer at the address it is given (tests:
// a peer whose answer comes late, or never).
var testBeforePingAnswer atomic.Pointer[func(*QUIC, net.Addr)]

// testBeforeTrack, if set, is called by the accepting loop between a
// connection's handshake and track: a test seam.
var testBeforeTrack atomic.Pointer[func(*QUIC)]

func (t *QUIC) untrack(c *quic.Conn) {
	t.mu.Lock()
	if _, ok := t.conns[c]; ok {
		t.retire(c)
		name := peerName(c)
		if p := t.inbound[name]; p != nil {
			if p.conns--; p.conns == 0 {
				delete(t.inbound, name)
			}
		}
	}
	delete(t.conns, c)
	delete(t.valid, c)
	t.mu.Unlock()
	t.groups.Delete(c)
}

// peerInbound is a connection's InboundBytes and its peer's pace, which
// the peer's connections share.
type peerInbound struct {
	b    *budget
	pace *pacer
}

// state is the state of the connection's budget.
func (p *peerInbound) state() (used int64, waiting int) { return p.b.state() }

// peerShared is what a peer's connections share: its pace, and how many
// of them are tracked.
type peerShared struct {
	conns int
	pace  pacer
}

// inboundOf returns a new connection's budget, and the pace of the named
// peer's connections, counting one more connection of it. The budget is
// the connection's: a peer holds at most MaxConnsPerPeer of them. A
// budget the peer's connections shared was tried (an outside probe had
// pinned InboundBytes on each of 16 connections): it tied a connection's
// streams to another's, one a restarted peer left behind among them,
// and the cap bounds what a peer pins without it. t.mu must be held.
func (t *QUIC) inboundOf(name string) *peerInbound {
	s := t.inbound[name]
	if s == nil {
		s = &peerShared{}
		t.inbound[name] = s
	}
	s.conns++
	return &peerInbound{b: newBudget(t.cfg.InboundBytes), pace: &s.pace}
}

// serveConn accepts the streams a peer opens on a connection.
func (t *QUIC) serveConn(c *quic.Conn) {
	defer t.untrack(c)
	name := peerName(c)
	t.mu.Lock()
	p := t.conns[c]
	t.mu.Unlock()
	if p == nil {
		return // closed meanwhile
	}
	t.wg.Go(func() { t.receiveDatagrams(c, name) })
	// Servers run consensus and are trusted to; a client certificate is
	// every application's (each Wissenheim player holds one).
	paced := peerRole(c) != pki.RoleServer
	for {
		s, err := c.AcceptStream(t.ctx)
		if err != nil {
			t.noteRefusedOwn(name, err)
			return
		}
		if paced && t.pace(c.Context(), name, p) != nil {
			return
		}
		t.wg.Go(func() { t.serveStream(c, name, s, p.b) })
	}
}

// maxHello caps a hello frame: a type, a node's name and a kind.
const maxHello = 1024

// DefaultHelloTimeout is QUICConfig.HelloTimeout's default: the idle
// timeout of a connection, far beyond what a loaded machine delays a
// write by.
const DefaultHelloTimeout = 30 * time.Second

// helloLimit is the most a hello frame may take under a frame limit.
func helloLimit(maxFrame int) int { return min(maxHello, maxFrame) }

// held counts the bytes of the frames a stream holds against its
// connection's budget.
type held struct {
	in  *budget
	ctx context.Context // the connection's: waits end when it closes
	n   int64
}

// take is readFrameIn's admit: it waits for room for a frame of n bytes.
func (h *held) take(n int) error {
	if err := h.in.acquire(h.ctx, int64(n)); err != nil {
		return err
	}
	h.n += int64(n)
	return nil
}

// free gives back what the stream holds.
func (h *held) free() {
	h.in.release(h.n)
	h.n = 0
}

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// serveStream serves a stream peer name opened on c: it reads the hello
// frame, which says what kind of stream it is, and serves that kind.
func (t *QUIC) serveStream(c *quic.Conn, name string, s *quic.Stream, in *budget) {
	r := readers.Get().(*bufio.Reader)
	r.Reset(s)
	raw := false
	defer func() {
		if !raw {
			r.Reset(nil)
			readers.Put(r)
		}
	}()
	h := &held{in: in, ctx: c.Context()}
	defer h.free()
	hello, err := t.readHello(s, r, h)
	h.free()
	if err == nil && (hello.Type != frameHello || hello.From != name) {
		err = fmt.Errorf("%w: stream opened as %q by peer %q", ErrMalformedFrame, hello.From, name)
	}
	if err != nil {
		t.streamError(name, s, err)
		return
	}
	if hello.Kind == streamRaw {
		raw = true
		t.serveRaw(c, s, r)
		return
	}
	defer s.Close()
	switch hello.Kind {
	case streamMessages:
		t.serveMessages(name, s, r, h)
	case streamCall:
		t.serveCall(c, name, s, r, h)
	case streamBulk:
		t.serveBulk(name, s, r, h)
	case streamPing:
		if f := testBeforePingAnswer.Load(); f != nil {
			(*f)(t, c.RemoteAddr())
		}
		t.answerPing(name, s, hello.Body)
	default:
		t.streamError(name, s, fmt.Errorf("%w: unknown stream kind %d", ErrMalformedFrame, hello.Kind))
	}
}

// readHello reads a stream's hello frame within HelloTimeout, not
// counting the wait for room in the connection's budget (other streams'
// handlers hold it, not this peer's silence). A peer that opens streams
// and sends nothing would otherwise hold each, and the goroutine serving
// it, until the connection closes. The deadline is cleared once the hello
// is read: message and raw streams are long-lived.
func (t *QUIC) readHello(s *quic.Stream, r *bufio.Reader, h *held) (*frame, error) {
	f, err := t.readTimed(s, r, h, helloLimit(t.cfg.MaxFrame))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("no hello within %v: %w", t.cfg.HelloTimeout, err)
	}
	return f, err
}

// readOpening reads the frame that follows a call's or a bulk stream's
// hello, its request or header, within HelloTimeout as readHello does:
// every sender writes it with the hello, and a member that sent the
// hello alone held the stream, and the goroutine serving it, until the
// connection closed (1,024 streams a connection).
func (t *QUIC) readOpening(s *quic.Stream, r *bufio.Reader, h *held) (*frame, error) {
	f, err := t.readTimed(s, r, h, t.cfg.MaxFrame)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("no request after the hello within %v: %w", t.cfg.HelloTimeout, err)
	}
	return f, err
}

// readTimed reads a frame of at most max bytes within HelloTimeout, not
// counting the wait for room in the connection's budget.
func (t *QUIC) readTimed(s *quic.Stream, r *bufio.Reader, h *held, max int) (*frame, error) {
	d := t.cfg.HelloTimeout
	s.SetReadDeadline(time.Now().Add(d))
	defer s.SetReadDeadline(time.Time{})
	return readFrameIn(r, max, func(n int) error {
		s.SetReadDeadline(time.Time{})
		if err := h.take(n); err != nil {
			return err
		}
		return s.SetReadDeadline(time.Now().Add(d))
	})
}

// serveMessages hands each message frame of a message stream to the
// handler, until the stream ends.
func (t *QUIC) serveMessages(name string, s *quic.Stream, r *bufio.Reader, h *held) {
	var fi frameIn // the handler is done with f before the next read
	for {
		f, err := fi.read(r, t.cfg.MaxFrame, h.take)
		if err != nil {
			if !errors.Is(err, io.EOF) && t.ctx.Err() == nil {
				t.streamError(name, s, err)
			}
			return
		}
		if f.Type != frameMessage {
			t.streamError(name, s, fmt.Errorf("%w: frame type %d on a message stream", ErrMalformedFrame, f.Type))
			return
		}
		t.cfg.Handler.HandleMessage(name, f.Body)
		h.free()
	}
}

// serveCall reads a call stream's request, hands it to the handler and
// writes its answer or its error. The handler's context carries c, the
// connection the call came in on (CallerLife).
func (t *QUIC) serveCall(c *quic.Conn, name string, s *quic.Stream, r *bufio.Reader, h *held) {
	f, err := t.readOpening(s, r, h)
	if err == nil && f.Type != frameRequest {
		err = fmt.Errorf("%w: frame type %d on a call stream", ErrMalformedFrame, f.Type)
	}
	if err != nil {
		t.streamError(name, s, err)
		return
	}
	ctx, cancel := context.WithCancel(t.withCaller(t.ctx, c))
	defer cancel()
	resp, herr := t.cfg.Handler.HandleCall(ctx, name, f.Body)
	if herr == nil && len(resp) > t.maxBody() {
		// Tell the caller why rather than leave it without an answer.
		herr = fmt.Errorf("%w: answer of %d bytes, limit %d", ErrTooLarge, len(resp), t.maxBody())
		t.log.Warn("call answer too large", "peer", name, "err", herr)
	}
	out := &frame{Type: frameResponse, Body: resp}
	if herr != nil {
		out = &frame{Type: frameError, Body: []byte(herr.Error())}
	}
	if err := writeFrame(s, out, t.cfg.MaxFrame); err != nil {
		// The caller gave up (its context ended) or reset the stream: a
		// member can do so as fast as it opens calls.
		t.badStreams.warn(t.log, "call answer not sent", name, err)
	}
}

// serveBulk reads a bulk stream's header, hands it and the rest of the
// stream to the handler, and writes the outcome.
func (t *QUIC) serveBulk(name string, s *quic.Stream, r *bufio.Reader, h *held) {
	f, err := t.readOpening(s, r, h)
	if err == nil && f.Type != frameRequest {
		err = fmt.Errorf("%w: frame type %d opening a bulk stream", ErrMalformedFrame, f.Type)
	}
	if err != nil {
		t.streamError(name, s, err)
		return
	}
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	herr := t.cfg.Handler.HandleStream(ctx, name, f.Body, r)
	out := &frame{Type: frameResponse}
	if herr != nil {
		out = &frame{Type: frameError, Body: []byte(herr.Error())}
		s.CancelRead(4) // the sender need not send the rest
	}
	if err := writeFrame(s, out, t.cfg.MaxFrame); err != nil {
		t.badStreams.warn(t.log, "stream answer not sent", name, err)
	}
}

// SendStream sends header and body on a new stream; see Transport.
func (t *QUIC) SendStream(ctx context.Context, to string, header []byte, body io.Reader) error {
	if len(header) > t.maxBody() {
		return fmt.Errorf("%w: stream header of %d bytes, limit %d", ErrTooLarge, len(header), t.maxBody())
	}
	c, err := t.conn(ctx, to)
	if err != nil {
		return err
	}
	s, err := c.OpenStreamSync(ctx)
	if err != nil {
		return t.callErr(ctx, to, err)
	}
	stop := context.AfterFunc(ctx, func() {
		s.CancelRead(2)
		s.CancelWrite(2)
	})
	defer stop()
	buf, err := appendFrame(nil, &frame{Type: frameHello, From: t.cfg.Name, Kind: streamBulk})
	if err == nil {
		buf, err = appendFrame(buf, &frame{Type: frameRequest, Body: header})
	}
	if err != nil {
		return err
	}
	if _, err := s.Write(buf); err != nil {
		return t.callErr(ctx, to, err)
	}
	// QUIC's stream and connection windows are the flow control: Write
	// blocks while the receiver has not consumed enough.
	if _, err := io.CopyBuffer(s, body, make([]byte, 256<<10)); err != nil {
		// The receiver may have refused early; its answer says why.
		if f, rerr := readFrame(s, t.cfg.MaxFrame); rerr == nil && f.Type == frameError {
			return &RemoteError{Peer: to, Message: string(f.Body)}
		}
		return t.callErr(ctx, to, err)
	}
	s.Close()
	f, err := readFrame(s, t.cfg.MaxFrame)
	if err != nil {
		return t.callErr(ctx, to, err)
	}
	if f.Type == frameError {
		return &RemoteError{Peer: to, Message: string(f.Body)}
	}
	return nil
}

// peerClosed reports whether err is the end of a connection the peer
// closed as a transport closes: code 0, by the remote end.
func peerClosed(err error) bool {
	var ae *quic.ApplicationError
	return errors.As(err, &ae) && ae.Remote && ae.ErrorCode == 0
}

// streamError logs a bad stream and resets it; the connection and every
// other stream go on.
func (t *QUIC) streamError(name string, s *quic.Stream, err error) {
	if peerClosed(err) {
		// The peer closed its endpoint (it stopped, or left): every
		// node's stop logged a warning on each of its peers.
		t.log.Debug("stream ended: the peer closed its endpoint", "peer", name)
	} else {
		// A member can open streams as fast as it likes: one line a
		// peer every refusalLogEvery, with the count held back.
		t.badStreams.warn(t.log, "stream closed", name, err)
	}
	s.CancelRead(1)
	s.CancelWrite(1)
}

// conn returns a live connection to the named peer, dialling if needed.
func (t *QUIC) conn(ctx context.Context, name string) (*quic.Conn, error) {
	p, err := t.peer(name)
	if err != nil {
		return nil, err
	}
	return p.connect(ctx)
}

func (t *QUIC) peer(name string) (*peer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return nil, ErrClosed
	}
	if p, ok := t.peers[name]; ok {
		p.used.Store(t.idleClock())
		return p, nil
	}
	if _, ok := t.addrs[name]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPeer, name)
	}
	p := &peer{t: t, name: name, forgotten: make(chan struct{})}
	p.used.Store(t.idleClock())
	p.bulk.init(p, "messages", t.cfg.QueueLen)
	p.control.init(p, "control", t.cfg.QueueLen)
	t.peers[name] = p
	t.sendLoops.Add(2)
	t.wg.Go(p.bulk.sendLoop)
	t.wg.Go(p.control.sendLoop)
	return p, nil
}

// maxBody is the largest message, request, answer or stream header a
// frame carries.
func (t *QUIC) maxBody() int { return t.cfg.MaxFrame - FrameOverhead }

// Send queues msg for the named peer; see Transport. A message larger than
// MaxFrame-FrameOverhead bytes fails at once with ErrTooLarge; one that
// would take the peer's message queue past QueueBytes, with ErrQueueFull.
func (t *QUIC) Send(ctx context.Context, to string, msg []byte) error {
	return t.send(ctx, to, msg, false)
}

// SendControl queues msg for the named peer on its control stream; see
// ControlSender. The control queue has its own bounds, QueueLen messages
// and QueueBytes bytes, and its own stream and sender goroutine, so a
// control message waits only behind other control messages, never behind
// what Send queued.
func (t *QUIC) SendControl(ctx context.Context, to string, msg []byte) error {
	return t.send(ctx, to, msg, true)
}

var _ ControlSender = (*QUIC)(nil)

func (t *QUIC) send(ctx context.Context, to string, msg []byte, control bool) error {
	if len(msg) > t.maxBody() {
		return fmt.Errorf("%w: message of %d bytes, limit %d", ErrTooLarge, len(msg), t.maxBody())
	}
	p, err := t.peer(to)
	if err != nil {
		return err
	}
	q := &p.bulk
	if control {
		q = &p.control
	}
	n := int64(len(msg))
	queued, ok := q.reserve(n)
	if !ok {
		return q.refuse(n, queued)
	}
	if queued == 0 && n > 0 && q.sendDirect(msg) {
		q.bytes.Add(-n)
		return nil
	}
	select {
	case q.queue <- msg:
		return nil
	default:
	}
	if q.down.Load() {
		// Waiting for room makes sense only while the queue drains; a peer
		// that cannot be reached drains nothing.
		q.bytes.Add(-n)
		return fmt.Errorf("%w: %s", ErrUnreachable, to)
	}
	select {
	case q.queue <- msg:
		return nil
	case <-ctx.Done():
		q.bytes.Add(-n)
		return ctx.Err()
	case <-t.ctx.Done():
		q.bytes.Add(-n)
		return ErrClosed
	}
}

// Call sends req to the named peer on a new stream and waits for the answer.
func (t *QUIC) Call(ctx context.Context, to string, req []byte) ([]byte, error) {
	if len(req) > t.maxBody() {
		return nil, fmt.Errorf("%w: request of %d bytes, limit %d", ErrTooLarge, len(req), t.maxBody())
	}
	c, err := t.conn(ctx, to)
	if err != nil {
		return nil, err
	}
	s, err := c.OpenStreamSync(ctx)
	if err != nil {
		return nil, t.callErr(ctx, to, err)
	}
	stop := context.AfterFunc(ctx, func() {
		s.CancelRead(2)
		s.CancelWrite(2)
	})
	defer stop()
	buf, err := appendFrame(nil, &frame{Type: frameHello, From: t.cfg.Name, Kind: streamCall})
	if err == nil {
		buf, err = appendFrame(buf, &frame{Type: frameRequest, Body: req})
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.Write(buf); err != nil {
		return nil, t.callErr(ctx, to, err)
	}
	s.Close()
	f, err := readFrame(s, t.cfg.MaxFrame)
	if err != nil {
		return nil, t.callErr(ctx, to, err)
	}
	switch f.Type {
	case frameResponse:
		return f.Body, nil
	case frameError:
		return nil, &RemoteError{Peer: to, Message: string(f.Body)}
	}
	return nil, fmt.Errorf("%w: frame type %d answering a call", ErrMalformedFrame, f.Type)
}

func (t *QUIC) callErr(ctx context.Context, to string, err error) error {
	if taken := nameTaken(err); taken != nil {
		return taken
	}
	if unproven := nameUnproven(err); unproven != nil {
		return fmt.Errorf("%q: %w", to, unproven)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %q: %v", ErrUnreachable, to, err)
}

// Close closes every connection and the socket, and waits for every
// goroutine of the endpoint. It is idempotent.
func (t *QUIC) Close() error {
	t.mu.Lock()
	if t.ctx.Err() != nil {
		t.mu.Unlock()
		return nil
	}
	t.cancel()
	conns := t.conns
	t.conns = map[*quic.Conn]*peerInbound{}
	t.inbound = map[string]*peerShared{}
	t.valid = map[*quic.Conn]checked{}
	t.mu.Unlock()
	for c := range conns {
		c.CloseWithError(0, "closing")
	}
	t.ln.Close()
	t.wg.Wait()
	err := t.tr.Close()
	if t.ownPC {
		t.tr.Conn.Close()
	}
	return err
}

// goLive runs f on a goroutine of the endpoint, counted in t.wg, unless
// the endpoint is closed; it reports whether it did. Close cancels t.ctx
// under t.mu before it waits for t.wg, so a goroutine started here is
// counted before that wait begins, or not started at all. Started
// without the lock by a caller that had found the endpoint open (a
// dial of connAt, on memberlist's probe, which outlives its Shutdown),
// it was counted after Close had waited: a goroutine Close did not wait
// for, which the race detector reports as the WaitGroup's Add racing its
// Wait. Callers may hold an addrPeer's mu: t.mu is taken after it,
// never before.
func (t *QUIC) goLive(f func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return false
	}
	t.wg.Go(f)
	return true
}

// peer is the outbound side of one peer: its connection and its two
// queues of one-way messages, each drained by its own sendLoop onto its
// own stream of that connection.
type peer struct {
	t    *QUIC
	name string
	// bulk carries what Send queues (raft appends and proposals, up to a
	// frame each); control what SendControl queues (heartbeats, votes,
	// responses: small, and late if they wait behind a large append).
	bulk, control sendQueue

	mu   sync.Mutex // protects conn and addr
	conn *quic.Conn
	addr string // the address conn was reached at
	// moves counts the peer's changes of address (SetPeer): a queue's
	// stream opened before the last one is given up.
	moves atomic.Uint64
	// used is when the peer was last looked up to send to (t.peer), on
	// t.idleClock; forgotten is closed when reapIdle dropped it
	// from t.peers, which ends its sendLoops (peeridle.go).
	used      atomic.Int64
	forgotten chan struct{}
}

// moved gives up the queues' streams to the peer, for its address
// changed (connect gives up the connection).
func (p *peer) moved() {
	p.moves.Add(1)
	p.bulk.stream.Store(nil)
	p.control.stream.Store(nil)
}

// sendQueue is one of a peer's queues of one-way messages and its
// stream.
type sendQueue struct {
	p     *peer
	class string // "messages" or "control", for the logs
	queue chan []byte
	down  atomic.Bool // the last attempt to reach the peer failed

	// bytes counts the messages queued and being written, from Send
	// until sendLoop has written or dropped them.
	bytes   atomic.Int64
	dropped atomic.Uint64 // messages refused for QueueBytes
	warned  atomic.Int64  // when a refusal was last logged, in Unix nanoseconds

	// stream is the queue's stream once sendLoop has written to it, nil
	// before and after a failure; sendDirect writes to it.
	stream atomic.Pointer[quic.Stream]
	// direct is sendDirect's frame buffer: one caller at a time (see
	// sendDirect).
	direct  []byte
	directs atomic.Uint64 // messages sendDirect wrote
}

// directMax is the largest message sendDirect writes itself; a larger
// one goes through sendLoop, whose write may wait for flow control.
const directMax = 16 << 10

// sendDirect writes msg to the queue's stream from the caller's
// goroutine if the stream takes all of it at once, and reports whether
// it did. Its caller found nothing queued or being written (reserve
// returned 0, and bytes counts a message until it is written or
// dropped): so no other message can be written meanwhile, by sendLoop or
// by another caller, and none sent before msg is still waiting to be.
// It saves a goroutine hand-off a message: the caller wakes quic-go's
// connection goroutine itself, not sendLoop, which would then wake it
// (docs/design.md, "One hand-off less a message").
func (q *sendQueue) sendDirect(msg []byte) bool {
	if len(msg) > directMax || q.down.Load() {
		return false
	}
	s := q.stream.Load()
	if s == nil {
		return false
	}
	q.direct, _ = appendFrame(q.direct[:0], &frame{Type: frameMessage, Body: msg})
	if s.TryWriteAll(q.direct) != nil {
		return false
	}
	q.directs.Add(1)
	return true
}

func (q *sendQueue) init(p *peer, class string, n int) {
	q.p, q.class, q.queue = p, class, make(chan []byte, n)
}

// controlUrgency is the QUIC priority of control streams: below
// quic-go's default (3, which message, call and bulk streams keep), so
// that a packet takes a queued heartbeat or vote before the rest of a
// large append.
const controlUrgency = 2

// reserve counts n bytes as queued if they fit under QueueBytes, or if
// nothing is queued; it returns the bytes queued before.
func (q *sendQueue) reserve(n int64) (int64, bool) {
	for {
		cur := q.bytes.Load()
		if cur > 0 && cur+n > q.p.t.cfg.QueueBytes {
			return cur, false
		}
		if q.bytes.CompareAndSwap(cur, cur+n) {
			return cur, true
		}
	}
}

// dropLogEvery is the least time between two log lines about messages a
// full queue refused.
const dropLogEvery = 10 * time.Second

// refuse counts a message the queue has no room for, logs it if no
// refusal of this queue was logged in the last dropLogEvery, and returns
// the error.
func (q *sendQueue) refuse(n, queued int64) error {
	p := q.p
	total := q.dropped.Add(1)
	now := time.Now().UnixNano()
	if last := q.warned.Load(); (last == 0 || now-last >= int64(dropLogEvery)) && q.warned.CompareAndSwap(last, now) {
		p.t.log.Warn("messages dropped: the peer's send queue is full (QueueBytes)", "peer", p.name, "queue", q.class,
			"bytes", n, "queued", queued, "limit", p.t.cfg.QueueBytes, "dropped", total)
	}
	return fmt.Errorf("%w: %s (%s): %d bytes queued, a message of %d, limit %d", ErrQueueFull, p.name, q.class, queued, n, p.t.cfg.QueueBytes)
}

// connect returns the peer's connection, dialling it if there is none.
// The dial is not made under p.mu: connAt shares one dial of an address
// among its callers, each waiting within its own ctx, where a caller
// waiting for p.mu would wait out another's dial (5 s to a peer that is
// down) whatever its ctx said, and a node's close with it.
func (p *peer) connect(ctx context.Context) (*quic.Conn, error) {
	p.t.mu.Lock()
	addr := p.t.addrs[p.name]
	p.t.mu.Unlock()
	p.mu.Lock()
	if c := p.conn; c != nil && c.Context().Err() == nil && p.addr == addr {
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	// One connection per pair: reuse one the peer opened to us, or one
	// dialled by address, before dialling another.
	c, err := p.t.connAt(ctx, addr, p.name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil && p.conn.Context().Err() == nil && p.addr == addr {
		return p.conn, nil // another caller's, set meanwhile
	}
	p.conn, p.addr = c, addr
	return c, nil
}

// sendLoop writes queued messages to the queue's stream, opened on the
// peer's connection with its first message, batching what is queued into
// one write. On a failure it drops the batch (messages are best-effort)
// and reconnects.
func (q *sendQueue) sendLoop() {
	p := q.p
	defer p.t.sendLoops.Add(-1)
	var s *quic.Stream
	var moves uint64 // p.moves when s was opened
	var buf []byte
	for {
		var msg []byte
		select {
		case msg = <-q.queue:
		case <-p.t.ctx.Done():
			return
		case <-p.forgotten:
			if s != nil {
				s.Close()
			}
			return
		}
		buf = buf[:0]
		if s != nil && p.moves.Load() != moves {
			s.Close() // the peer moved: its stream goes to the old address
			s = nil
		}
		if s == nil {
			moves = p.moves.Load()
			c, err := p.connect(p.t.ctx)
			if err == nil {
				s, err = c.OpenStreamSync(p.t.ctx)
			}
			if err != nil {
				p.t.log.Debug("message dropped", "peer", p.name, "queue", q.class, "err", err)
				q.bytes.Add(-int64(len(msg)))
				s = nil
				q.down.Store(true)
				continue
			}
			if q == &p.control {
				s.SetPriority(controlUrgency, true)
			}
			q.down.Store(false)
			// Both queues' streams are message streams to the receiver,
			// which serves each on its own.
			buf, _ = appendFrame(buf, &frame{Type: frameHello, From: p.t.cfg.Name, Kind: streamMessages})
		}
		batched := int64(len(msg))
		buf, _ = appendFrame(buf, &frame{Type: frameMessage, Body: msg})
	batch:
		for len(buf) < 256<<10 {
			select {
			case msg = <-q.queue:
				batched += int64(len(msg))
				buf, _ = appendFrame(buf, &frame{Type: frameMessage, Body: msg})
			default:
				break batch
			}
		}
		msg = nil
		if _, err := s.Write(buf); err != nil {
			p.t.log.Debug("messages dropped", "peer", p.name, "queue", q.class, "err", err)
			q.stream.Store(nil)
			s.CancelWrite(3)
			s = nil
			q.down.Store(true)
		} else if p.moves.Load() == moves {
			q.stream.Store(s)
			if p.moves.Load() != moves {
				q.stream.CompareAndSwap(s, nil) // moved meanwhile: moved's nil stands
			}
		}
		q.bytes.Add(-batched)
		if cap(buf) > 1<<20 {
			buf = nil // a large message's buffer is not kept for the next batch
		}
	}
}

// resetKey is the endpoint's stateless reset key: the one configured
// (QUICConfig.ResetKey), or else one derived from its private key, so
// that it is the same after a restart: packets that peers still send on
// connections of the previous process are answered with a stateless
// reset, and the peers drop those connections at once instead of after
// the idle timeout.
func resetKey(configured, keyPEM []byte) *quic.StatelessResetKey {
	var k quic.StatelessResetKey
	if configured != nil {
		copy(k[:], configured)
		return &k
	}
	h := sha256.New()
	h.Write([]byte("oss transport stateless reset key\x00"))
	h.Write(keyPEM)
	copy(k[:], h.Sum(nil))
	return &k
}
