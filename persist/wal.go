package persist

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A segment file starts with segmentMagic, which names its format
// (written with the segment's first batch: a new segment is empty), then
// holds frames, one a record:
//
//	length  uint32  bytes of payload; the top bit is the mark (below)
//	seq     uint64  the record's sequence number, one more than the last
//	hcrc    uint32  CRC-32C of length and seq
//	crc     uint32  CRC-32C of length, seq and payload
//	payload [length]byte
//
// The header has a checksum of its own so that a damaged length is told
// from a torn write: a frame whose length checks out but runs past the end
// of the file is a write a crash cut short; one whose length does not
// check out is damage unless nothing valid follows it (tornTail).
//
// Segment files are named by the sequence number of their first record,
// in hex, with the suffix ".wal".
//
// A frame is marked if every record before it in the segment was durable
// when it was written: the first record written after a sync (in Sync
// durability, the first of every batch). Writes over zeros (below) reach
// the disk in no set order, so a power loss can leave zeros before a
// record of the same unsynced write; the mark tells that apart from
// damage to what was synced: zeros or garbage before a marked record are
// damage, before unmarked ones only a torn write. Version 2 segments
// (OSS-WAL2), written before the mark, are read as if every frame were
// marked, and not written on: the log goes on in a new segment.
//
// The log writes into space it has zero-filled ahead of its writes
// (WALOptions.Preallocate), so that a sync has data to flush and no file
// size to change: on ext4 an fdatasync or fsync of an appended block
// takes about 0.17 ms, of one written over zeros 0.11 to 0.13 ms, and a
// raft replica waits for one on every commit. A segment therefore ends
// in zeros, which replay takes as the end of the records, not as a torn
// write.
const (
	// Version 4, not 3: one flipped bit must not turn the header into
	// that of version 2, which this build reads too.
	segmentMagic   = "OSS-WAL4"
	segmentMagicV2 = "OSS-WAL2"
	markBit        = 1 << 31
	segmentHeader  = len(segmentMagic)
	frameHeader    = 20
	segmentSuffix  = ".wal"
	// MaxRecord caps a record's payload: Append refuses a larger one (or
	// one over WALOptions.MaxRecord), replay takes a longer length as
	// damage.
	MaxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WALOptions configure a WAL.
type WALOptions struct {
	// SegmentBytes is the size past which the log starts a new segment
	// file. If zero, 64 MiB.
	SegmentBytes int64
	// SyncInterval, if positive, acknowledges appends once written and
	// syncs at this interval (what is written in between is lost in a
	// power failure). If zero, every append is synced before it is
	// acknowledged; concurrent appends share one sync.
	SyncInterval time.Duration
	// Logger receives what the log repairs. If nil, slog.Default().
	Logger *slog.Logger
	// MaxRecord caps the payload of a record Append takes. If zero, or
	// over MaxRecord, MaxRecord. Replay reads records up to MaxRecord
	// whatever this says.
	MaxRecord int
	// Progress, if not nil, is told the bytes replayed so far and in all,
	// after each segment.
	Progress func(done, total int64)
	// Preallocate is how far the log zero-fills a segment ahead of its
	// writes, a chunk at a time, up to SegmentBytes. If zero, 1 MiB; if
	// negative, the log appends without zero-filling.
	Preallocate int64
}

// WAL is a write-ahead log of opaque records, appended by any number of
// goroutines: appends that arrive while a sync is under way are written
// and synced together (group commit).
//
// A sync that fails is never tried again: the kernel may have dropped what
// it covered and would report the next one a success. Nothing written to
// the segment since its last good sync is trusted. The log seals the
// segment there: it starts a new segment numbered from the first record
// not synced, whose name tells a replay to read nothing of the old one
// from that record on. Then, if what was lost had been acknowledged (with
// SyncInterval), the log stops: every later call fails with an error that
// matches ErrFailed and names the cause, until the log is opened again.
// Otherwise (every append is synced before it is acknowledged) only the
// batch whose sync failed is lost, its appends fail, and the log goes on
// in the new segment. A write that fails is cut off the segment; if that
// fails too, the segment is sealed where the batch began. Whatever fails,
// the next OpenWAL opens, with every record synced before, numbered
// without a gap.
type WAL struct {
	fs   FS
	dir  string
	opts WALOptions
	log  *slog.Logger

	mu       sync.Mutex // protects following fields
	queue    []*appendReq
	segments []segment // oldest first; the last is being written
	closed   bool
	failed   error // why the log stopped, if it did
	stats    WALStats

	wake     chan struct{}
	done     chan struct{}
	closeErr error  // the writer's, once done is closed
	tailEnd  int64  // replay's: where the records of the last segment end
	marked   bool   // replay's: the segment's frames carry marks
	tail     uint64 // the first record of the segment TAIL names; 0 if none does
	tailOld  bool   // TAIL is of the form without a checksum: written again at open

	// Owned by the writer goroutine.
	seg        File
	segSize    int64  // bytes of whole records in seg
	alloc      int64  // size of seg: zeros from segSize on
	replayed   bool   // seg holds records replayed at open and not synced since
	unmarked   bool   // seg is of version 2: left for a new segment, or written on as appended
	next       uint64 // sequence number of the next record
	synced     int64  // size of seg as of its last good sync
	syncedNext uint64 // next as of the last good sync: what precedes it is durable
}

type segment struct {
	first uint64
	name  string
}

type appendReq struct {
	recs   [][]byte
	sync   bool // synced before acknowledged, whatever SyncInterval says
	last   uint64
	err    error
	done   chan struct{}
	notify func(last uint64, err error) // AppendAsync's, instead of done
	chain  *Chain
	// offPath: the append is off its commits' critical path (see
	// AppendAsyncOffPath).
	offPath bool
}

// finish acknowledges the append, or fails it.
func (r *appendReq) finish() {
	if r.notify != nil {
		r.notify(r.last, r.err)
		return
	}
	close(r.done)
}

// A Chain orders asynchronous appends that depend on each other, such as
// a raft replica's log writes: once one fails, every later one on the
// chain fails with its error, unwritten, so that no record lands after a
// gap. A new Chain starts again. The zero value is ready to use; the log
// owns it once used.
type Chain struct {
	err error // the first failure; guarded by the log's mutex
}

// WALStats count a log's work.
type WALStats struct {
	Appends uint64 // Append calls acknowledged
	Records uint64
	Syncs   uint64
	Seals   uint64 // segments sealed after a failed sync or cut-back
	// Acked and Durable are sequence numbers: every record before Acked
	// was acknowledged, every record before Durable is synced (with
	// SyncInterval, Durable trails Acked until the next sync).
	Acked, Durable uint64
}

// CorruptError reports a damaged record that is not a torn last write, or
// a segment this build does not read: the log refuses to open.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	if e.Offset == 0 {
		// The file as a whole: its header, its place among the others.
		return fmt.Sprintf("persist: %s is corrupt: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("persist: %s is corrupt at offset %d: %s", e.File, e.Offset, e.Reason)
}

// ErrClosed is returned by a closed log.
var ErrClosed = errors.New("persist: closed")

// ErrFailed is matched by the errors of a log that has stopped: a sync
// failed after appends it covered were acknowledged, or the log could not
// seal a segment it can no longer trust. The error also matches its cause
// (an *fs.PathError, syscall.EIO). Such a log writes nothing more; opened
// again it holds every record synced before the failure.
var ErrFailed = errors.New("persist: write-ahead log failed")

// ErrGone is matched, with ErrFailed, by the errors of a log that found
// the segment it writes gone from its directory (removed, with the
// directory or alone, or the directory moved away or replaced) while it
// ran: it had synced into a file no restart reads. The append whose sync
// found it fails, and every later one; the records acknowledged before,
// in that segment, are gone with it, and the next OpenWAL refuses what
// remains of the log (a CorruptError), or finds none.
var ErrGone = errors.New("persist: write-ahead log is gone")

// OpenWAL opens the log in dir, creating it if needed. It first replays
// every record in order through replay (which may be nil); a record's
// bytes are valid only during the call (segments are read in pieces into
// a buffer the records share), so replay copies what it keeps. A torn last
// record, from a write a crash interrupted, is cut off: a bad frame in the
// last segment that no valid record header follows; so is what a sealed
// segment holds from the record its successor starts at (written after
// its last good sync). Any other damage fails with a *CorruptError naming
// the file and offset, and so does a segment without the header of this
// format (one written before version 2).
func OpenWAL(fsys FS, dir string, opts WALOptions, replay func(seq uint64, rec []byte) error) (*WAL, error) {
	opts.populate()
	if err := MakeDir(fsys, dir); err != nil {
		return nil, fmt.Errorf("persist: %w", err)
	}
	w := &WAL{fs: fsys, dir: dir, opts: opts, log: opts.Logger, wake: make(chan struct{}, 1), done: make(chan struct{}), next: 1}
	if err := w.listSegments(); err != nil {
		return nil, err
	}
	if err := w.replayAll(replay); err != nil {
		return nil, err
	}
	if err := w.openTail(); err != nil {
		return nil, err
	}
	w.stats.Acked, w.stats.Durable = w.next, w.next
	go w.writer()
	return w, nil
}

// populate fills in the defaults of the options left zero.
func (opts *WALOptions) populate() {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	if opts.Preallocate == 0 {
		opts.Preallocate = 1 << 20
	}
	if opts.MaxRecord <= 0 || opts.MaxRecord > MaxRecord {
		opts.MaxRecord = MaxRecord
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
}

// listSegments finds the log's segments, in order, and removes those a
// crash interrupted before their rename.
func (w *WAL) listSegments() error {
	names, err := w.fs.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, segmentSuffix+tempSuffix) || name == lostMark+tempSuffix || name == tailMark+tempSuffix {
			// A segment, or a mark, a crash interrupted before its
			// rename.
			w.fs.Remove(join(w.dir, name))
			continue
		}
		if name == lostMark {
			return w.lost()
		}
		if name == tailMark {
			if w.tail, w.tailOld, err = w.readTail(); err != nil {
				return err
			}
			continue
		}
		first, ok := parseSegmentName(name)
		if !ok {
			continue
		}
		w.segments = append(w.segments, segment{first: first, name: name})
	}
	return w.tailGone()
}

