package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/pki"
)

// hangups is SIGHUP caught for "ossd run": from the moment it starts, so
// that a SIGHUP while the node starts (waits to join its cluster, replays
// its log) does not end the process, as the signal's default action did
// (exit 129, nothing logged: "systemctl reload" during a long recovery
// killed the node). A SIGHUP caught before the node runs is acted on
// once it does; one caught once the reloads ended (while the node
// leaves) is ignored, until stop.
type hangups struct {
	ch   chan os.Signal
	quit chan struct{} // closed by end
	done chan struct{} // closed when serve's goroutine returns; nil before serve
	once sync.Once
}

// catchHangup starts catching SIGHUP.
func catchHangup() *hangups {
	h := &hangups{ch: make(chan os.Signal, 1), quit: make(chan struct{})}
	signal.Notify(h.ch, syscall.SIGHUP)
	return h
}

// stop stops catching SIGHUP: once the node has left, or did not start.
func (h *hangups) stop() { signal.Stop(h.ch) }

// end ends the reloads serve started and waits for one in progress: the
// owner calls it before the node leaves, so that no reload reaches the
// node or the admin interface (srv) as they close, or logs after "left
// the cluster". SIGHUP is still caught.
func (h *hangups) end() {
	h.once.Do(func() { close(h.quit) })
	if h.done != nil {
		<-h.done
	}
}

// tlsFiles are the files of a node's TLS material: the CA bundle, its
// certificate and its key.
type tlsFiles struct{ ca, cert, key string }

// serve reloads, on every SIGHUP until ctx ends or end is called, the
// node's CA bundle, certificate and key from their files, and has the
// admin interface (srv, if not nil) trust and present them too: a
// certificate, or the CA, is rotated without a restart (see
// docs/design.md, "Certificate lifecycle" and "Rotating the CA"). Its
// goroutine is the caller's, who ends it with end.
func (h *hangups) serve(ctx context.Context, node *oss.Node, srv *admin.Server, files tlsFiles, logger *slog.Logger) {
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-h.quit:
				return
			case <-h.ch:
			}
			if ctx.Err() != nil {
				return
			}
			reloadHook(h.quit, func() { reload(node, srv, files, logger) })
		}
	}()
}

// reloadHook runs a SIGHUP's reload; quit is closed when the reloads end.
// Tests replace it to hold a reload in progress.
var reloadHook = func(quit <-chan struct{}, reload func()) { reload() }

// reload is one SIGHUP's reload. A CA bundle that cannot be read or does
// not parse is refused, with a line naming the file and why, and the
// certificate is reloaded alone, against the current bundle; a
// certificate and key that cannot be read are refused in the same way,
// and the bundle reloaded alone. What the node refuses (a bundle that does
// not certify its certificate, a certificate of another role, a revoked
// one) leaves both as they were.
func reload(node *oss.Node, srv *admin.Server, files tlsFiles, logger *slog.Logger) {
	ca, err := os.ReadFile(files.ca)
	if err == nil {
		_, err = pki.ParseBundle(ca)
	}
	if err != nil {
		logger.Error("SIGHUP: CA bundle not reloaded; the node goes on trusting its current CAs", "ca", files.ca, "err", err)
		ca = nil
	}
	cert, err := os.ReadFile(files.cert)
	var key []byte
	if err == nil {
		key, err = os.ReadFile(files.key)
	}
	if err != nil {
		logger.Error("SIGHUP: certificate not reloaded; the node goes on with its current one", "cert", files.cert, "key", files.key, "err", err)
		cert, key = nil, nil
	}
	if ca == nil && cert == nil {
		return
	}
	if err := node.ReloadTLS(ca, cert, key); err != nil {
		logger.Error("SIGHUP: neither the CA bundle nor the certificate reloaded; the node goes on with its current ones", "ca", files.ca, "cert", files.cert, "key", files.key, "err", err)
		return
	}
	if srv == nil {
		return
	}
	if cert != nil {
		if err := srv.SetCertificate(cert, key); err != nil {
			logger.Error("SIGHUP: the admin interface goes on presenting its current certificate", "cert", files.cert, "key", files.key, "err", err)
		}
	}
	if ca != nil {
		if err := srv.SetCA(ca); err != nil {
			logger.Error("SIGHUP: the admin interface goes on trusting its current CAs", "ca", files.ca, "err", err)
		}
	}
}
