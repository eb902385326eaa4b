package admin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss"
)

// serverTLS validates o and returns the listener's TLS configuration, nil
// if Insecure; the listener presents the certificate cur holds, which it
// sets to the one of o.
func (o *Options) serverTLS(cur *atomic.Pointer[tls.Certificate], cas *atomic.Pointer[x509.CertPool], share *connShare) (*tls.Config, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Insecure {
		return nil, nil
	}
	return serverTLS(o, cur, cas, share)
}

// Server is a node's admin interface served on a TCP listener of its own.
type Server struct {
	hs      *http.Server
	ln      net.Listener
	tls     bool
	done    chan struct{}
	cert    atomic.Pointer[tls.Certificate] // what the listener presents; SetCertificate swaps it
	cas     atomic.Pointer[x509.CertPool]   // the CAs client certificates are verified against; SetCA swaps them
	handler atomic.Pointer[http.Handler]    // what requests get: the node's interface, or "starting"
	share   *connShare                      // each identity's part of the connections
	// base is every request's context; Close ends it for the requests
	// still under way once its wait for them ends.
	base    context.Context
	endBase context.CancelFunc
}

// NewServer listens on Options.Addr and serves the admin interface of node
// there until Close: HTTPS with client certificates of the cluster's CA
// (TLS 1.3 at least, HTTP/1.1), or plain HTTP on loopback if
// Options.Insecure, with the timeouts and limits of Options. It refuses an
// insecure listener on an address that is not loopback, and logs a
// warning for a TLS one that is reachable from the network.
func NewServer(node *oss.Node, opts *Options) (*Server, error) {
	s, err := listen(node, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Ready(node, opts); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	return s, nil
}

// Starting serves, on Options' listener, what a node's admin interface
// says while the node starts (it waits to join its cluster, or replays its
// log): every request with a valid client certificate gets 503 and a
// line saying the node named name is starting, where it used to hang in
// the TLS handshake until the client gave up. Ready swaps the node's
// interface in. The listener's checks are NewServer's.
func Starting(name string, opts *Options) (*Server, error) {
	s, err := listen(nil, opts)
	if err != nil {
		return nil, err
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set(stateHeader, "starting")
		reply(w, http.StatusServiceUnavailable, map[string]string{
			"error": fmt.Sprintf("node %q is starting: it has not joined its cluster (or recovered its data) yet; try again in a moment, or read its log for why it waits", name)})
	})
	s.handler.Store(&h)
	return s, nil
}

// Ready serves the admin interface of node from now on, on the listener of
// a Starting server; opts are the ones given to Starting.
func (s *Server) Ready(node *oss.Node, opts *Options) error {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Listener, o.Addr = nil, s.Addr()
	if s.tls {
		o.cas = &s.cas
	}
	o.connsRefused = func() float64 { return float64(s.share.refused.Load()) }
	h, err := NewHandler(node, &o)
	if err != nil {
		return err
	}
	s.handler.Store(&h)
	return nil
}

// listen binds (or takes) the listener and serves it; requests get what
// s.handler holds.
func listen(node *oss.Node, opts *Options) (*Server, error) {
	ln := opts.Listener
	o := opts.populate(node)
	if ln != nil {
		o.Addr = ln.Addr().String()
	}
	s := &Server{done: make(chan struct{})}
	s.base, s.endBase = context.WithCancel(context.Background())
	perID := o.MaxConnsPerIdentity
	if o.Insecure || perID < 0 {
		perID = 0 // one identity, or no share
	}
	s.share = newConnShare(perID, o.MaxConns, o.Logger)
	tlsc, err := o.serverTLS(&s.cert, &s.cas, s.share)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", o.Addr); err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
	}
	o.Addr = ln.Addr().String()
	ln = newLimitListener(ln, o.MaxConns, s.share)
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	s.ln, s.tls = ln, tlsc != nil
	s.hs = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.share.refuseExcess(w, r) {
				return
			}
			(*s.handler.Load()).ServeHTTP(w, r)
		}),
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ConnContext:       connContext,
		TLSConfig:         tlsc,
		Protocols:         protocols,
		ReadTimeout:       o.ReadTimeout,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		// Failed handshakes (no certificate, another CA's, an expired
		// one) are the client's to report.
		ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	unavailable := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Nothing of the node is served yet, so nothing is done: a
		// client may go on to the next node, as past one starting.
		w.Header().Set(stateHeader, "starting")
		reply(w, http.StatusServiceUnavailable, map[string]string{"error": "the admin interface is not ready"})
	}))
	s.handler.Store(&unavailable)
	if tlsc == nil {
		o.Logger.Warn("the admin interface serves plain HTTP without authentication (insecure): every local user and process that can connect may read and write every heap, revoke certificates and grant access", "addr", s.Addr())
	}
	if host, _, _ := net.SplitHostPort(o.Addr); !IsLoopback(host) {
		o.Logger.Warn("the admin interface is reachable from the network: only clients with a certificate of the cluster's CA are served", "addr", s.Addr())
	}
	go func() {
		defer close(s.done)
		if s.tls {
			s.hs.ServeTLS(ln, "", "")
		} else {
			s.hs.Serve(ln)
		}
	}()
	return s, nil
}

