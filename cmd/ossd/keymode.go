package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

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
// its owner read or write it (openKey): whoever reads the key can act as
// the node. "ossd cert issue" writes keys 0600; one copied or unpacked
// with a looser mode was taken silently. It warns rather than refuses: a
// service manager or a container platform may hand the key over
// group-readable on purpose (a Kubernetes secret volume is 0644 by
// default).
func warnOpenKey(path string, logger *slog.Logger) {
	if perm, open := openKey(path); open {
		logger.Warn("the node's private key is readable or writable by other users: whoever reads it can act as this node; make it the service user's alone",
			"key", path, "mode", fmt.Sprintf("%#o", perm), "fix", fmt.Sprintf("chmod 600 %s", path))
	}
}

// warnOpenUserKey writes a warning to w, as ssh does for a private key,
// if the key of the user's certificate in dir (dir/user.key, what the
// CLI's --certs and --user name) is open to other users (openKey):
// whoever reads an operator's key can do all the operator may. A
// warning, not a refusal, as for a node's key (warnOpenKey).
func warnOpenUserKey(w io.Writer, dir, user string) {
	path := filepath.Join(dir, user+".key")
	if perm, open := openKey(path); open {
		fmt.Fprintf(w, "ossd: warning: the private key %s (mode %#o) is readable or writable by other users: whoever reads it can act as %q; make it yours alone: chmod 600 %s\n",
			path, perm, user, path)
	}
}

// openKey returns the permission bits of a private key's file and
// whether they let users other than its owner read or write it; false if
// the file cannot be examined (whoever reads it reports that).
func openKey(path string) (os.FileMode, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	perm := fi.Mode().Perm()
	return perm, perm&0o077 != 0
}
