package oss

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
)

// A backup of a heap (Heap.Backup, Node.RestoreHeap, VerifyBackup) is a
// stream of bytes (docs/design.md, "Backup and restore"):
//
//	magic     8 bytes  "OSSHEAPB"
//	version   4 bytes  big-endian, BackupVersion
//	records, each:
//	  kind    1 byte   'I' info, 'O' object, 'R' root, 'E' end
//	  length  4 bytes  big-endian, of the payload, at most MaxBackupRecord
//	  payload length bytes
//	  crc     4 bytes  big-endian CRC-32C (Castagnoli) of kind, length, payload
//
// The records are one info record (the index, 8 bytes, then the heap's
// name), the objects in ascending ID order (the ID, 16 bytes, its
// version, 8 bytes, then its raw stored value), the roots in ascending
// name order (the ID, 16 bytes, then the name), and one end record: the
// number of objects and of roots, 8 bytes each, and the SHA-256 of every
// byte before the end record. Nothing follows it.
const (
	backupMagic = "OSSHEAPB"
	// BackupVersion is the version of the backup format this package
	// writes and reads.
	BackupVersion = 1
	// MaxBackupRecord is the most bytes a backup record's payload may
	// hold: the largest commit record (Config.MaxCommitBytes). A restore
	// also refuses an object that could not fit in a commit of its node.
	MaxBackupRecord = 64 << 20
)