// lost is OpenWAL's refusal of a log that found its segment gone while
// it ran (inPlace): what remains of it lacks what that segment held.
func (w *WAL) lost() error {
	path := join(w.dir, lostMark)
	why := "(unreadable)"
	if f, err := w.fs.Open(path); err == nil {
		b, _ := io.ReadAll(io.LimitReader(f, 4096))
		f.Close()
		why = strings.TrimSpace(string(b))
	}
	return &CorruptError{File: path, Reason: "the log found a segment gone while it ran, and lacks what it held: " + why}
}

// replayAll replays every segment in order, telling opts.Progress how far
// it got, and checks that each starts where the one before ended.
func (w *WAL) replayAll(replay func(seq uint64, rec []byte) error) error {
	var total, done int64
	for _, s := range w.segments {
		if f, err := w.fs.Open(join(w.dir, s.name)); err == nil {
			n, _ := f.Size()
			total += n
			f.Close()
		}
	}
	for i, s := range w.segments {
		if i == 0 {
			w.next = s.first
		}
		if s.first != w.next {
			reason := fmt.Sprintf("starts at record %d, want %d (a segment is missing)", s.first, w.next)
			if i > 0 {
				reason = fmt.Sprintf("starts at record %d, and the segment before it, %s, ends before record %d (a segment is missing, or one does not belong to this log)", s.first, w.segments[i-1].name, w.next)
			}
			return &CorruptError{File: join(w.dir, s.name), Reason: reason}
		}
		end := uint64(0) // the record the next segment starts at
		if i+1 < len(w.segments) {
			end = w.segments[i+1].first
		}
		n, err := w.replaySegment(s, end, replay)
		if err != nil {
			return err
		}
		if done += n; w.opts.Progress != nil {
			w.opts.Progress(done, total)
		}
	}
	return nil
}