// serverTLS is the listener's TLS configuration: the node's certificate,
// as cur holds it from now on, and client certificates of the cluster's
// CAs, as cas holds them from now on, required.
func serverTLS(o *Options, cur *atomic.Pointer[tls.Certificate], cas *atomic.Pointer[x509.CertPool], share *connShare) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(o.CertPEM, o.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("admin: the node's certificate and key: %w", err)
	}
	pool, _, err := ipki.ParseBundle(o.CAPEM)
	if err != nil {
		return nil, fmt.Errorf("admin: the CA's PEM: %w", err)
	}
	cur.Store(&cert)
	cas.Store(pool)
	base := &tls.Config{
		MinVersion:     tls.VersionTLS13,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cur.Load(), nil },
		ClientAuth:     tls.RequireAndVerifyClientCert,
		Time:           o.Now,
	}
	// Each handshake verifies the client against the CAs of the moment
	// (SetCA replaces them without a restart), then counts the connection
	// for the certificate's identity (connShare).
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c := base.Clone()
			c.ClientCAs = cas.Load()
			if lc, ok := hello.Conn.(*limitedConn); ok {
				c.VerifyConnection = func(cs tls.ConnectionState) error {
					share.verified(lc, cs.PeerCertificates)
					return nil
				}
			}
			return c, nil
		},
	}, nil
}

// SetCertificate replaces the certificate and key the listener presents:
// new handshakes present the new pair, connections open already keep the
// one they were made with. "ossd run" calls it on SIGHUP once the node has
// taken the same pair (oss.Node.ReloadCertificate): without it the admin
// interface went on presenting the certificate the node started with,
// revoked or about to expire, until a restart. An insecure server,
// which presents none, ignores it.
func (s *Server) SetCertificate(certPEM, keyPEM []byte) error {
	if !s.tls {
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("admin: the node's certificate and key: %w", err)
	}
	s.cert.Store(&cert)
	return nil
}

// SetCA replaces the CAs whose client certificates the listener accepts
// (caPEM: the PEM certificates of every CA the cluster trusts; see
// pki.ParseBundle for what is refused). New handshakes verify against the
// new CAs; on connections open already, every request is verified again
// (authenticate), so a request, or a dashboard stream's next snapshot,
// with a certificate of a CA removed is refused: removing a CA removes
// its certificates' access at once. "ossd run" calls it on SIGHUP once
// the node has taken the same bundle (oss.Node.ReloadTLS). An insecure
// server ignores it.
func (s *Server) SetCA(caPEM []byte) error {
	if !s.tls {
		return nil
	}
	pool, _, err := ipki.ParseBundle(caPEM)
	if err != nil {
		return fmt.Errorf("admin: CA bundle: %w", err)
	}
	s.cas.Store(pool)
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL: https://ADDR, or http://ADDR if insecure.
func (s *Server) URL() string {
	if s.tls {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Close stops the server: it stops listening and lets the requests under
// way finish until ctx ends. Then it ends the contexts of those still
// under way, so that each answers what it did (a 503 saying the node is
// closing if nothing, a 504 if its outcome is unknown), waits for those
// answers (at most closeGrace), closes every connection and waits for
// the server to exit. It is idempotent. Before, the connections were
// closed unanswered when ctx ended, and a client had to take every write
// under way for an unknown outcome, those that never reached the log too.
func (s *Server) Close(ctx context.Context) error {
	err := s.hs.Shutdown(ctx)
	s.endBase()
	if err != nil {
		gctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		if s.hs.Shutdown(gctx) != nil {
			s.hs.Close()
		}
		cancel()
	}
	<-s.done
	return err
}

// closeGrace bounds Close's wait for the answers of the requests whose
// contexts it ended.
const closeGrace = 2 * time.Second
