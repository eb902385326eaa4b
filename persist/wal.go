package persist

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A WAL record on disk is a frame:
//
//	length  uint32  bytes of payload
//	crc     uint32  CRC-32C of seq and payload
//	seq     uint64  the record's sequence number, one more than the last
//	payload [length]byte
//
// Segment files are named by the sequence number of their first record,
// in hex, with the suffix ".wal".
const (
	frameHeader   = 16
	segmentSuffix = ".wal"
	// MaxRecord caps a record's payload.
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
	// Progress, if not nil, is told the bytes replayed so far and in all,
	// after each segment.
	Progress func(done, total int64)
}

// WAL is a write-ahead log of opaque records, appended by any number of
// goroutines: appends that arrive while a sync is under way are written
// and synced together (group commit).
type WAL struct {
	fs   FS
	dir  string
	opts WALOptions
	log  *slog.Logger

	mu       sync.Mutex // protects following fields
	queue    []*appendReq
	segments []segment // oldest first; the last is being written
	closed   bool
	stats    WALStats

	wake chan struct{}
	done chan struct{}

	// Owned by the writer goroutine.
	seg     File
	segSize int64
	next    uint64 // sequence number of the next record
	dirty   bool   // written since the last sync
	synced  int64  // size of the segment as of its last sync
}

type segment struct {
	first uint64
	name  string
}

type appendReq struct {
	recs [][]byte
	last uint64
	err  error
	done chan struct{}
}

// WALStats count a log's work.
type WALStats struct {
	Appends uint64 // Append calls acknowledged
	Records uint64
	Syncs   uint64
}

// CorruptError reports a damaged record that is not a torn last write: the
// log refuses to open.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("persist: %s is corrupt at offset %d: %s", e.File, e.Offset, e.Reason)
}

// ErrClosed is returned by a closed log.
var ErrClosed = errors.New("persist: closed")

// OpenWAL opens the log in dir, creating it if needed. It first replays
// every record in order through replay (which may be nil); a record's
// bytes are valid only during the call (segments are read in pieces into
// a buffer the records share), so replay copies what it keeps. A torn last
// record, from a write a crash interrupted, is cut off; any other damage
// fails with a *CorruptError naming the file and offset.
func OpenWAL(fsys FS, dir string, opts WALOptions, replay func(seq uint64, rec []byte) error) (*WAL, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := fsys.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("persist: %w", err)
	}
	w := &WAL{fs: fsys, dir: dir, opts: opts, log: opts.Logger, wake: make(chan struct{}, 1), done: make(chan struct{}), next: 1}
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("persist: %w", err)
	}
	for _, name := range names {
		first, ok := parseSegmentName(name)
		if !ok {
			continue
		}
		w.segments = append(w.segments, segment{first: first, name: name})
	}
	var total, done int64
	for _, s := range w.segments {
		if f, err := fsys.Open(join(dir, s.name)); err == nil {
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
			return nil, &CorruptError{File: join(dir, s.name), Reason: fmt.Sprintf("starts at record %d, want %d (a segment is missing)", s.first, w.next)}
		}
		n, err := w.replaySegment(s, i == len(w.segments)-1, replay)
		if err != nil {
			return nil, err
		}
		if done += n; opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	if n := len(w.segments); n > 0 {
		s := w.segments[n-1]
		f, err := fsys.OpenAppend(join(dir, s.name))
		if err != nil {
			return nil, fmt.Errorf("persist: %w", err)
		}
		size, err := f.Size()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("persist: %w", err)
		}
		w.seg, w.segSize, w.synced = f, size, size
	} else if err := w.startSegment(); err != nil {
		return nil, err
	}
	go w.writer()
	return w, nil
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

// replaySegment reads one segment. In the last one, a bad frame that runs
// to the end of the file is a torn write and is cut off.
func (w *WAL) replaySegment(s segment, last bool, replay func(uint64, []byte) error) (int64, error) {
	n, err := w.replayData(s, last, replay)
	return int64(n), err
}

