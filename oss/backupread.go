package oss

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf8"

	"github.com/google/uuid"
)

// raw reads one record's kind and payload, checking its length and CRC,
// and adds it to the running SHA-256 unless it is the end record.
func (br *backupReader) raw() (kind byte, payload []byte, err error) {
	off := br.off
	var head [5]byte
	if _, err := io.ReadFull(br.r, head[:]); err != nil {
		return 0, nil, readErr(off, "a record", err)
	}
	n := binary.BigEndian.Uint32(head[1:])
	if int64(n) > int64(br.limit) {
		return 0, nil, br.over(off, head, n)
	}
	if cap(br.buf) < int(n)+4 {
		br.buf = make([]byte, int(n)+4)
	}
	buf := br.buf[:int(n)+4]
	if _, err := io.ReadFull(br.r, buf); err != nil {
		return 0, nil, readErr(off, "the rest of the record", err)
	}
	payload = buf[:n]
	crc := crc32.Update(crc32.Update(0, castagnoli, head[:]), castagnoli, payload)
	if got := binary.BigEndian.Uint32(buf[n:]); got != crc {
		return 0, nil, badBackup(off, "the record's CRC-32C is %08x, its bytes' %08x: the backup is damaged", got, crc)
	}
	if head[0] != recEnd {
		br.sum.Write(head[:])
		br.sum.Write(buf)
	}
	br.off += int64(len(head) + len(buf))
	return head[0], payload, nil
}

// over is the error for the record at off, of head, whose payload of n
// bytes is over the reader's limit. One over MaxBackupRecord is no
// record any backup holds (a corrupt length). One under it, over a
// restoring node's MaxCommitBytes, is read through its CRC-32C without
// being kept: if the CRC holds, the backup is sound and the record too
// large for this node (an error matching ErrTooLarge, not ErrBadBackup).
func (br *backupReader) over(off int64, head [5]byte, n uint32) error {
	if int64(n) > MaxBackupRecord {
		return badBackup(off, "a record of %d bytes, over the limit of %d (a corrupt length)", n, MaxBackupRecord)
	}
	crc := crc32.New(castagnoli)
	crc.Write(head[:])
	if _, err := io.CopyN(crc, br.r, int64(n)); err != nil {
		return readErr(off, "the rest of the record", err)
	}
	var tail [4]byte
	if _, err := io.ReadFull(br.r, tail[:]); err != nil {
		return readErr(off, "the rest of the record", err)
	}
	if got := binary.BigEndian.Uint32(tail[:]); got != crc.Sum32() {
		return badBackup(off, "a record of %d bytes whose CRC-32C is %08x, its bytes' %08x: the backup is damaged (its length, or the record)", n, got, crc.Sum32())
	}
	return fmt.Errorf("%w: at offset %d of the backup, a record of kind %q of %d bytes, over this node's MaxCommitBytes (%d); the backup is not damaged: restore it on a node whose MaxCommitBytes is larger", ErrTooLarge, off, head[0], n, br.limit)
}

// next reads and checks the next record. After the end record it checks
// that nothing follows, and returns it.
func (br *backupReader) next() (backupRecord, error) {
	off := br.off
	kind, p, err := br.raw()
	if err != nil {
		return backupRecord{}, err
	}
	rec := backupRecord{kind: kind, off: off}
	if !br.started && kind != recInfo {
		return rec, badBackup(off, "a record of kind %q where the info record should be", kind)
	}
	switch kind {
	case recInfo:
		if br.started || len(p) < 8 {
			return rec, badBackup(off, "an info record out of place or of %d bytes", len(p))
		}
		if err := validHeapName(string(p[8:])); err != nil {
			// A name no heap may have: it is echoed in answers and logs.
			return rec, badBackup(off, "the info record's heap name: %v", err)
		}
		br.started = true
		br.info.Index, br.info.Heap = binary.BigEndian.Uint64(p), string(p[8:])
		rec.version, rec.name = br.info.Index, br.info.Heap
	case recObject:
		err = br.object(&rec, p)
	case recRoot:
		err = br.root(&rec, p)
	case recEnd:
		err = br.end(off, p)
	default:
		err = badBackup(off, "a record of unknown kind %q", kind)
	}
	return rec, err
}