// openTail opens the last segment to append to, or creates the first.
func (w *WAL) openTail() error {
	n := len(w.segments)
	if n == 0 {
		f, _, err := w.newSegment(w.next)
		if err != nil {
			return fmt.Errorf("persist: new segment: %w", err)
		}
		w.seg, w.syncedNext = f, w.next
		w.segments = append(w.segments, segment{first: w.next, name: segmentName(w.next)})
		return nil
	}
	f, err := w.fs.OpenWrite(join(w.dir, w.segments[n-1].name))
	if err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return fmt.Errorf("persist: %w", err)
	}
	if size < w.tailEnd {
		f.Close()
		return fmt.Errorf("persist: %s shrank to %d bytes while the log opened", w.segments[n-1].name, size)
	}
	if last := w.segments[n-1].first; w.tail != last || w.tailOld {
		// A log written before the mark (or before its checksum), or a
		// crash between a new segment's name and the mark's.
		w.markTail(last)
	}
	w.seg, w.segSize, w.alloc, w.synced, w.syncedNext = f, w.tailEnd, size, w.tailEnd, w.next
	w.replayed = w.tailEnd > 0
	// A version 2 segment is read without marks, so zeros before a record
	// are damage there, and a power loss can leave zeros before a record
	// of any unsynced write: the first batch starts a new segment
	// (writeBatch). Until one can be created, the segment is written on
	// as appended, without zeros ahead.
	w.unmarked = w.tailEnd > 0 && !w.marked
	return nil
}

func segmentName(first uint64) string { return fmt.Sprintf("%016x%s", first, segmentSuffix) }

func parseSegmentName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 64)
	return v, err == nil
}

// replaySegment reads one segment up to the record end, where the next
// segment starts (0 for the last segment). In the last one, a bad frame
// that nothing valid follows is a torn write and is cut off.
func (w *WAL) replaySegment(s segment, end uint64, replay func(uint64, []byte) error) (int64, error) {
	n, err := w.replayData(s, end, replay)
	return int64(n), err
}

func (w *WAL) replayData(s segment, end uint64, replay func(uint64, []byte) error) (int, error) {
	w.tailEnd, w.marked = 0, false
	path := join(w.dir, s.name)
	f, err := w.fs.Open(path)
	if err != nil {
		return 0, fmt.Errorf("persist: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0, fileErr("persist: ", "read", path, err)
	}
	// The segment is read in pieces, one record at a time, into a buffer
	// the records share: memory holds a piece and the largest record,
	// never the segment.
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), int(min(size, replayPiece)))
	if size == 0 {
		return 0, nil // no write reached it
	}
	if w.next == end {
		// Sealed before its first record: nothing in it is trusted.
		w.log.Warn("write-ahead log: ignoring the unsynced end of a sealed segment", "file", path, "offset", 0, "bytes", size, "record", end)
		return int(size), nil
	}
	if torn, err := w.readHeader(f, r, path, size, end); err != nil {
		return 0, err
	} else if torn {
		w.tailEnd = 0
		return int(size), w.truncate(path, 0)
	}
	var buf []byte
	off := int64(segmentHeader)
	for off < size {
		if w.next == end {
			// Sealed here: the rest was written after the segment's last
			// good sync, or is a batch whose cut-back failed.
			w.log.Warn("write-ahead log: ignoring the unsynced end of a sealed segment", "file", path, "offset", off, "bytes", size-off, "record", end)
			return int(size), nil
		}
		fr, err := readFrame(r, size-off, &buf)
		if err != nil {
			return 0, fileErr("persist: ", "read", path, err)
		}
		if fr.reason == "" && fr.seq != w.next {
			fr.reason = fmt.Sprintf("record %d where %d was due", fr.seq, w.next)
		}
		if fr.reason != "" {
			// Zeros to the end: the space the log fills ahead of its
			// writes.
			zero, err := allZeros(io.NewSectionReader(f, off, size-off), size-off)
			if err != nil {
				return 0, fileErr("persist: ", "read", path, err)
			}
			if zero && end == 0 {
				w.tailEnd = off
				return int(size), nil
			}
			if zero {
				fr.reason = fmt.Sprintf("its records end before record %d, and the next segment, %s, starts at record %d (a segment is missing, or one does not belong to this log)", w.next, segmentName(end), end)
			}
			return w.badFrame(f, path, off, size, fr, end)
		}
		if replay != nil {
			if err := replay(fr.seq, fr.payload); err != nil {
				return 0, fmt.Errorf("persist: %s at offset %d: %w", path, off, err)
			}
		}
		w.next++
		off += int64(fr.size)
	}
	w.tailEnd = off
	return int(size), nil
}

// readHeader reads and checks the segment's header. The header is written
// with the segment's first batch: in the last segment, a header cut short
// or garbled that nothing follows, or zeros, are that write torn, which
// readHeader reports; any other damage is a *CorruptError.
func (w *WAL) readHeader(f io.ReaderAt, r io.Reader, path string, size int64, end uint64) (torn bool, err error) {
	magic := make([]byte, min(size, int64(segmentHeader)))
	if _, err := io.ReadFull(r, magic); err != nil {
		return false, fileErr("persist: ", "read", path, err)
	}
	reason := checkMagic(magic)
	if reason == "" {
		w.marked = string(magic) != segmentMagicV2
		return false, nil
	}
	torn = end == 0 && size <= int64(segmentHeader)
	if !torn && end == 0 {
		torn, err = w.firstWriteLost(f, size)
		if err != nil {
			return false, fileErr("persist: ", "read", path, err)
		}
	}
	if !torn {
		return false, &CorruptError{File: path, Reason: reason}
	}
	w.log.Warn("write-ahead log: cutting off a torn first write of a segment", "file", path, "bytes", size, "reason", reason)
	return true, nil
}

// badFrame handles a frame at off that is not the record due: in the last
// segment (end 0) a torn last record, which nothing valid follows, is cut
// off; anything else is a *CorruptError.
func (w *WAL) badFrame(f io.ReaderAt, path string, off, size int64, fr readFrameResult, end uint64) (int, error) {
	if end != 0 {
		return 0, &CorruptError{File: path, Offset: off, Reason: fr.reason}
	}
	torn, at, err := tornTail(f, off, size, fr, w.next, w.marked)
	if err != nil {
		return 0, fileErr("persist: ", "read", path, err)
	}
	if !torn {
		if at > off {
			fr.reason += fmt.Sprintf(", and a valid record header follows at offset %d: not a torn last write", at)
		}
		return 0, &CorruptError{File: path, Offset: off, Reason: fr.reason}
	}
	w.log.Warn("write-ahead log: cutting off a torn last record", "file", path, "offset", off, "bytes", size-off, "reason", fr.reason)
	w.tailEnd = off
	return int(size), w.truncate(path, off)
}