func (w *WAL) replayData(s segment, last bool, replay func(uint64, []byte) error) (int, error) {
	path := join(w.dir, s.name)
	f, err := w.fs.Open(path)
	if err != nil {
		return 0, fmt.Errorf("persist: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0, fmt.Errorf("persist: read %s: %w", path, err)
	}
	// The segment is read in pieces, one record at a time, into a buffer
	// the records share: memory holds a piece and the largest record,
	// never the segment.
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), replayPiece)
	var buf []byte
	var off int64
	for off < size {
		seq, payload, n, reason, err := readFrame(r, size-off, &buf)
		if err != nil {
			return 0, fmt.Errorf("persist: read %s: %w", path, err)
		}
		if reason == "" && seq != w.next {
			reason = fmt.Sprintf("record %d where %d was due", seq, w.next)
		}
		if reason != "" {
			if last && tornTail(buf, size-off) {
				w.log.Warn("write-ahead log: cutting off a torn last record", "file", path, "offset", off, "bytes", size-off, "reason", reason)
				return int(size), w.truncate(path, off)
			}
			return 0, &CorruptError{File: path, Offset: off, Reason: reason}
		}
		if replay != nil {
			if err := replay(seq, payload); err != nil {
				return 0, fmt.Errorf("persist: %s at offset %d: %w", path, off, err)
			}
		}
		w.next++
		off += int64(n)
	}
	return int(size), nil
}

// replayPiece is the size of the reads that replay a segment.
const replayPiece = 1 << 20

// readFrame reads the frame at the start of r, which has rest bytes left,
// into *buf (grown as needed, shared by the frames of a segment). It
// returns the frame's size, or why it is not a frame; buf then holds what
// was read of it. err is an error of the reader alone.
func readFrame(r *bufio.Reader, rest int64, buf *[]byte) (seq uint64, payload []byte, size int, reason string, err error) {
	b := (*buf)[:0]
	if rest < frameHeader {
		b = slices.Grow(b, int(rest))[:rest]
		if _, err := io.ReadFull(r, b); err != nil {
			return 0, nil, 0, "", err
		}
		*buf = b
		return 0, nil, 0, "short frame header", nil
	}
	b = slices.Grow(b, frameHeader)[:frameHeader]
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, 0, "", err
	}
	*buf = b
	n := int64(binary.LittleEndian.Uint32(b[0:4]))
	if n > MaxRecord {
		return 0, nil, 0, fmt.Sprintf("record length %d exceeds %d", n, MaxRecord), nil
	}
	if rest < frameHeader+n {
		return 0, nil, 0, "short record", nil
	}
	b = slices.Grow(b, int(n))[:frameHeader+n]
	if _, err := io.ReadFull(r, b[frameHeader:]); err != nil {
		return 0, nil, 0, "", err
	}
	*buf = b
	seq, payload, size, reason = decodeFrame(b)
	// The caller sees the record alone, not the room after it.
	return seq, payload[:len(payload):len(payload)], size, reason, nil
}

// tornTail reports whether a bad frame, whose first bytes are b, is the
// last thing in the file, which has rest bytes from it on: what an
// interrupted write leaves. A frame whose declared length runs past the
// end, or whose end is the end of the file, is.
func tornTail(b []byte, rest int64) bool {
	if len(b) < frameHeader {
		return true
	}
	n := int64(binary.LittleEndian.Uint32(b[0:4]))
	return n > MaxRecord || frameHeader+n >= rest
}

func (w *WAL) truncate(path string, size int64) error {
	f, err := w.fs.OpenAppend(path)
	if err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("persist: truncate %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("persist: sync %s: %w", path, err)
	}
	return nil
}

// decodeFrame decodes the frame at the start of b, returning its size, or
// why it is not a frame.
func decodeFrame(b []byte) (seq uint64, payload []byte, size int, reason string) {
	if len(b) < frameHeader {
		return 0, nil, 0, "short frame header"
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if n > MaxRecord {
		return 0, nil, 0, fmt.Sprintf("record length %d exceeds %d", n, MaxRecord)
	}
	if len(b) < frameHeader+int(n) {
		return 0, nil, 0, "short record"
	}
	crc := binary.LittleEndian.Uint32(b[4:8])
	if got := crc32.Checksum(b[8:frameHeader+int(n)], castagnoli); got != crc {
		return 0, nil, 0, fmt.Sprintf("checksum %08x, want %08x", got, crc)
	}
	return binary.LittleEndian.Uint64(b[8:16]), b[frameHeader : frameHeader+int(n)], frameHeader + int(n), ""
}

func appendFrame(dst []byte, seq uint64, payload []byte) []byte {
	var h [frameHeader]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:16], seq)
	crc := crc32.Update(crc32.Checksum(h[8:16], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:8], crc)
	return append(append(dst, h[:]...), payload...)
}

