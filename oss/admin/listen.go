package admin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/objectsharing/oss/oss"
)

// serverTLS validates o and returns the listener's TLS configuration, nil
// if Insecure.
func (o *Options) serverTLS() (*tls.Config, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Insecure {
		return nil, nil
	}
	return serverTLS(o)
}

// Server is a node's admin interface served on a TCP listener of its own.
type Server struct {
	hs   *http.Server
	ln   net.Listener
	tls  bool
	done chan struct{}
}

// NewServer listens on Options.Addr and serves the admin interface of node
// there until Close: HTTPS with client certificates of the cluster's CA
// (TLS 1.3 at least, HTTP/1.1), or plain HTTP on loopback if
// Options.Insecure, with the timeouts and limits of Options. It refuses an
// insecure listener on an address that is not loopback, and logs a
// warning for a TLS one that is reachable from the network.
func NewServer(node *oss.Node, opts *Options) (*Server, error) {
	ln := opts.Listener
	o := opts.populate(node)
	if ln != nil {
		o.Addr = ln.Addr().String()
	}
	tlsc, err := o.serverTLS()
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
	h, err := NewHandler(node, &o)
	if err != nil {
		ln.Close()
		return nil, err
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	s := &Server{ln: ln, tls: tlsc != nil, done: make(chan struct{}), hs: &http.Server{
		Handler:           h,
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
	}}
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
// and client certificates of the cluster's CA required.
func serverTLS(o *Options) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(o.CertPEM, o.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("admin: the node's certificate and key: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(o.CAPEM) {
		return nil, errors.New("admin: no certificate in the CA's PEM")
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		Time:         o.Now,
	}, nil
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

// Close stops the server: it stops listening, lets the requests under way
// finish until ctx ends, then closes every connection and waits for the
// server to exit. It is idempotent.
func (s *Server) Close(ctx context.Context) error {
	err := s.hs.Shutdown(ctx)
	if err != nil {
		s.hs.Close()
	}
	<-s.done
	return err
}
