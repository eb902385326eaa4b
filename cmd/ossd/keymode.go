package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/objectsharing/oss/oss"
)

// loadTLS reads the node's TLS material (readTLS) and warns if its
// private key's file is open to other users (warnOpenKey).
func (f *runFlags) loadTLS(logger *slog.Logger) (*oss.TLSConfig, error) {
	tlsc, err := f.readTLS()
	if err != nil {
		return nil, err
	}
	warnOpenKey(f.keyFile, logger)
	return tlsc, nil
}

// warnOpenKey logs a WARN if the key file's mode lets users other than
// its owner read or write it: whoever reads the key can act as the node.
// "ossd cert issue" writes keys 0600; one copied or unpacked with a
// looser mode was taken silently. It warns rather than refuses: a
// service manager or a container platform may hand the key over
// group-readable on purpose (a Kubernetes secret volume is 0644 by
// default).
func warnOpenKey(path string, logger *slog.Logger) {
	fi, err := os.Stat(path)
	if err != nil {
		return // readTLS has read it; a race with its removal is not ours to report
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		logger.Warn("the node's private key is readable or writable by other users: whoever reads it can act as this node; make it the service user's alone",
			"key", path, "mode", fmt.Sprintf("%#o", perm), "fix", fmt.Sprintf("chmod 600 %s", path))
	}
}