func (br *backupReader) object(rec *backupRecord, p []byte) error {
	if len(p) < 24 {
		return badBackup(rec.off, "an object record of %d bytes, less than its ID and version", len(p))
	}
	copy(rec.id[:], p)
	rec.version, rec.value = binary.BigEndian.Uint64(p[16:]), p[24:]
	switch c := bytes.Compare(rec.id[:], br.lastID[:]); {
	case br.roots:
		return badBackup(rec.off, "object %v after the roots", rec.id)
	case rec.id == uuid.Nil:
		return badBackup(rec.off, "an object with the nil ID")
	case c == 0:
		return badBackup(rec.off, "object %v a second time (duplicate ID)", rec.id)
	case c < 0:
		return badBackup(rec.off, "object %v after %v: objects must come in ascending ID order", rec.id, br.lastID)
	}
	br.lastID = rec.id
	br.info.Objects++
	return nil
}

func (br *backupReader) root(rec *backupRecord, p []byte) error {
	if len(p) < 17 {
		return badBackup(rec.off, "a root record of %d bytes, without a name", len(p))
	}
	copy(rec.id[:], p)
	rec.name = string(p[16:])
	switch {
	case rec.id == uuid.Nil:
		return badBackup(rec.off, "root %s bound to the nil ID", quoteName(rec.name))
	case !utf8.ValidString(rec.name):
		return badBackup(rec.off, "a root name that is not UTF-8")
	case br.roots && rec.name == br.lastRoot:
		return badBackup(rec.off, "root %s a second time (duplicate name)", quoteName(rec.name))
	case br.roots && rec.name < br.lastRoot:
		return badBackup(rec.off, "root %s after %s: roots must come in ascending name order", quoteName(rec.name), quoteName(br.lastRoot))
	}
	br.roots, br.lastRoot = true, rec.name
	br.info.Roots++
	return nil
}

// end checks the end record at off, and that nothing follows it.
func (br *backupReader) end(off int64, p []byte) error {
	if len(p) != 48 {
		return badBackup(off, "an end record of %d bytes, not 48", len(p))
	}
	objects, roots := binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])
	if objects != uint64(br.info.Objects) || roots != uint64(br.info.Roots) {
		return badBackup(off, "the end record counts %d objects and %d roots; the backup holds %d and %d", objects, roots, br.info.Objects, br.info.Roots)
	}
	copy(br.info.SHA256[:], p[16:])
	if sum := br.sum.Sum(nil); !bytes.Equal(sum, p[16:]) {
		return badBackup(off, "the SHA-256 of the backup is %x, its end record says %x", sum, p[16:])
	}
	if _, err := br.r.ReadByte(); err != io.EOF {
		if err != nil {
			return readErr(br.off, "", err)
		}
		return badBackup(br.off, "data after the end record")
	}
	br.ended = true
	br.info.Bytes = br.off
	return nil
}

// VerifyBackup reads a backup from r to its end and checks it as
// Node.RestoreHeap does (every record's CRC-32C, the order of objects and
// roots, the end record's counts and SHA-256, nothing after it), holding
// one record at a time. It returns what the backup holds, or an error
// matching ErrBadBackup (a *BackupError that names the offset) or r's own.
func VerifyBackup(r io.Reader) (BackupInfo, error) {
	br := newBackupReader(r, MaxBackupRecord)
	if err := br.start(); err != nil {
		return br.info, err
	}
	for !br.ended {
		if _, err := br.next(); err != nil {
			return br.info, err
		}
	}
	return br.info, nil
}
