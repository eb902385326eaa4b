package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// hangups is SIGHUP caught for "ossd run": from the moment it starts, so
// that a SIGHUP while the node starts (waits to join its cluster, replays
// its log) does not end the process, as the signal's default action did
// (exit 129, nothing logged: "systemctl reload" during a long recovery
// killed the node). A SIGHUP caught before the node runs is acted on
// once it does.
type hangups struct{ ch chan os.Signal }

// catchHangup starts catching SIGHUP.
func catchHangup() *hangups {
	h := &hangups{ch: make(chan os.Signal, 1)}
	signal.Notify(h.ch, syscall.SIGHUP)
	return h
}

// stop stops catching SIGHUP, for a node that did not start.
func (h *hangups) stop() { signal.Stop(h.ch) }

// serve reloads the node's certificate and key from their files on every
// SIGHUP until ctx ends, and has the admin interface (srv, if not nil)
// present them too: a certificate is rotated without a restart (see
// docs/design.md, "Certificate lifecycle").
func (h *hangups) serve(ctx context.Context, node *oss.Node, srv *admin.Server, certFile, keyFile string, logger *slog.Logger) {
	go reloadLoop(ctx, h.ch, node, srv, certFile, keyFile, logger)
}

func reloadLoop(ctx context.Context, hup chan os.Signal, node *oss.Node, srv *admin.Server, certFile, keyFile string, logger *slog.Logger) {
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		cert, err := os.ReadFile(certFile)
		var key []byte
		if err == nil {
			key, err = os.ReadFile(keyFile)
		}
		if err == nil {
			err = node.ReloadCertificate(cert, key)
		}
		if err != nil {
			logger.Error("SIGHUP: certificate not reloaded; the node goes on with its current one", "cert", certFile, "key", keyFile, "err", err)
			continue
		}
		if srv == nil {
			continue
		}
		if err := srv.SetCertificate(cert, key); err != nil {
			logger.Error("SIGHUP: the admin interface goes on presenting its current certificate", "cert", certFile, "key", keyFile, "err", err)
		}
	}
}
