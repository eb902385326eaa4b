package oss

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
)

// nodeNameFile holds the name of the node a data directory belongs to,
// beside its raft ID (NODE_ID). A node started on another's directory
// would take that node's raft ID under its own name: its peers refuse it
// (the ID is bound to the other name), and it waited for a leader that
// never came, saying only that none was in reach. It is refused at start
// instead, before anything is written.
const nodeNameFile = "NODE_NAME"

// checkNodeName refuses a data directory recorded as another node's, and
// records name in one that records none (a new directory, or one of a
// node that ran before the name was kept).
func checkNodeName(fsys persist.FS, dir, name string) error {
	path := filepath.Join(dir, nodeNameFile)
	f, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return writeFileAtomic(fsys, dir, nodeNameFile, []byte(name+"\n"))
	}
	if err != nil {
		return fmt.Errorf("oss: node name: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	f.Close()
	if err != nil {
		return fmt.Errorf("oss: node name: %w", err)
	}
	owner := strings.TrimSpace(string(b))
	if pki.CheckName(owner) != nil {
		// No node's name: the file is damaged, and was refused as
		// another node's, with the advice to start that one on it.
		return fmt.Errorf("%w: %s names no node (%q): if %s is node %q's own data directory, remove the file and start the node again (its name is recorded anew); else move %s aside and start the node empty, with Join, to rebuild its replicas from its peers",
			ErrCorrupt, path, owner, dir, name, dir)
	}
	if owner != name {
		return fmt.Errorf("oss: data directory %s is node %q's, not %q's (%s): start %q on it, or give %q a data directory of its own; a copy of another node's would claim that node's place in the cluster",
			dir, owner, name, path, owner, name)
	}
	return nil
}

// writeFileAtomic writes name in dir as persist.WriteFileAtomic does.
func writeFileAtomic(fsys persist.FS, dir, name string, b []byte) error {
	if err := persist.WriteFileAtomic(fsys, dir, name, b); err != nil {
		return fmt.Errorf("oss: %s: %w", name, err)
	}
	return nil
}