// firstWriteLost reports whether the last segment, of size bytes, whose
// header is not there, holds what a power loss left of writes never
// synced: zeros in the sector of the header, which a disk writes whole,
// and no marked record header after it. The header is written with the
// segment's first batch and every sync covers it; a power loss before the
// first may leave any of that batch's pages but the first, and of later
// batches before a sync none is marked.
func (w *WAL) firstWriteLost(f io.ReaderAt, size int64) (bool, error) {
	if zero, err := allZeros(f, min(size, sectorSize)); err != nil || !zero {
		return false, err
	}
	at, err := findHeader(f, 0, size, 0, w.next, true)
	return at < 0, err
}

// sectorSize is the unit a disk writes whole.
const sectorSize = 512

// checkMagic returns why the first bytes of a segment are not
// segmentMagic, or "".
func checkMagic(b []byte) string {
	switch {
	case string(b) == segmentMagic || string(b) == segmentMagicV2:
		return ""
	case len(b) == segmentHeader && string(b[:segmentHeader-1]) == segmentMagic[:segmentHeader-1]:
		return fmt.Sprintf("segment format version %q; this build reads versions '2' and %q", b[segmentHeader-1], segmentMagic[segmentHeader-1])
	default:
		return fmt.Sprintf("no segment header %q: a segment of the format before version 2 (frames without a header checksum, which this build does not read), or damage", segmentMagic)
	}
}

// allZeros reports whether the first size bytes of f are zeros.
func allZeros(f io.ReaderAt, size int64) (bool, error) {
	buf := make([]byte, min(size, replayPiece))
	for off := int64(0); off < size; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), size-off)]
		if n, err := f.ReadAt(b, off); n < len(b) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return false, err
		}
		for _, c := range b {
			if c != 0 {
				return false, nil
			}
		}
	}
	return true, nil
}

// replayPiece is the size of the reads that replay a segment.
const replayPiece = 1 << 20

// A readFrameResult is what readFrame found.
type readFrameResult struct {
	seq     uint64
	payload []byte
	size    int    // of the whole frame, if it is a record
	header  bool   // the header is whole and checks out: seq and length are the writer's
	length  int64  // of the payload, as the header says, if header
	reason  string // why the frame is not a record, or ""
}

// readFrame reads the frame at the start of r, which has rest bytes left,
// into *buf (grown as needed, shared by the frames of a segment). It
// returns the frame, or why it is not one; buf then holds what was read of
// it. err is an error of the reader alone.
func readFrame(r *bufio.Reader, rest int64, buf *[]byte) (fr readFrameResult, err error) {
	b := (*buf)[:0]
	if rest < frameHeader {
		b = slices.Grow(b, int(rest))[:rest]
		if _, err := io.ReadFull(r, b); err != nil {
			return fr, err
		}
		*buf = b
		fr.reason = "short frame header"
		return fr, nil
	}
	b = slices.Grow(b, frameHeader)[:frameHeader]
	if _, err := io.ReadFull(r, b); err != nil {
		return fr, err
	}
	*buf = b
	n, seq, _, reason := decodeHeader(b)
	if reason != "" {
		fr.reason = reason
		return fr, nil
	}
	fr.header, fr.seq, fr.length = true, seq, n
	if rest < frameHeader+n {
		fr.reason = "short record"
		return fr, nil
	}
	b = slices.Grow(b, int(n))[:frameHeader+n]
	if _, err := io.ReadFull(r, b[frameHeader:]); err != nil {
		return fr, err
	}
	*buf = b
	// The header checked out: its checksum is that of length and seq,
	// which the payload's extends.
	crc := binary.LittleEndian.Uint32(b[16:20])
	if got := crc32.Update(binary.LittleEndian.Uint32(b[12:16]), castagnoli, b[frameHeader:]); got != crc {
		fr.reason = fmt.Sprintf("checksum %08x, want %08x", got, crc)
		return fr, nil
	}
	// The caller sees the record alone, not the room after it.
	fr.payload, fr.size = b[frameHeader:len(b):len(b)], len(b)
	return fr, nil
}

// tornTail decides whether fr, a bad frame at off in the last segment (of
// size bytes) where record next was due, is a torn write: the end of a
// write a crash interrupted, which nothing valid follows. A crash leaves
// after the last synced write a prefix of what was written next, its end
// possibly garbled, or zeros or stale bytes where the file grew but its
// pages were not written; damage is anywhere. So the frame is damage if
// anything after it is a record header that checks out and numbers a
// record from next on (in a piece of the file too short for more, at most
// one per frameHeader bytes from off), or if its own header checks out and
// numbers a later record (a gap). A frame whose header checks out and is
// next is searched after from its end, or is torn if it runs past the end
// of the file; any other from the byte after off. If the frame is damage,
// at is where the header that proves it is (off for the frame's own).
//
// Only a bad frame is searched after, only in the last segment, and at
// about a nanosecond a byte: replay costs nothing more for a sound log.
func tornTail(f io.ReaderAt, off, size int64, fr readFrameResult, next uint64, marked bool) (torn bool, at int64, err error) {
	from := off + 1
	switch {
	case size-off < frameHeader:
		return true, -1, nil
	case fr.header && fr.seq > next:
		return false, off, nil
	case fr.header && fr.seq == next:
		if frameHeader+fr.length > size-off {
			return true, -1, nil
		}
		from = off + frameHeader + fr.length
	}
	at, err = findHeader(f, from, size, off, next, marked)
	return at < 0, at, err
}

// findHeader returns the offset of the first record header in [from, size)
// that checks out, whose seq could follow a frame at off where record next
// was due, and, if marked, that is marked; or -1.
func findHeader(f io.ReaderAt, from, size, off int64, next uint64, marked bool) (int64, error) {
	if size-from < frameHeader {
		return -1, nil
	}
	buf := make([]byte, min(size-from, replayPiece+frameHeader-1))
	for start := from; start+frameHeader <= size; start += replayPiece {
		b := buf[:min(int64(len(buf)), size-start)]
		if n, err := f.ReadAt(b, start); n < len(b) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return -1, err
		}
		for i := 0; i+frameHeader <= len(b); i++ {
			seq := binary.LittleEndian.Uint64(b[i+4:])
			if seq < next || seq-next > uint64(start+int64(i)-off)/frameHeader {
				continue
			}
			if _, _, mark, reason := decodeHeader(b[i:]); reason == "" && (mark || !marked) {
				return start + int64(i), nil
			}
		}
	}
	return -1, nil
}

