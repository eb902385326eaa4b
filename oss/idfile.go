package oss

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/objectsharing/oss/persist"
)

// idFile is a file of the data directory that holds one nonzero 64-bit
// ID: 16 hex digits and the CRC-32C of the ID's 8 bytes (big-endian) in 8
// more, "%016x %08x\n". A flipped bit in an ID without its checksum is
// another valid ID; with it, the file is ErrCorrupt. NODE_ID and CLUSTER
// are such files, read and written by the same code.
type idFile struct {
	name string // the file's name in the data directory
	what string // what the ID is, for errors
	// bare: a file of the ID alone is read as it is (NODE_ID, as nodes
	// wrote it before it carried the checksum).
	bare   bool
	remedy string // what to do about a damaged file, for its error
}

var (
	nodeIDOnDisk = idFile{name: nodeIDFile, what: "node identity", bare: true,
		remedy: "move the data directory aside to start as a new node"}
	clusterIDOnDisk = idFile{name: clusterIDFile, what: "cluster identity",
		remedy: "remove the file and start the node with Join to take its cluster's again"}
)

// load reads the ID from the file in dir, 0 if there is no file.
func (f idFile) load(fsys persist.FS, dir string) (uint64, error) {
	path := filepath.Join(dir, f.name)
	fl, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("oss: %s: %w", f.what, err)
	}
	defer fl.Close()
	buf := make([]byte, 64)
	k, _ := fl.Read(buf)
	id, why := f.parse(buf[:k])
	if why != "" {
		return 0, fmt.Errorf("%w: %s in %s is damaged (%q: %s); %s", ErrCorrupt, f.what, path, buf[:k], why, f.remedy)
	}
	return id, nil
}

// parse reads an ID from the file's bytes; why says what is wrong with
// them, if anything.
func (f idFile) parse(b []byte) (id uint64, why string) {
	fields := strings.Fields(string(b))
	if len(fields) == 0 || len(fields) > 2 {
		return 0, "not an ID"
	}
	id, err := strconv.ParseUint(fields[0], 16, 64)
	if err != nil || id == 0 {
		return 0, "not an ID"
	}
	if len(fields) == 1 {
		if !f.bare {
			return 0, "no checksum"
		}
		return id, ""
	}
	sum, err := strconv.ParseUint(fields[1], 16, 32)
	if err != nil || fields[0] != fmt.Sprintf("%016x", id) || fields[1] != fmt.Sprintf("%08x", sum) || uint32(sum) != nodeIDSum(id) {
		return 0, "checksum mismatch"
	}
	return id, ""
}

// store writes id to the file in dir, atomically.
func (f idFile) store(fsys persist.FS, dir string, id uint64) error {
	if err := persist.WriteFileAtomic(fsys, dir, f.name, fmt.Appendf(nil, "%016x %08x\n", id, nodeIDSum(id))); err != nil {
		return fmt.Errorf("oss: %s: %w", f.what, err)
	}
	return nil
}

// nodeIDSum is an ID file's checksum of id.
func nodeIDSum(id uint64) uint32 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return crc32.Checksum(b[:], crc32.MakeTable(crc32.Castagnoli))
}