const (
	recInfo   = 'I'
	recObject = 'O'
	recRoot   = 'R'
	recEnd    = 'E'
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBadBackup is what the error of a backup that fails its checks (a
// wrong magic or version, a record's checksum, a truncation, a record
// over the limit, a duplicate or out-of-order object or root, data after
// the end, the end's counts or SHA-256) matches. Such an error is a
// *BackupError, which names the offset.
var ErrBadBackup = errors.New("oss: damaged or invalid backup")

// BackupError says what is wrong with a backup, and where.
type BackupError struct {
	// Offset is the byte offset, from the start of the backup, of the
	// record (or header field) at fault.
	Offset int64
	// Reason says what is wrong.
	Reason string
}

func (e *BackupError) Error() string {
	return fmt.Sprintf("%v: at offset %d: %s", ErrBadBackup, e.Offset, e.Reason)
}

// Is reports whether target is ErrBadBackup.
func (e *BackupError) Is(target error) bool { return target == ErrBadBackup }

func badBackup(off int64, format string, args ...any) error {
	return &BackupError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// BackupOptions configure Heap.Backup. A nil *BackupOptions means the
// defaults.
type BackupOptions struct {
	// Fresh takes the backup from a Fresh View (ViewOptions.Fresh): the
	// state after everything committed when Backup was called. If false,
	// the local replica's latest state, possibly stale as a View is.
	Fresh bool
}

// BackupInfo describes a backup: the one Heap.Backup wrote, or the one
// VerifyBackup or Node.RestoreHeap read.
type BackupInfo struct {
	// Heap is the name of the heap the backup was taken of.
	Heap string
	// Index is the log index of the state the backup holds.
	Index uint64
	// Objects and Roots are how many objects and roots it holds.
	Objects, Roots int64
	// Bytes is the backup's length.
	Bytes int64
	// SHA256 is the digest its end record holds, of every byte before it.
	SHA256 [32]byte
}

// Backup writes one consistent snapshot of the heap to w: every object's
// stored value by ID and every root, as one View sees them (a Fresh one
// if opts says so), with the log index of that state, in the format
// described at BackupVersion. It streams: what it holds in memory beyond
// a buffer is the View's snapshot, which commits made meanwhile do not
// change (they copy what they replace, at most one copy of the state;
// see View). ctx bounds the backup; an error of ctx or of w ends it, and
// what w was given is then no whole backup (VerifyBackup and
// Node.RestoreHeap refuse it). Node.RestoreHeap brings a backup back.
func (h *Heap) Backup(ctx context.Context, w io.Writer, opts *BackupOptions) (BackupInfo, error) {
	if w == nil {
		return BackupInfo{}, fmt.Errorf("%w: Backup to a nil io.Writer", ErrInvalidArgument)
	}
	var vo *ViewOptions
	if opts != nil && opts.Fresh {
		vo = &ViewOptions{Fresh: true}
	}
	var info BackupInfo
	err := h.View(ctx, func(tx *Tx) error {
		var err error
		info, err = writeBackup(ctx, w, h.name, tx.snap)
		return err
	}, vo)
	if err != nil {
		return info, fmt.Errorf("oss: backup of heap %s: %w", quoteName(h.name), err)
	}
	return info, nil
}

// backupWriter writes records, keeping the SHA-256 of what it wrote.
type backupWriter struct {
	w   *bufio.Writer
	sum hash.Hash
	n   int64
	err error
}

func (bw *backupWriter) write(b []byte) {
	if bw.err != nil {
		return
	}
	_, bw.err = bw.w.Write(b)
	bw.sum.Write(b)
	bw.n += int64(len(b))
}

// record writes one record of kind whose payload is the parts, in order.
func (bw *backupWriter) record(kind byte, parts ...[]byte) {
	var head [5]byte
	head[0] = kind
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	binary.BigEndian.PutUint32(head[1:], uint32(n))
	crc := crc32.Update(0, castagnoli, head[:])
	bw.write(head[:])
	for _, p := range parts {
		crc = crc32.Update(crc, castagnoli, p)
		bw.write(p)
	}
	var tail [4]byte
	binary.BigEndian.PutUint32(tail[:], crc)
	bw.write(tail[:])
}

// backupCheckEvery is how many records a backup or restore writes or
// reads between looks at its ctx.
const backupCheckEvery = 64

// writeBackup writes the backup of st to w.
func writeBackup(ctx context.Context, w io.Writer, name string, st *consistency.State) (BackupInfo, error) {
	bw := &backupWriter{w: bufio.NewWriterSize(w, 256<<10), sum: sha256.New()}
	info := BackupInfo{Heap: name, Index: st.Index()}
	var u64 [8]byte
	binary.BigEndian.PutUint32(u64[:4], BackupVersion)
	bw.write([]byte(backupMagic))
	bw.write(u64[:4])
	binary.BigEndian.PutUint64(u64[:], info.Index)
	bw.record(recInfo, u64[:], []byte(name))
	var cerr error
	st.Ascend(uuid.Nil, func(o consistency.Object) bool {
		if info.Objects%backupCheckEvery == 0 {
			if cerr = ctx.Err(); cerr != nil {
				return false
			}
		}
		var ver [8]byte
		binary.BigEndian.PutUint64(ver[:], o.Version)
		bw.record(recObject, o.ID[:], ver[:], o.Value)
		info.Objects++
		return bw.err == nil
	})
	st.Roots(func(r consistency.Root) bool {
		if cerr != nil || bw.err != nil {
			return false
		}
		bw.record(recRoot, r.ID[:], []byte(r.Name))
		info.Roots++
		return bw.err == nil
	})
	if cerr == nil {
		cerr = ctx.Err()
	}
	if cerr != nil {
		return info, cerr
	}
	copy(info.SHA256[:], bw.sum.Sum(nil))
	var counts [16]byte
	binary.BigEndian.PutUint64(counts[:8], uint64(info.Objects))
	binary.BigEndian.PutUint64(counts[8:], uint64(info.Roots))
	bw.record(recEnd, counts[:], info.SHA256[:])
	if bw.err == nil {
		bw.err = bw.w.Flush()
	}
	info.Bytes = bw.n
	if bw.err != nil {
		return info, fmt.Errorf("writing the backup at offset %d: %w", bw.n, bw.err)
	}
	return info, nil
}

// backupRecord is one record read: an object's (ID, version, value), a
// root's (ID, name) or the info's (index in version, name). Its value
// is the reader's buffer, valid until the next record.
type backupRecord struct {
	kind    byte
	off     int64
	id      uuid.UUID
	version uint64
	value   []byte
	name    string
}

// backupReader reads and checks a backup, record by record.
type backupReader struct {
	r     *bufio.Reader
	sum   hash.Hash
	off   int64
	limit int // the most a record's payload may hold
	buf   []byte
	info  BackupInfo
	// lastID and lastRoot are the previous object's ID and root's name:
	// each must be greater (ascending order, so no duplicate).
	lastID   uuid.UUID
	lastRoot string
	roots    bool // a root was read: no object may follow
	started  bool
	ended    bool
}

func newBackupReader(r io.Reader, limit int) *backupReader {
	return &backupReader{r: bufio.NewReaderSize(r, 256<<10), sum: sha256.New(), limit: min(limit, MaxBackupRecord)}
}

// readErr is the error of a read of the backup at off that failed with
// err: a truncation, or the source's own error.
func readErr(off int64, want string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return badBackup(off, "truncated: the backup ends where %s should be (no end record)", want)
	}
	return fmt.Errorf("reading the backup at offset %d: %w", off, err)
}

// start reads the header and the info record.
func (br *backupReader) start() error {
	var head [12]byte
	if n, err := io.ReadFull(br.r, head[:]); err != nil {
		if n >= 8 && string(head[:8]) != backupMagic || n > 0 && n < 8 && string(head[:n]) != backupMagic[:n] {
			return badBackup(0, "not a backup of an OSS heap (its first bytes are not %q)", backupMagic)
		}
		return readErr(int64(n), "the header", err)
	}
	if string(head[:8]) != backupMagic {
		return badBackup(0, "not a backup of an OSS heap (its first bytes %q are not %q)", head[:8], backupMagic)
	}
	if v := binary.BigEndian.Uint32(head[8:]); v != BackupVersion {
		return badBackup(8, "backup format version %d; this node reads version %d", v, BackupVersion)
	}
	br.sum.Write(head[:])
	br.off = int64(len(head))
	rec, err := br.next()
	if err != nil {
		return err
	}
	if rec.kind != recInfo {
		return badBackup(rec.off, "a record of kind %q where the info record should be", rec.kind)
	}
	return nil
}