func (w *WAL) truncate(path string, size int64) error {
	f, err := w.fs.OpenAppend(path)
	if err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fileErr("persist: ", "truncate", path, err)
	}
	if err := f.Sync(); err != nil {
		return fileErr("persist: ", "sync", path, err)
	}
	return nil
}

// decodeHeader decodes the frame header at the start of b, returning the
// payload's length and the record's seq, or why the header does not check
// out.
func decodeHeader(b []byte) (n int64, seq uint64, mark bool, reason string) {
	if len(b) < frameHeader {
		return 0, 0, false, "short frame header"
	}
	hcrc := binary.LittleEndian.Uint32(b[12:16])
	if got := crc32.Checksum(b[0:12], castagnoli); got != hcrc {
		return 0, 0, false, fmt.Sprintf("header checksum %08x, want %08x", got, hcrc)
	}
	l := binary.LittleEndian.Uint32(b[0:4])
	n = int64(l &^ markBit)
	if n > MaxRecord {
		return 0, 0, false, fmt.Sprintf("record length %d exceeds %d", n, MaxRecord)
	}
	return n, binary.LittleEndian.Uint64(b[4:12]), l&markBit != 0, ""
}

// appendFrame appends an unmarked frame.
func appendFrame(dst []byte, seq uint64, payload []byte) []byte {
	return appendFrameMark(dst, seq, payload, false)
}

func appendFrameMark(dst []byte, seq uint64, payload []byte, mark bool) []byte {
	var h [frameHeader]byte
	l := uint32(len(payload))
	if mark {
		l |= markBit
	}
	binary.LittleEndian.PutUint32(h[0:4], l)
	binary.LittleEndian.PutUint64(h[4:12], seq)
	hcrc := crc32.Checksum(h[0:12], castagnoli)
	binary.LittleEndian.PutUint32(h[12:16], hcrc)
	binary.LittleEndian.PutUint32(h[16:20], crc32.Update(hcrc, castagnoli, payload))
	return append(append(dst, h[:]...), payload...)
}

// tempSuffix marks a segment file not yet in place.
const tempSuffix = ".tmp"

// newSegment creates an empty segment file for records from first on,
// under a temporary name renamed into place, and makes the name durable:
// the name appears whole, and replaces a segment of the same name (one
// that holds nothing trusted). An empty file needs no sync of its own: the
// directory's makes it durable. Its header is written with its first
// batch (writeBatch). named reports whether the name may exist despite an
// error.
func (w *WAL) newSegment(first uint64) (f File, named bool, err error) {
	path := join(w.dir, segmentName(first))
	tmp := path + tempSuffix
	t, err := w.fs.Create(tmp)
	if err != nil {
		return nil, false, err
	}
	t.Close()
	if err := w.fs.Rename(tmp, path); err != nil {
		w.fs.Remove(tmp)
		return nil, true, err
	}
	if err := w.fs.SyncDir(w.dir); err != nil {
		return nil, true, err
	}
	if f, err = w.fs.OpenWrite(path); err != nil {
		return nil, true, err
	}
	w.markTail(first)
	return f, true, nil
}

// switchTo makes f, just created for records from first on, the segment
// being written.
func (w *WAL) switchTo(f File, first uint64) {
	if err := w.seg.Close(); err != nil {
		w.log.Warn("write-ahead log: close of a finished segment", "err", err)
	}
	w.seg, w.segSize, w.alloc, w.synced, w.replayed, w.unmarked = f, 0, 0, 0, false, false
	w.next, w.syncedNext = first, first
	name := segmentName(first)
	w.mu.Lock()
	if n := len(w.segments); n > 0 && w.segments[n-1].name == name {
		// The new file replaced the old one: nothing in it was trusted.
	} else {
		w.segments = append(w.segments, segment{first: first, name: name})
	}
	w.mu.Unlock()
}

// rotate starts a new segment once the current one is synced. If the new
// file cannot be created the current segment stays in use. If its name may
// exist (the rename or the directory's sync failed), records written on in
// the current segment would lie past the point the name seals it at: the
// log stops.
func (w *WAL) rotate() {
	// What was replayed may not have been synced by the process before:
	// the new segment's name must not get to the disk before it does.
	if w.next != w.syncedNext || w.replayed {
		if w.sync() != nil {
			return
		}
	}
	f, named, err := w.newSegment(w.next)
	switch {
	case err == nil:
		w.switchTo(f, w.next)
	case named:
		w.stop(fmt.Errorf("new segment %s: %w", segmentName(w.next), err))
	default:
		w.log.Error("write-ahead log: cannot start a new segment; the current one grows", "err", err)
	}
}

// Append adds records to the log and returns the sequence number of the
// last, once they are durable (or written, with SyncInterval). An error
// means that none of them was acknowledged. Unless it matches ErrFailed,
// none of them is in the log either: the next records take their numbers,
// and only a power loss before the log's next good sync could bring them
// back (a failed write cut off, not yet durably), as a crash before the
// acknowledgment would. With ErrFailed, the records of an append in flight
// when the log stopped may be replayed after a restart.
func (w *WAL) Append(recs ...[]byte) (uint64, error) {
	return w.append(&appendReq{recs: recs, done: make(chan struct{})})
}

// AppendSync appends as Append does, and acknowledges only once the
// records are synced, also in a log that syncs at SyncInterval: for the
// records a power failure must not take back even there (a raft
// replica's vote and term).
func (w *WAL) AppendSync(recs ...[]byte) (uint64, error) {
	return w.append(&appendReq{recs: recs, sync: true, done: make(chan struct{})})
}

// AppendAsync appends as AppendSync (sync) or Append does, without
// waiting: done is called once with what those would return, from the
// log's writer goroutine or, for an append refused at once, from the
// caller's before AppendAsync returns. done must not block. Appends on
// chain, if not nil, are acknowledged in the order made, and fail from
// the first that fails on (see Chain).
func (w *WAL) AppendAsync(chain *Chain, sync bool, done func(last uint64, err error), recs ...[]byte) {
	w.appendAsync(&appendReq{recs: recs, sync: sync, notify: done, chain: chain})
}

