package oss

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/objectsharing/oss/persist"
)

// A durable node keeps its transport's stateless reset key in its data
// directory, in resetKeyFile: 32 random bytes, made once, read at every
// start (transport.QUICConfig.ResetKey). A process that crashed (SIGKILL)
// leaves its peers' connections to it open; the next one answers what
// they send on them with a stateless reset, which they take only if it
// was made with the key the crashed process used. Derived from the
// node's private key, as the transport does by default, it changed with
// a key reloaded by SIGHUP (Node.ReloadTLS), and a node restarted after
// such a reload stayed out of its peers' reach until their connections
// timed out (30 s). The file names the endpoint, not the cluster: a
// failed start keeps it (takeBackOrder), and --rebuild-replica carries
// it into the new data directory.
//
// It is a secret (whoever holds it can close the node's connections):
// written mode 0600, as every file of the data directory. A file of
// another size, or one that cannot be read, is replaced by a new secret
// and logged (the only cost: the one restart it replaces the key of is
// reached after the peers' timeout, as before); one that cannot be
// written leaves the derived key, with a warning. The node never refuses
// to start over it.
const resetKeyFile = "RESET_KEY"

// resetKeySize is the size of a stateless reset key.
const resetKeySize = 32

// loadResetKey returns the reset key kept in dir, made and written if
// there is none or it is damaged; nil (the key derived from the node's
// private key) if none can be written. onOS says fsys holds dir on the
// operating system's file system, where the file's mode is checked
// (keepPrivate).
func loadResetKey(fsys persist.FS, dir string, onOS bool, log *slog.Logger) []byte {
	path := filepath.Join(dir, resetKeyFile)
	b, err := readResetKey(fsys, path)
	switch {
	case err == nil && len(b) == resetKeySize:
		if onOS {
			keepPrivate(fsys, dir, path, b, log)
		}
		return b
	case err == nil:
		log.Warn("the stateless reset key's file is damaged: a new one is written (peers may reach this start only after their connections to the process before time out)", "file", path, "bytes", len(b), "want", resetKeySize)
	case !errors.Is(err, fs.ErrNotExist):
		log.Warn("the stateless reset key's file cannot be read: a new one is written (peers may reach this start only after their connections to the process before time out)", "file", path, "err", err)
	}
	key := make([]byte, resetKeySize)
	rand.Read(key)
	if err := persist.WriteFileAtomic(fsys, dir, resetKeyFile, key); err != nil {
		log.Warn("the stateless reset key cannot be kept: the one derived from the node's key is used, and a restart after a key reload is reached only once the peers' connections to the process before time out (30 s)", "file", path, "err", err)
		return nil
	}
	return key
}

// keepPrivate rewrites the reset key's file, mode 0600, with a warning,
// if its mode lets users other than its owner read or write it (as
// ossd's warnOpenKey does for the node's key): a file copied or
// restored with a looser mode (cp, an archive) was taken silently, the
// secret readable by every user of the host. The key is kept: a new one
// would leave the next restart out of its peers' reach until their
// connections time out.
func keepPrivate(fsys persist.FS, dir, path string, key []byte, log *slog.Logger) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	mode := fmt.Sprintf("%#o", fi.Mode().Perm())
	if err := persist.WriteFileAtomic(fsys, dir, resetKeyFile, key); err != nil {
		log.Warn("the stateless reset key's file is readable or writable by other users, and could not be rewritten mode 0600: whoever reads it can close this node's connections; make it the service user's alone",
			"file", path, "mode", mode, "fix", "chmod 600 "+path, "err", err)
		return
	}
	log.Warn("the stateless reset key's file was readable or writable by other users: rewritten mode 0600 (whoever read it can close this node's connections; to draw a new one, remove the file while the node is stopped)",
		"file", path, "mode", mode)
}

// readResetKey reads the file at path, up to one byte more than a key.
func readResetKey(fsys persist.FS, path string) ([]byte, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, resetKeySize+1))
}

// KeepResetKey copies the stateless reset key kept in the data directory
// from, one moved aside to start the node empty (ossd run
// --rebuild-replica), into the data directory to, made if need be: the
// key names the node's endpoint, and kept, the node started empty resets
// its peers' connections to the process before it at once. A from that
// holds no sound key copies nothing: the node makes a new one.
func KeepResetKey(from, to string) error {
	fsys := persist.OS{}
	b, err := readResetKey(fsys, filepath.Join(from, resetKeyFile))
	if err != nil || len(b) != resetKeySize {
		return nil
	}
	if err := persist.MakeDir(fsys, to); err != nil {
		return fmt.Errorf("oss: data directory: %w", err)
	}
	if err := persist.WriteFileAtomic(fsys, to, resetKeyFile, b); err != nil {
		return fmt.Errorf("oss: %s: %w", resetKeyFile, err)
	}
	return nil
}
