package oss

import (
	"errors"
	"fmt"
	"hash/crc32"
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
//
// The file is one line, the name and the CRC-32C of its bytes in 8 hex
// digits, "%s %08x\n": a flipped bit in a name without it is another
// valid name, and the directory was refused as that node's, with the
// advice to start it there. A file of the name alone and its newline,
// as nodes wrote it before, is still taken (a name holds no space).
const nodeNameFile = "NODE_NAME"

// nodeNameLine is the file's content for name.
func nodeNameLine(name string) []byte {
	return fmt.Appendf(nil, "%s %08x\n", name, crc32.Checksum([]byte(name), crc32.MakeTable(crc32.Castagnoli)))
}

// parseNodeName reads the name from the file's bytes; why says what is
// wrong with them, if anything.
func parseNodeName(b []byte) (name, why string) {
	line, ok := strings.CutSuffix(string(b), "\n")
	if !ok || strings.Contains(line, "\n") {
		return "", "not one whole line"
	}
	name, _, withSum := strings.Cut(line, " ")
	if withSum {
		if string(nodeNameLine(name)) != line+"\n" {
			return "", "checksum mismatch"
		}
	} else if k := len(line) - 9; k > 0 && string(nodeNameLine(line[:k])) == line[:k]+" "+line[k+1:]+"\n" {
		return "", "checksum mismatch" // the space between name and checksum damaged
	}
	if pki.CheckName(name) != nil {
		return "", "no node's name"
	}
	return name, ""
}

// checkNodeName refuses a data directory recorded as another node's, and
// records name in one that records none (a new directory, or one of a
// node that ran before the name was kept), as a file this start made
// (m.write).
func (m *madeIdentity) checkNodeName(name string) error {
	fsys, dir := m.fsys, m.dir
	path := filepath.Join(dir, nodeNameFile)
	f, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m.write(nodeNameFile, true, func() error {
			return writeFileAtomic(fsys, dir, nodeNameFile, nodeNameLine(name))
		})
	}
	if err != nil {
		return fmt.Errorf("oss: node name: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	f.Close()
	if err != nil {
		return fmt.Errorf("oss: node name: %w", err)
	}
	owner, why := parseNodeName(b)
	if why != "" {
		// No node's name: the file is damaged, and was refused as
		// another node's, with the advice to start that one on it.
		return fmt.Errorf("%w: %s names no node (%q: %s): if %s is node %q's own data directory, remove the file and start the node again (its name is recorded anew); else move %s aside and start the node empty, with Join, to rebuild its replicas from its peers",
			ErrCorrupt, path, b, why, dir, name, dir)
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
