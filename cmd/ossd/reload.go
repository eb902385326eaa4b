package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/objectsharing/oss/oss"
)

// reloadOnHangup reloads the node's certificate and key from their files
// on every SIGHUP until ctx ends: a certificate is rotated without a
// restart (see docs/design.md, "Certificate lifecycle"). SIGHUP is caught
// from when it returns.
func reloadOnHangup(ctx context.Context, node *oss.Node, certFile, keyFile string, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go reloadLoop(ctx, hup, node, certFile, keyFile, logger)
}

func reloadLoop(ctx context.Context, hup chan os.Signal, node *oss.Node, certFile, keyFile string, logger *slog.Logger) {
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
		}
	}
}