// AppendAsyncOffPath is AppendAsync for an append off its commits'
// critical path, such as a raft leader's own small write, which its
// followers' acknowledgements commit as soon: a batch of only such
// appends syncs without holding a processor where the log's file can
// (SyncOffPath), and leaves the plain syncs to the writes that commits
// wait for.
func (w *WAL) AppendAsyncOffPath(chain *Chain, sync bool, done func(last uint64, err error), recs ...[]byte) {
	w.appendAsync(&appendReq{recs: recs, sync: sync, notify: done, chain: chain, offPath: true})
}

func (w *WAL) appendAsync(req *appendReq) {
	if err := w.enqueue(req); err != nil {
		req.notify(0, err)
	}
}

func (w *WAL) append(req *appendReq) (uint64, error) {
	if err := w.enqueue(req); err != nil {
		return 0, err
	}
	<-req.done
	return req.last, req.err
}

// enqueue queues req for the writer, or says why the log refuses it.
func (w *WAL) enqueue(req *appendReq) error {
	for _, r := range req.recs {
		if len(r) > w.opts.MaxRecord {
			err := fmt.Errorf("persist: record of %d bytes exceeds %d", len(r), w.opts.MaxRecord)
			w.mu.Lock()
			w.failChain(req, err)
			w.mu.Unlock()
			return err
		}
	}
	w.mu.Lock()
	err := ErrClosed
	if !w.closed {
		err = w.failed
	}
	if err == nil && req.chain != nil {
		err = req.chain.err
	}
	if err != nil {
		w.failChain(req, err)
		w.mu.Unlock()
		return err
	}
	w.queue = append(w.queue, req)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// failChain notes req's failure on its chain. The caller holds w.mu.
func (w *WAL) failChain(req *appendReq, err error) {
	if req.chain != nil && req.chain.err == nil {
		req.chain.err = err
	}
}

// dropFailedChains fails the appends of batch whose chain failed before,
// and returns the rest.
func (w *WAL) dropFailedChains(batch []*appendReq) []*appendReq {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, r := range batch {
		if r.chain != nil && r.chain.err != nil {
			r.err = r.chain.err
			r.finish()
			continue
		}
		batch[n] = r
		n++
	}
	return batch[:n]
}

// writer writes and syncs what is queued, in batches, until Close.
// keepBuf is the largest write buffer the writer keeps between batches.
const keepBuf = 1 << 20

func (w *WAL) writer() {
	defer close(w.done)
	var tick <-chan time.Time
	if w.opts.SyncInterval > 0 {
		t := time.NewTicker(w.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	var buf []byte
	for {
		select {
		case <-w.wake:
		case <-tick:
			if w.next != w.syncedNext && w.stopped() == nil {
				w.sync() // a failure stops the log, which says so
			}
			continue
		}
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		closed := w.closed
		w.mu.Unlock()
		if len(batch) > 0 {
			buf = w.writeBatch(batch, buf[:0])
			if cap(buf) > keepBuf {
				buf = nil // a large batch's buffer is not kept for the small ones
			}
		}
		if closed {
			w.mu.Lock()
			rest := w.queue
			w.queue = nil
			w.mu.Unlock()
			for _, r := range rest {
				r.err = ErrClosed
				r.finish()
			}
			if w.next != w.syncedNext && w.stopped() == nil {
				w.sync()
			}
			if err := w.seg.Close(); err != nil {
				w.closeErr = fmt.Errorf("persist: write-ahead log: close: %w", err)
			}
			return
		}
	}
}

// writeBatch writes a batch of appends with one write and one sync, and
// acknowledges them, or fails every one.
func (w *WAL) writeBatch(batch []*appendReq, buf []byte) []byte {
	fail := func(err error) []byte {
		w.mu.Lock()
		for _, r := range batch {
			w.failChain(r, err)
		}
		w.mu.Unlock()
		for _, r := range batch {
			r.err, r.last = err, 0
			r.finish()
		}
		return buf
	}
	if batch = w.dropFailedChains(batch); len(batch) == 0 {
		return buf
	}
	if err := w.stopped(); err != nil {
		return fail(err)
	}
	if w.segSize >= w.opts.SegmentBytes || w.unmarked {
		w.rotate()
		if err := w.stopped(); err != nil {
			return fail(err)
		}
	}
	seq := w.next
	records := 0
	if w.segSize == 0 {
		// The segment's first batch (or the first after a failed one
		// was cut off) starts it with its header.
		buf = append(buf, segmentMagic...)
	}
	for _, r := range batch {
		for _, rec := range r.recs {
			// Marked if nothing unsynced precedes it (what replay found
			// was written, perhaps not synced, by the process before).
			buf = appendFrameMark(buf, seq, rec, seq == w.syncedNext && !w.replayed)
			seq++
			records++
		}
		r.last = seq - 1
	}
	if err := w.write(buf, seq); err != nil {
		return fail(err)
	}
	if w.opts.SyncInterval <= 0 || slices.ContainsFunc(batch, func(r *appendReq) bool { return r.sync }) {
		off := !slices.ContainsFunc(batch, func(r *appendReq) bool { return !r.offPath })
		if err := w.syncAs(off); err != nil {
			return fail(err)
		}
	}
	w.mu.Lock()
	w.stats.Appends += uint64(len(batch))
	w.stats.Records += uint64(records)
	w.stats.Acked = w.next
	w.mu.Unlock()
	for _, r := range batch {
		r.finish()
	}
	return buf
}

// write appends buf, the frames of the records up to next, to the
// segment. A failed write is cut off; if the cut fails, the segment is
// sealed where buf began, once what precedes it is synced.
func (w *WAL) write(buf []byte, next uint64) error {
	// The records first, then the zeros after them: a segment's first
	// write puts its header first in the file, as a torn write leaves it.
	n, err := w.seg.WriteAt(buf, w.segSize)
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = w.preallocate(w.segSize + int64(len(buf)))
	}
	if err == nil {
		w.segSize += int64(len(buf))
		w.alloc = max(w.alloc, w.segSize)
		w.next = next
		return nil
	}
	err = fileErr("persist: write-ahead log: ", "write", w.segName(), err)
	terr := w.seg.Truncate(w.segSize)
	if terr == nil {
		w.alloc = w.segSize
		return err
	}
	w.log.Error("write-ahead log: cannot cut back a failed write; sealing the segment", "err", err, "cut", terr)
	// As in rotate: what precedes the new segment is synced first.
	if w.next != w.syncedNext || w.replayed {
		if serr := w.sync(); serr != nil {
			return errors.Join(err, serr)
		}
	}
	if serr := w.seal(w.next); serr != nil {
		return w.stop(fmt.Errorf("%w; cut back: %w; seal: %w", err, terr, serr))
	}
	return err
}

// zeros is what preallocate writes.
var zeros [256 << 10]byte

// preallocate zero-fills the segment past need, the end of the write just
// made, by Preallocate bytes, up to SegmentBytes, if what it filled before
// ends short of need. The sync that follows makes the zeros durable with
// the write; the syncs after it have only data to flush.
//
// The zeros only make syncs cheaper: a disk too full for them is no
// failure of the write, whose records are in place. The segment then
// ends where the zeros that fitted end, and the next write tries again.
// Before, a disk with less free space than Preallocate (1 MiB) took no
// record at all, however small.
func (w *WAL) preallocate(need int64) error {
	if need <= w.alloc || w.opts.Preallocate < 0 || w.unmarked {
		return nil
	}
	to := min(need+w.opts.Preallocate, max(need, w.opts.SegmentBytes))
	for off := max(w.alloc, need); off < to; {
		n, err := w.seg.WriteAt(zeros[:min(int64(len(zeros)), to-off)], off)
		off += int64(max(n, 0))
		if errors.Is(err, syscall.ENOSPC) {
			w.alloc = off
			return nil
		}
		if err != nil {
			return err
		}
	}
	w.alloc = to
	return nil
}

// sync makes the segment durable. A failure is final for the segment:
// what was written since its last good sync is sealed off, and the log
// stops if that had been acknowledged.
func (w *WAL) sync() error { return w.syncAs(false) }

// syncAs is sync, through the segment's SyncOffPath when off is set and
// it has one: that sync does not hold a processor, so it needs no yield.
func (w *WAL) syncAs(off bool) error {
	// A goroutine blocked in fsync keeps its processor (P) until the
	// runtime's monitor takes it back, and the goroutines queued on that
	// P (those the batch's appenders and the heap loops just woke) wait
	// with it: 132 µs a hand-off in the peer benchmark, where three
	// members' logs sync at once on two processors. Yielding first lets
	// them run, or move to another P, before the sync blocks.
	var err error
	if s, ok := w.seg.(offPathSyncer); ok && off {
		err = s.SyncOffPath()
	} else {
		runtime.Gosched()
		err = w.seg.Sync()
	}
	if err != nil {
		err = fileErr("persist: write-ahead log: ", "sync", w.segName(), err)
		lost := w.next - w.syncedNext
		if serr := w.seal(w.syncedNext); serr != nil {
			return w.stop(fmt.Errorf("%w; seal: %w", err, serr))
		}
		if w.opts.SyncInterval > 0 && lost > 0 {
			return w.stop(fmt.Errorf("%w; records acknowledged since the last good sync are lost: %d", err, lost))
		}
		return err
	}
	if err := w.inPlace(); err != nil {
		return w.halt(fmt.Errorf("%w: %w: %w; it writes nothing more", ErrFailed, ErrGone, err))
	}
	w.synced, w.syncedNext, w.replayed = w.segSize, w.next, false
	w.mu.Lock()
	w.stats.Syncs++
	w.stats.Durable = w.next
	w.mu.Unlock()
	return nil
}

// inPlace checks, after a sync, that the segment being written is still
// where the next open will look for it. A segment removed (with its
// directory, or alone), renamed, or whose directory was moved away or
// replaced, while the log runs takes writes and syncs as before, on a
// file no restart finds: the log would acknowledge records a restart
// does not have. Such a log is gone: the log stops (the appends the sync
// covered fail, with ErrFailed), and leaves the mark lostMark in its
// directory, if it can, so that the next open refuses the log that
// remains there rather than replay it as a log that ended where the
// segment before ended. The segment's name is looked up after every
// sync and must still be the file the log writes (same device and
// inode); its link count only words the error. On Linux neither look
// reads the file's times (fs_linux.go): a few microseconds a sync
// (docs/design.md, "A log that is gone while the node runs").
func (w *WAL) inPlace() error {
	p, ok := w.seg.(PlacedFile)
	if !ok {
		return nil
	}
	named, err := p.Named(w.segName())
	if err == nil && named {
		return nil
	}
	how := "was removed or renamed, or its directory moved away or replaced"
	if err == nil {
		if linked, lerr := p.Linked(); lerr == nil && !linked {
			how = "was removed"
		}
		err = fs.ErrNotExist
	}
	err = fmt.Errorf("segment %s is no longer in %s (it %s while the log ran?), and what was synced to it is in no file a restart reads: %w", w.segName(), w.dir, how, err)
	w.markLost(err)
	return err
}

// lostMark names the file a log that found its segment gone leaves in
// its directory (inPlace), which OpenWAL refuses.
const lostMark = "LOST"

// markLost writes the mark of a log that is gone, saying why, into the
// log's directory: written, synced, renamed into place, the directory
// synced. A directory that is gone takes no mark, and needs none: a
// restart finds no segment there.
func (w *WAL) markLost(why error) {
	if err := w.writeMark(lostMark, why.Error()); err != nil {
		w.log.Warn("write-ahead log: cannot mark the log as gone in its directory", "dir", w.dir, "err", err)
	}
}

// writeMark writes a mark file of the log's directory whole: written,
// synced, renamed into place, the directory synced.
func (w *WAL) writeMark(name, text string) error {
	path, tmp := join(w.dir, name), join(w.dir, name+tempSuffix)
	f, err := w.fs.Create(tmp)
	if err == nil {
		_, err = f.Write([]byte(text + "\n"))
		if err == nil {
			err = f.Sync()
		}
		err = errors.Join(err, f.Close())
	}
	if err == nil {
		err = w.fs.Rename(tmp, path)
	}
	if err == nil {
		err = w.fs.SyncDir(w.dir)
	}
	if err != nil {
		w.fs.Remove(tmp)
	}
	return err
}

// tailMark names the file that names the log's last segment. A segment
// removed while the log was not running leaves a log that reads whole,
// ending where the segment before ended, as a crash before that segment
// was created would; without the mark, a restart took the log as it was
// and lost what the segment held without a word. The mark is written
// once a new segment's name is durable, so a crash between the two
// leaves the mark naming the segment before, which is no loss, and a
// mark naming a segment that is not there means the segment was
// removed. A mark that cannot be written or read (an I/O error) is only
// a check missed: the log goes on without it. A mark that reads but
// does not check out is damage (readTail).
//
// The mark is one line, the segment's name and the CRC-32C of the name
// in hex, as the stripes' identities are (tailText). A mark of the form
// before the checksum, the name alone, is read and written again with
// its checksum at the open.
const tailMark = "TAIL"

// tailText is the mark that names the segment whose first record is
// first.
func tailText(first uint64) string {
	name := segmentName(first)
	return fmt.Sprintf("%s %08x", name, crc32.Checksum([]byte(name), castagnoli))
}

// markTail makes TAIL name the segment whose first record is first.
func (w *WAL) markTail(first uint64) {
	if err := w.writeMark(tailMark, tailText(first)); err != nil {
		w.log.Warn("write-ahead log: cannot mark its last segment; a removal of it while the node is stopped will not be told at the next start", "dir", w.dir, "err", err)
		return
	}
	w.tail, w.tailOld = first, false
}

// readTail returns the first record of the segment TAIL names (0 if it
// cannot be read), and old if the mark is of the form without a
// checksum. A mark that is neither form whole (damaged, cut short,
// empty: the mark is put in place synced and whole, so no crash leaves
// it so) is a *CorruptError naming the file: taken as it reads, a
// damaged name would send the check after another segment, and a mark
// set aside in silence would miss the removal it is there to tell.
func (w *WAL) readTail() (first uint64, old bool, err error) {
	path := join(w.dir, tailMark)
	f, err := w.fs.Open(path)
	if err != nil {
		w.log.Warn("write-ahead log: cannot read the mark of its last segment", "dir", w.dir, "err", err)
		return 0, false, nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		w.log.Warn("write-ahead log: cannot read the mark of its last segment", "dir", w.dir, "err", err)
		return 0, false, nil
	}
	text, _ := strings.CutSuffix(string(b), "\n")
	name, _, _ := strings.Cut(text, " ")
	if first, ok := parseSegmentName(name); ok && len(b) > len(text) {
		switch text {
		case tailText(first):
			return first, false, nil
		case name:
			return first, true, nil
		}
	}
	return 0, false, &CorruptError{File: path, Reason: fmt.Sprintf("the mark of the log's last segment is damaged (%q, want a segment's name and its checksum); "+
		"the segments are not read until it is mended: if the last segment in %s is the log's last, remove %s and the log opens and marks it again", b, w.dir, path)}
}

// tailGone returns a *CorruptError if the segment TAIL names, the last
// the log started, is gone: no segment starts at or after its first
// record.
func (w *WAL) tailGone() error {
	if w.tail == 0 {
		return nil
	}
	if n := len(w.segments); n > 0 && w.segments[n-1].first >= w.tail {
		return nil
	}
	last := "none is left"
	if n := len(w.segments); n > 0 {
		last = "the last left is " + w.segments[n-1].name
	}
	return &CorruptError{File: join(w.dir, segmentName(w.tail)),
		Reason: fmt.Sprintf("the log's last segment is gone: %s names it, and %s; the records it held are lost", join(w.dir, tailMark), last)}
}

// offPathSyncer is a File that can sync without holding a processor.
type offPathSyncer interface{ SyncOffPath() error }

// seal ends the segment being written before record at (every record
// before it is durable) by starting the next segment there.
func (w *WAL) seal(at uint64) error {
	f, _, err := w.newSegment(at)
	if err != nil {
		return fmt.Errorf("new segment %s: %w", segmentName(at), err)
	}
	w.log.Warn("write-ahead log: sealed a segment after a failure; what it holds from this record on is never read", "file", w.segName(), "record", at)
	w.switchTo(f, at)
	w.mu.Lock()
	w.stats.Seals++
	w.mu.Unlock()
	return nil
}

// stop makes the log fail every later call with err, which it returns
// wrapped in ErrFailed.
func (w *WAL) stop(err error) error {
	return w.halt(fmt.Errorf("%w: %w; it writes nothing more, and opened again it holds every record synced before", ErrFailed, err))
}

// halt makes the log fail every later call with err, which matches
// ErrFailed, and returns it.
func (w *WAL) halt(err error) error {
	w.mu.Lock()
	if w.failed == nil {
		w.failed = err
		w.log.Error("write-ahead log stopped", "err", err)
	}
	err = w.failed
	w.mu.Unlock()
	return err
}

// stopped returns why the log stopped, or nil.
func (w *WAL) stopped() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// Failed returns why the log stopped, matching ErrFailed, or nil while
// it takes appends.
func (w *WAL) Failed() error { return w.stopped() }

// segName names the segment being written.
func (w *WAL) segName() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return join(w.dir, w.segments[len(w.segments)-1].name)
}

// Stats returns the log's counters.
func (w *WAL) Stats() WALStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// SegmentStarts returns the first record of each of the log's segments,
// oldest first; the last is the segment being written.
func (w *WAL) SegmentStarts() []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]uint64, len(w.segments))
	for i, s := range w.segments {
		out[i] = s.first
	}
	return out
}

// TruncateBefore removes the segments all of whose records precede seq.
// The segment being written stays.
func (w *WAL) TruncateBefore(seq uint64) error {
	w.mu.Lock()
	var drop []segment
	for len(w.segments) > 1 && w.segments[1].first <= seq {
		drop = append(drop, w.segments[0])
		w.segments = w.segments[1:]
	}
	w.mu.Unlock()
	for _, s := range drop {
		if err := w.fs.Remove(join(w.dir, s.name)); err != nil {
			return fmt.Errorf("persist: %w", err)
		}
	}
	if len(drop) > 0 {
		return w.fs.SyncDir(w.dir)
	}
	return nil
}

// Close writes and syncs what is queued and stops the writer. It returns
// why the log stopped, if it did, and what the final sync or the close of
// the segment failed with.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
	return errors.Join(w.stopped(), w.closeErr)
}