// startSegment begins a new segment file at w.next, durably named.
func (w *WAL) startSegment() error {
	name := segmentName(w.next)
	f, err := w.fs.Create(join(w.dir, name))
	if err != nil {
		return fmt.Errorf("persist: new segment: %w", err)
	}
	if err := w.fs.SyncDir(w.dir); err != nil {
		f.Close()
		return fmt.Errorf("persist: new segment: %w", err)
	}
	if w.seg != nil {
		w.seg.Close()
	}
	w.seg, w.segSize, w.synced = f, 0, 0
	w.mu.Lock()
	w.segments = append(w.segments, segment{first: w.next, name: name})
	w.mu.Unlock()
	return nil
}

// Append adds records to the log and returns the sequence number of the
// last, once they are durable (or written, with SyncInterval). An error
// means none of them is in the log.
func (w *WAL) Append(recs ...[]byte) (uint64, error) {
	for _, r := range recs {
		if len(r) > MaxRecord {
			return 0, fmt.Errorf("persist: record of %d bytes exceeds %d", len(r), MaxRecord)
		}
	}
	req := &appendReq{recs: recs, done: make(chan struct{})}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return 0, ErrClosed
	}
	w.queue = append(w.queue, req)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-req.done
	return req.last, req.err
}

// writer writes and syncs what is queued, in batches, until Close.
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
			if w.dirty {
				if err := w.sync(); err != nil {
					w.log.Error("write-ahead log: sync", "err", err)
				}
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
		}
		if closed {
			w.mu.Lock()
			rest := w.queue
			w.queue = nil
			w.mu.Unlock()
			for _, r := range rest {
				r.err = ErrClosed
				close(r.done)
			}
			if w.dirty {
				w.sync()
			}
			w.seg.Close()
			return
		}
	}
}

// writeBatch writes a batch of appends with one write and one sync. On a
// failure it cuts the segment back to where the batch began, so nothing
// half-written stays, and fails every append of the batch.
func (w *WAL) writeBatch(batch []*appendReq, buf []byte) []byte {
	if w.segSize >= w.opts.SegmentBytes {
		if err := w.sync(); err == nil {
			if err := w.startSegment(); err != nil {
				w.log.Error("write-ahead log: rotate", "err", err)
			}
		}
	}
	seq := w.next
	records := 0
	for _, r := range batch {
		for _, rec := range r.recs {
			buf = appendFrame(buf, seq, rec)
			seq++
			records++
		}
		r.last = seq - 1
	}
	err := w.write(buf)
	if err == nil && w.opts.SyncInterval <= 0 {
		err = w.sync()
	}
	if err != nil {
		for _, r := range batch {
			r.err, r.last = err, 0
			close(r.done)
		}
		return buf
	}
	w.next = seq
	w.mu.Lock()
	w.stats.Appends += uint64(len(batch))
	w.stats.Records += uint64(records)
	w.mu.Unlock()
	for _, r := range batch {
		close(r.done)
	}
	return buf
}

func (w *WAL) write(buf []byte) error {
	before := w.segSize
	n, err := w.seg.Write(buf)
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.undo(before)
		return fmt.Errorf("persist: write-ahead log: %w", err)
	}
	w.segSize += int64(n)
	w.dirty = true
	return nil
}

func (w *WAL) sync() error {
	if err := w.seg.Sync(); err != nil {
		// What the failed sync covered is in doubt: cut it off. The next
		// batch writes it again if its callers retry.
		w.undo(w.syncedSize())
		return fmt.Errorf("persist: write-ahead log: sync: %w", err)
	}
	w.dirty = false
	w.synced = w.segSize
	w.mu.Lock()
	w.stats.Syncs++
	w.mu.Unlock()
	return nil
}

func (w *WAL) syncedSize() int64 { return w.synced }

// undo cuts the current segment back to size after a failed write or
// sync, so that nothing half-written is ever read back.
func (w *WAL) undo(size int64) {
	if err := w.seg.Truncate(size); err != nil {
		w.log.Error("write-ahead log: cannot cut back a failed write; starting a new segment", "err", err)
	}
	w.segSize = size
	w.dirty = false
}

// Stats returns the log's counters.
func (w *WAL) Stats() WALStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
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

// Close writes and syncs what is queued and stops the writer.
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
	return nil
}
